"""Support staff use the reconciliation console (its admin) in a real, headless browser."""

import os
import re

import pytest
from playwright.sync_api import Page, expect

from tests.stack.browser import admin_login, admin_submit_login
from tests.stack.client import stock
from tests.stack.conftest import ROOT, ctl, service_url, wait_until
from tests.stack.test_reconciliation import (
    NON_STAFF_PASSWORD,
    closed,
    declined_order,
    detected,
    divergences,
    non_staff_user,
    sql,
)

# Django's message for a failed admin login (django.contrib.admin.forms.AdminAuthenticationForm).
# The label the admin shows for a divergence support resolved (reconciliation.models.Divergence.Status).
RESOLVED_LABEL = "Resolved"
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


# The advisory lock a sweep holds while it runs (reconciliation/services/sweep.py SWEEP_LOCK).
SWEEP_LOCK = 7_160_001


@pytest.fixture
def held_reservations_fixed_by_hand():
    """Support fixes stock held for ended orders by hand, for this test (the default is automatic),
    and no scheduled sweep runs meanwhile: one that read the policies before the change would
    fix the test's divergence itself (beat runs a sweep at once when it starts, as after make up)."""
    ctl("stop", "app:beat-reconciliation", "app:celery-reconciliation")
    sql("reconciliation", "SELECT pg_advisory_lock(%s), pg_advisory_unlock(%s)", SWEEP_LOCK, SWEEP_LOCK)
    sql(
        "reconciliation",
        "UPDATE reconciliation_rulepolicy SET automatic = false WHERE kind = 'held_for_ended_order'",
    )
    yield
    sql(
        "reconciliation",
        "UPDATE reconciliation_rulepolicy SET automatic = true WHERE kind = 'held_for_ended_order'",
    )
    ctl("start", "app:beat-reconciliation", "app:celery-reconciliation")


def test_support_finds_a_divergence_applies_its_fix_and_sees_it_resolved(
    page: Page, held_reservations_fixed_by_hand
):
    # given stock still held for a declined order, found by a sweep
    sku, order_id = declined_order(quantity=2, stock_on_hand=5)
    sql("inventory", "UPDATE inventory_reservation SET status = 'held' WHERE order_id = %s", order_id)
    sql("inventory", "UPDATE inventory_product SET reserved_quantity = 2 WHERE sku = %s", sku)
    detected(order_id, "held_for_ended_order")
    base_url = service_url("reconciliation")

    # when support finds it in the console and applies its suggested fix
    admin_login(page, base_url, *staff_login())
    page.get_by_role("link", name="Divergences").first.click()
    page.locator("#changelist-filter").get_by_role("link", name=re.compile(r"^open", re.IGNORECASE)).click()
    page.locator("#searchbar").fill(order_id)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=f"order {order_id}").click()
    expect(page.locator(".side-by-side")).to_contain_text("held")
    page.locator(".divergence-actions select").select_option("apply_suggested_fix")
    page.locator(".divergence-actions").get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("fix sent")

    # then inventory releases the stock, and the next audit shows the divergence resolved
    wait_until(lambda: stock(sku) == (5, 0), timeout=30, message="inventory to release the stock")
    [divergence] = divergences(order_id)
    closed(divergence["id"], order_id)  # sweeps until the release is auditable and confirmed
    page.get_by_role("link", name=f"order {order_id}").click()
    # Resolved, not auto-resolved: a person sent the fix.
    expect(page.locator(".field-status .readonly")).to_have_text(RESOLVED_LABEL)
    page.screenshot(path=str(ROOT / "var" / "log" / "divergence-resolved.png"), full_page=True)
    expect(page.locator("#actions-group, .inline-group")).to_contain_text("audit confirmed it gone")


def test_the_overview_page_shows_each_services_lag_and_backlog(page: Page):
    base_url = service_url("reconciliation")
    admin_login(page, base_url, *staff_login())

    page.goto(f"{base_url}/admin/reconciliation/divergence/")
    page.get_by_role("link", name="Overview").click()

    expect(page.get_by_role("heading", name="Services now")).to_be_visible()
    for service in ("orders", "inventory", "payments", "reconciliation"):
        expect(page.get_by_role("cell", name=service, exact=True)).to_be_visible()
    expect(page.locator(".chart svg")).to_have_count(2)


def test_a_user_who_is_not_staff_cannot_log_into_the_console(page: Page):
    base_url = service_url("reconciliation")
    username, _ = non_staff_user()

    admin_submit_login(page, base_url, username, NON_STAFF_PASSWORD)

    expect(page.locator(".errornote")).to_contain_text(INVALID_LOGIN)
    page.goto(f"{base_url}/admin/reconciliation/divergence/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
