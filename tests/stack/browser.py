"""Browser tests of the running stack: Playwright driving Debian's Chromium, headless.

Playwright's own browser downloads (`playwright install`) are never used: the browser is the
`chromium` package `make up` installs (stack/scripts/system-packages.sh). The fixtures are
registered for tests/stack in its conftest.py; a test asks for `page` (a fresh browser context
each time, so no cookies leak between tests) and drives it with Playwright's auto-waiting
`expect`, never with sleeps.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

# The real binary of Debian's chromium package. /usr/bin/chromium is a shell wrapper that adds
# the desktop's flags from /etc/chromium.d (extensions, GPU rasterisation); tests want none of them.
CHROMIUM = Path("/usr/lib/chromium/chromium")
# How long a Playwright action or `expect` waits before failing the test, in milliseconds.
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed ({CHROMIUM} is missing): `make up` installs Debian's "
            "chromium package, or run `apt-get install chromium`"
        )
    with sync_playwright() as playwright:
        # Without the sandbox: Chromium cannot set one up as root in a container. With it off,
        # Playwright passes --no-sandbox (and always --disable-dev-shm-usage, for a small /dev/shm).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, chromium_sandbox=False)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page in a browser context of its own: no cookies or storage from other tests."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


def admin_submit_login(page: Page, base_url: str, username: str, password: str) -> None:
    """Open the Django admin's login page at `base_url`, fill in its form and send it."""
    page.goto(f"{base_url}/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def admin_login(page: Page, base_url: str, username: str, password: str) -> None:
    """Log into the Django admin at `base_url` through its login form; assert it lands on the index."""
    admin_submit_login(page, base_url, username, password)

    expect(page, "the admin login should lead to the admin index").to_have_url(f"{base_url}/admin/")
    expect(page.get_by_role("heading", name="Site administration", exact=True)).to_be_visible()
