"""The dashboard in headless Chromium against the real web servers, a Celery worker and Redis."""

import threading

import pytest
from django.db import connection
from django.test import Client

from apps.inventory import services
from inventory_site.celery import app as celery_app
from tests import factories
from tests.realstack import celery_workers, free_port, product_server, wait_until_workers_idle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture
def worker(settings):
    with celery_workers(count=1):
        settings.STOCKROOM_EMBEDDED = False
        celery_app.conf.task_always_eager = False
        try:
            yield
        finally:
            celery_app.conf.task_always_eager = True
            wait_until_workers_idle()


@pytest.fixture
def live_stack(worker):
    with product_server() as base_url:
        yield base_url


@pytest.fixture
def scene(merchant, owner, product, location):
    """Stock on the dashboard and a signed-in session, made before the browser starts
    (Playwright's sync API runs an event loop in this thread)."""
    level = factories.stock(product, location, 10, low_stock_threshold=4)
    client = Client()
    client.force_login(owner)
    return {"level": level, "session": client.cookies["sessionid"].value}


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def in_thread(function, **kwargs) -> None:
    """Run a database call in a plain thread, outside Playwright's event loop."""
    errors = []

    def run():
        try:
            function(**kwargs)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not errors, errors


def open_dashboard(browser, base_url: str, session: str, merchant, location):
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": session, "url": base_url}])
    page = context.new_page()
    page.goto(f"{base_url}/dashboard/?merchant={merchant.pk}&location={location.pk}")
    return context, page


def test_a_stock_change_appears_on_the_open_dashboard_within_two_seconds(
    live_stack, scene, browser, merchant, product, location
):
    level = scene["level"]
    context, page = open_dashboard(browser, live_stack, scene["session"], merchant, location)
    available = page.locator(f'tr[data-level="{level.pk}"] td[data-field="available"]')
    assert available.inner_text() == "10"
    page.wait_for_selector("#connection[data-state='live']", timeout=10_000)

    in_thread(
        services.stock_ship,
        merchant=merchant,
        lines=[services.StockLine(product=product, location=location, quantity=7)],
        actor=None,
        idempotency_key=factories.key(),
    )

    page.wait_for_function(
        "el => el.textContent === '3'", arg=available.element_handle(), timeout=2_000
    )
    assert "changed" in (available.get_attribute("class") or "")
    assert page.locator("#movements li").first.inner_text().endswith("-7 on hand")
    # The drop below the threshold raised an alert, pushed to the page as well.
    page.wait_for_selector("#alerts li", timeout=5_000)
    assert product.sku in page.locator("#alerts li").first.inner_text()
    assert "low" in (page.locator(f'tr[data-level="{level.pk}"]').get_attribute("class") or "")
    context.close()


def test_the_dashboard_catches_up_after_the_server_comes_back(
    worker, scene, browser, merchant, product, location
):
    level = scene["level"]
    port, ws_port = free_port(), free_port()
    with product_server(port=port, ws_port=ws_port) as base_url:
        context, page = open_dashboard(browser, base_url, scene["session"], merchant, location)
        page.wait_for_selector("#connection[data-state='live']", timeout=10_000)
    page.wait_for_selector("#connection[data-state='reconnecting']", timeout=5_000)

    in_thread(
        services.stock_ship,
        merchant=merchant,
        lines=[services.StockLine(product=product, location=location, quantity=4)],
        actor=None,
        idempotency_key=factories.key(),
    )  # published while no server is listening: nobody receives it live

    with product_server(port=port, ws_port=ws_port):
        page.wait_for_selector("#connection[data-state='live']", timeout=15_000)
        available = page.locator(f'tr[data-level="{level.pk}"] td[data-field="available"]')
        page.wait_for_function(
            "el => el.textContent === '6'", arg=available.element_handle(), timeout=5_000
        )
        assert page.locator("#movements li").first.inner_text().endswith("-4 on hand")
        context.close()
