"""Support staff log into the reconciliation service's admin in a real (headless) browser."""

import os
import re

from playwright.sync_api import Page, expect

from tests.stack.browser import admin_login, admin_submit_login
from tests.stack.conftest import service_url

# Django's message for a failed admin login (django.contrib.admin.forms.AdminAuthenticationForm).
INVALID_LOGIN = "Please enter the correct username and password for a staff account."


def staff_login() -> tuple[str, str]:
    """The local stack's admin (stack/bootstrap.py creates it in every service)."""
    return os.environ["OMS_ADMIN_USER"], os.environ["OMS_ADMIN_PASSWORD"]


def test_a_staff_user_logs_in_and_sees_the_admin_index(page: Page):
    # given
    base_url = service_url("reconciliation")
    username, password = staff_login()

    # when
    admin_login(page, base_url, username, password)

    # then
    expect(page).to_have_title("Site administration | reconciliation admin")
    expect(page.locator("#user-tools")).to_contain_text(f"Welcome, {username}")
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_a_wrong_password_shows_djangos_error_and_stays_on_the_login_page(page: Page):
    # given
    base_url = service_url("reconciliation")
    username, password = staff_login()

    # when
    admin_submit_login(page, base_url, username, f"not-{password}")

    # then
    expect(page.locator(".errornote")).to_contain_text(INVALID_LOGIN)
    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/admin/login/(\?.*)?$"))
    expect(page).to_have_title("Error: Log in | reconciliation admin")
    expect(page.get_by_label("Password")).to_be_empty()
