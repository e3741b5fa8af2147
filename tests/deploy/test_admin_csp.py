"""The admin works in a real browser under the production content security policy: no
violation is reported on the pages a person uses, and logging in works."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from apps.accounts.models import User
from tests.deploy.test_production_settings import production_env, static_root  # noqa: F401
from tests.resilience.servers import current_database_url, processes, web_server, workdir  # noqa: F401

pytestmark = [pytest.mark.servers, pytest.mark.timeout(180)]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ADMIN_PAGES = (
    "/admin/",
    "/admin/accounts/user/",
    "/admin/accounts/user/add/",
    "/admin/password_change/",
    "/admin/inventory/stocklevel/",
    "/admin/inventory/ledgerentry/",
    "/admin/inventory/reservation/",
    "/admin/inventory/transfer/add/",
    "/admin/catalog/product/add/",
    "/admin/reports/",
    "/admin/reports/as-of/",
)
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.mark.django_db(transaction=True)
def test_admin_pages_load_without_csp_violations(static_root, workdir, processes, settings):  # noqa: F811
    # A hash the production settings can verify (the test settings use a fast one).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    User.objects.create_superuser("ops-admin", "ops@example.com", "a-long-test-password-1")
    env = production_env(
        DJANGO_STATIC_ROOT=static_root,
        DJANGO_ALLOWED_HOSTS="localhost",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DATABASE_URL=current_database_url(),
        DJANGO_LOG_FORMAT="plain",
    )
    server, port = web_server(env, workdir)
    processes.append(server)
    base = f"http://localhost:{port}"

    console_violations: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.add_init_script(RECORD_VIOLATIONS)
            page.on(
                "console",
                lambda message: (
                    "Content Security Policy" in message.text
                    and console_violations.append(message.text)
                ),
            )
            page.goto(f"{base}/admin/login/")
            assert page.evaluate("window.__cspViolations") == []
            page.fill("#id_username", "ops-admin")
            page.fill("#id_password", "a-long-test-password-1")
            page.click("input[type=submit]")
            page.wait_for_url(f"{base}/admin/")
            assert page.locator("#user-tools").inner_text().upper().startswith("WELCOME")
            # Styles loaded from our origin were applied (not blocked).
            assert (
                page.evaluate("getComputedStyle(document.querySelector('#header')).display")
                == "flex"
            )
            for path in ADMIN_PAGES:
                response = page.goto(f"{base}{path}")
                assert response.status == 200, path
                assert page.evaluate("window.__cspViolations") == [], path
            # The changelist's JavaScript (loaded from 'self') runs: "select all" works.
            page.goto(f"{base}/admin/accounts/user/")
            page.check("#action-toggle")
            assert page.is_checked("input.action-select")
        finally:
            browser.close()
    assert console_violations == []
