"""A NUL character in a URL is refused before it can reach the database (config/middleware.py)."""

import pytest

from config.middleware import NUL_REFUSED

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/a%00b",  # in the path
        "/api/v1/anything?q=a%00b",  # in a parameter's value
        "/internal/v1/backlog?a%00=1",  # in a parameter's name
        "/admin/?q=%00",  # the admin too
    ],
)
def test_a_nul_character_anywhere_in_the_url_is_a_400_before_any_view(client, url):
    response = client.get(url)

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_REFUSED}
