"""The web UI in a real browser: Debian's chromium driven by Playwright, through the gateway.

Nothing is stubbed but one answer (a `hook_unavailable` 503, which needs a dead budget-api):
the story runs on the same stack as the API tests. With E2E_SCREENSHOTS=<dir> (`make
screenshots` passes docs/) it saves the screenshots of docs/web-ui.md there.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from e2e.identity import TokenMaker
from e2e.stack import RunningStack

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Long enough for a debit to travel outbox -> relay -> RabbitMQ -> consumer on a busy machine.
ASYNC_TIMEOUT_MS = 20_000


# `make test-e2e` builds the UI first (`make web`, with Node); `make install` does not.
WEB_DIST = Path(__file__).resolve().parents[2] / "services" / "web" / "dist"


@pytest.fixture(autouse=True)
def _built_ui() -> None:
    if not (WEB_DIST / "index.html").exists():
        pytest.fail("the web UI is not built: run `make web` (or `make test-e2e`, which does)")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A headless chromium with a fresh profile (Playwright makes a temporary user-data-dir)."""
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: E2E_SCREENSHOTS (docs/, for docs/web-ui.md) or a temp dir."""
    target = Path(os.environ.get("E2E_SCREENSHOTS") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


async def sign_in(browser: Browser, stack: RunningStack, *, admin: bool = False) -> Page:
    """A new browser context (its own session storage), signed in through the dev sign-in."""
    context = await browser.new_context(viewport={"width": 1200, "height": 860})
    page = await context.new_page()
    await page.goto(stack.config.web_url)
    await expect(page.get_by_role("heading", name="Development sign-in")).to_be_visible()
    if admin:
        await page.get_by_label("Admin (may create token types and credit owners)").check()
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.get_by_test_id("owner-id")).to_be_visible()
    return page


async def owner_of(page: Page) -> str:
    """The signed-in owner id the header shows."""
    return str(uuid.UUID(await page.get_by_test_id("owner-id").inner_text()))


def task_item(page: Page, title: str) -> Locator:
    """The list item of the task with this title."""
    return (
        page.get_by_role("list", name="Tasks")
        .get_by_role("listitem")
        .filter(has=page.get_by_role("heading", name=title))
    )


async def add_task(page: Page, title: str) -> None:
    """Create a task through the form and wait until the list shows it."""
    form = page.get_by_role("form", name="New task")
    await form.get_by_label("Title").fill(title)
    await form.get_by_role("button", name="Add task").click()
    await expect(task_item(page, title)).to_be_visible()


async def test_veto_credit_complete_debit_in_the_browser(
    browser: Browser, stack: RunningStack, shots: Path
) -> None:
    code = f"ui{uuid.uuid4().hex[:6]}"
    admin = await sign_in(browser, stack, admin=True)
    await admin.get_by_role("link", name="Admin").click()
    await expect(admin).to_have_url(f"{stack.config.gateway_url}/app/admin")
    types = admin.get_by_role("form", name="New token type")
    await types.get_by_label("Code (a slug, e.g. tok)").fill(code)
    await types.get_by_label("Name").fill("UI tokens")
    await types.get_by_role("button", name="Create token type").click()
    await expect(admin.get_by_role("table", name="Token types")).to_contain_text(code)

    owner = await sign_in(browser, stack)
    owner_id = await owner_of(owner)
    await add_task(owner, "Write the quarterly report")
    task = task_item(owner, "Write the quarterly report")
    cost = task.get_by_role("form", name="Cost of Write the quarterly report")
    await cost.get_by_label("Cost").fill("5")
    await cost.get_by_label("Token type").select_option(label=code)
    await cost.get_by_role("button", name="Set cost").click()
    await expect(task).to_contain_text(f"Cost: 5 {code}")

    # Veto: the reason from budget, as problem+json, shown on the task.
    await task.get_by_role("button", name="Complete").click()
    veto = task.get_by_role("alert")
    await expect(veto).to_contain_text("Completion refused")
    await expect(veto).to_contain_text(f"Insufficient budget: need 5 {code}, have 0")
    await expect(veto).to_contain_text("vetoed, HTTP 409")
    await expect(task).to_contain_text("open")
    await owner.screenshot(path=str(shots / "ui-veto.png"), full_page=True)

    # The admin credits the owner, with an idempotency key.
    credit = admin.get_by_role("form", name="Credit")
    await credit.get_by_label("Owner ID").fill(owner_id)
    await credit.get_by_label("Token type").select_option(label=f"{code} — UI tokens")
    await credit.get_by_label("Amount").fill("8")
    await credit.get_by_label("Reason (optional)").fill("welcome credit")
    key = await credit.get_by_label("Idempotency key").input_value()
    assert uuid.UUID(key)
    await credit.get_by_role("button", name="Credit").click()
    await expect(admin.get_by_role("status")).to_contain_text(f"Credited 8 to {owner_id}")
    # The same key again (a retried submit) credits nothing more.
    await credit.get_by_role("button", name="Credit").click()
    await expect(admin.get_by_role("status")).to_contain_text(f"Credited 8 to {owner_id}")
    await admin.screenshot(path=str(shots / "ui-admin.png"), full_page=True)

    # Complete: allowed now; the debit shows without a reload (the page polls).
    balances = owner.get_by_role("table", name="Balances").locator(f'tr[data-token="{code}"]')
    await expect(balances.locator('[data-col="balance"]')).to_have_text("8", timeout=5_000)
    await task.get_by_role("button", name="Dismiss").click()
    await task.get_by_role("button", name="Complete").click()
    await expect(task.locator(".status")).to_have_text("completed")
    await expect(task.get_by_role("alert")).to_have_count(0)
    await expect(balances.locator('[data-col="balance"]')).to_have_text(
        "3", timeout=ASYNC_TIMEOUT_MS
    )
    await expect(balances.locator('[data-col="held"]')).to_have_text("0")
    await expect(balances.locator('[data-col="available"]')).to_have_text("3")
    await owner.screenshot(path=str(shots / "ui-tasks.png"), full_page=True)

    await owner.get_by_role("link", name="Balances & ledger").click()
    ledger = owner.get_by_role("table", name="Ledger")
    # One debit, and one credit although the admin sent it twice (same idempotency key).
    await expect(ledger.locator('tr[data-kind="debit"]')).to_have_count(1)
    await expect(ledger.locator('tr[data-kind="credit"]')).to_have_count(1)
    await expect(ledger.locator('tr[data-kind="debit"] [data-col="amount"]')).to_have_text("-5")
    await expect(ledger.locator('tr[data-kind="credit"] [data-col="amount"]')).to_have_text("+8")
    await expect(ledger).to_contain_text("welcome credit")
    await owner.screenshot(path=str(shots / "ui-budget.png"), full_page=True)

    # Another owner sees none of it, also on a deep link.
    other = await sign_in(browser, stack)
    assert await owner_of(other) != owner_id
    await other.goto(f"{stack.config.gateway_url}/app/tasks")
    await expect(other.get_by_text("No tasks here yet.")).to_be_visible()
    await expect(other.get_by_text("Write the quarterly report")).to_have_count(0)
    await other.get_by_role("link", name="Balances & ledger").click()
    await expect(other.get_by_text("No entries yet.")).to_be_visible()


async def test_edit_delete_paginate_and_hook_unavailable(
    browser: Browser, stack: RunningStack, tokens: TokenMaker
) -> None:
    page = await sign_in(browser, stack)
    owner = await owner_of(page)
    headers = {"Authorization": f"Bearer {tokens.token(owner)}"}
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, headers=headers) as api:
        for i in range(12):
            created = await api.post("/api/todos/tasks", json={"title": f"bulk {i:02d}"})
            assert created.status_code == 201, created.text

    # Cursor pagination: 10 per page, newest first.
    await page.get_by_role("button", name="Refresh").click()
    tasks = page.get_by_role("list", name="Tasks").get_by_role("listitem")
    await expect(tasks).to_have_count(10)
    await expect(tasks.first).to_contain_text("bulk 11")
    await page.get_by_role("button", name="Older →").click()
    await expect(tasks).to_have_count(2)
    await expect(tasks.last).to_contain_text("bulk 00")
    await expect(page.get_by_text("Page 2")).to_be_visible()
    await page.get_by_role("button", name="← Newer").click()
    await expect(tasks).to_have_count(10)

    # Edit (keyboard only) and delete.
    item = task_item(page, "bulk 11")
    await item.get_by_role("button", name="Edit").focus()
    await page.keyboard.press("Enter")
    edit = page.get_by_role("form", name="Edit bulk 11")
    await edit.get_by_label("Title").fill("renamed by keyboard")
    await page.keyboard.press("Enter")
    await expect(task_item(page, "renamed by keyboard")).to_be_visible()
    await task_item(page, "renamed by keyboard").get_by_role("button", name="Delete").click()
    await expect(task_item(page, "renamed by keyboard")).to_have_count(0)

    # A blank title is refused by the service: its problem+json detail is shown.
    form = page.get_by_role("form", name="New task")
    await form.get_by_label("Title").fill("   ")
    await form.get_by_role("button", name="Add task").click()
    await expect(form.get_by_role("alert")).to_contain_text("validation_error, HTTP 422")

    # hook_unavailable (budget-api down) is told as such, not as a veto.
    problem = {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "A before-complete hook is unavailable: budget",
        "code": "hook_unavailable",
        "hooks": ["budget"],
    }
    await page.route(
        "**/complete",
        lambda route: route.fulfill(
            status=503, content_type="application/problem+json", body=json.dumps(problem)
        ),
    )
    item = task_item(page, "bulk 10")
    await item.get_by_role("button", name="Complete").click()
    alert = item.get_by_role("alert")
    await expect(alert).to_contain_text("Completion could not be checked")
    await expect(alert).to_contain_text("hook_unavailable, HTTP 503")
    await expect(alert).to_contain_text("(budget). The task stays open")


async def test_a_pasted_token_signs_in_and_an_expired_one_is_told(
    browser: Browser, stack: RunningStack, tokens: TokenMaker
) -> None:
    # The production path: a token from the identity provider, pasted into the sign-in page.
    context = await browser.new_context()
    page = await context.new_page()
    owner = uuid.uuid4()
    await page.goto(f"{stack.config.gateway_url}/app/tasks")
    await page.get_by_label("Bearer token (JWT from your identity provider)").fill(
        tokens.token(owner)
    )
    await page.get_by_role("button", name="Use this token").click()
    assert await owner_of(page) == str(owner)
    await expect(page.get_by_text("No tasks here yet.")).to_be_visible()
    await expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    await page.get_by_role("button", name="Sign out").click()

    await page.get_by_label("Bearer token (JWT from your identity provider)").fill(
        tokens.token(owner, expires_in=-5)
    )
    await page.get_by_role("button", name="Use this token").click()
    await expect(page.get_by_role("alert").first).to_contain_text(
        "Your sign-in is no longer accepted"
    )
    await page.get_by_role("button", name="Sign in again").click()
    await expect(page.get_by_role("heading", name="Development sign-in")).to_be_visible()
