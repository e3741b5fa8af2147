"""The admin in a real browser (headless Chromium): stock work as a warehouse manager does it."""

from __future__ import annotations

import os
import re
import threading

import pytest
from django.db import connection

from apps.inventory.models import LedgerEntry, StockLevel
from apps.reports.services import import_read_waiting
from tests import factories
from tests.admin_helpers import Role, staff

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Chromium is not installed"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread for the module's duration;
    # the tests' own ORM calls (and the database flush between them) stay synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE")
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def log_in(page, user) -> None:
    page.goto("/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pw-for-tests-1")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


@pytest.fixture
def manager_setup(merchant, product, location):
    manager = staff(merchant, Role.MANAGER, locations=[location])
    return manager


def test_receive_stock_through_the_form(page, manager_setup, product, location):
    log_in(page, manager_setup)
    page.click("text=Stock levels")
    page.click(".object-tools >> text=Receive")
    page.select_option("#id_location", str(location.pk))
    page.fill("#id_sku", product.sku)
    page.fill("#id_quantity", "12")
    page.fill("#id_reference", "PO-4711")
    page.click("input[type=submit][value=Receive]")
    page.wait_for_url(re.compile(r"/admin/inventory/stocklevel/\d+/change/"))
    entry = LedgerEntry.objects.get()
    assert f"On hand is now 12 (ledger #{entry.pk})" in page.inner_text(".messagelist")
    assert page.inner_text(".field-on_hand .readonly") == "12"
    movements = page.inner_text(".sr-movements")
    assert f"#{entry.pk}" in movements
    assert "Receipt" in movements
    assert "+12" in movements
    assert manager_setup.username in movements


def test_count_with_a_variance(page, manager_setup, product, location):
    level = factories.stock(product, location, 10)
    log_in(page, manager_setup)
    page.goto(f"/admin/inventory/stocklevel/{level.pk}/change/")
    page.click(".object-tools >> text=Count")
    page.fill("input[name='lines-0-counted']", "7")
    page.click("input[value='Preview variance']")
    preview = page.inner_text(".sr-count-preview")
    assert "-3" in preview
    assert "10" in preview
    assert StockLevel.objects.get(pk=level.pk).on_hand == 10
    page.click("input[value='Confirm count']")
    page.wait_for_url(re.compile(rf"/admin/inventory/stocklevel/{level.pk}/change/"))
    assert "net variance -3" in page.inner_text(".messagelist")
    assert page.inner_text(".field-on_hand .readonly") == "7"
    assert "Cycle count" in page.inner_text(".sr-movements")


def test_import_a_csv_with_one_bad_row(page, manager_setup, merchant, product, location):
    factories.stock(product, location, 10)
    log_in(page, manager_setup)
    page.goto("/admin/")
    page.click("text=Import stock counts")
    content = f"sku,location,counted\n{product.sku},{location.code},6\nGHOST-1,{location.code},3\n"
    page.set_input_files(
        "#id_file", {"name": "counts.csv", "mimeType": "text/csv", "buffer": content.encode()}
    )
    page.click("input[value='Upload and preview']")
    page.wait_for_selector("text=Reading and checking the file")
    import_read_waiting()  # the background job; the page refreshes itself until it is done
    errors = page.inner_text(".sr-errors")
    assert "3" in errors
    assert "Unknown SKU 'GHOST-1'." in errors
    page.click("input[value^='Confirm import of 1 row']")
    page.wait_for_selector(".sr-status-done")
    assert "1 of 1 rows applied (100%)" in page.inner_text("#content-main")
    assert StockLevel.objects.get(product=product, location=location).on_hand == 6


# --- A laptop screen, with the demo's month of data --------------------------------------

LISTS = (
    "inventory/stocklevel", "inventory/ledgerentry", "alerts/alert", "inventory/reservation",
    "inventory/transfer", "catalog/product",
)  # fmt: skip

# Horizontal overflow of the page and of every scrolling table container, and the SKU cells
# whose text takes more than one line.
LAYOUT = """() => {
  const page = document.documentElement;
  const boxes = [...document.querySelectorAll('.results, .sr-scroll')];
  const lines = (cell) => [...cell.querySelectorAll('*'), cell]
    .flatMap((node) => [...node.childNodes])
    .filter((node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim())
    .map((node) => { const range = document.createRange(); range.selectNodeContents(node);
                     return range.getClientRects().length; });
  return {
    page: [page.scrollWidth, page.clientWidth],
    overflowing: boxes.filter((box) => box.scrollWidth > box.clientWidth)
      .map((box) => [box.className, box.scrollWidth, box.clientWidth]),
    skus: document.querySelectorAll('#result_list .field-sku').length,
    wrapped: [...document.querySelectorAll('#result_list .field-sku')]
      .filter((cell) => lines(cell).some((count) => count > 1)).map((cell) => cell.innerText),
  };
}"""
RAW_CHOICE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # in_transit, transfer_in_transit, low_stock


@pytest.fixture
def demo():
    """The demo's data, loaded in a plain thread: Playwright's event loop runs in this one, and
    the alert listeners that run after commit publish through async_to_sync."""
    from apps.demo.services import demo_load

    def load() -> None:
        try:
            demo_load()
        finally:
            connection.close()

    thread = threading.Thread(target=load)
    thread.start()
    thread.join(timeout=120)


def test_the_landing_page_leads_a_new_user_into_the_admin(browser, live_server, demo):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/")
    assert page.title() == "Stockroom"
    logins = page.locator(".sr-home-demo tbody tr")
    assert logins.count() == 4
    username, password = (logins.nth(0).locator("td").nth(i).inner_text() for i in (0, 1))
    assert (username, password) == ("admin", "stockroom-admin")
    page.click("text=Admin")
    page.wait_for_url(re.compile(r"/admin/login/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    context.close()


def test_the_lists_fit_a_laptop_screen_with_skus_on_one_line(browser, live_server, demo):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "stockroom-admin")
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    for name in (*LISTS, "reports"):
        page.goto(f"/admin/{name}/")
        layout = page.evaluate(LAYOUT)
        assert layout["page"][0] <= layout["page"][1], (name, layout)
        assert layout["overflowing"] == [], (name, layout)
        assert layout["wrapped"] == [], (name, layout)
        if name != "reports":
            assert page.locator("#result_list tbody tr").count() > 0, name
            assert RAW_CHOICE.findall(page.inner_text("#result_list")) == [], name
        if name in ("inventory/stocklevel", "inventory/ledgerentry", "alerts/alert"):
            assert layout["skus"] > 0, name

    # A transfer on its way: its title and lines say it in words.
    page.goto("/admin/inventory/transfer/?status__exact=in_transit")
    page.click("#result_list tbody tr:first-child th a")
    assert re.fullmatch(
        r"Transfer TR-\d+ \(in transit\) \| View transfer \| Stockroom", page.title()
    )
    lines = page.inner_text("#lines-group")
    assert not re.search(r"\d+ x \d+", lines)
    assert RAW_CHOICE.findall(page.inner_text("#content")) == []
    context.close()
