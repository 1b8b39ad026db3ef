"""Files, typing and read receipts in the real browser: the operator drops and pastes an
image into the composer (previewed before sending, inline after), the visitor attaches one
with the paperclip (inline in both), each sees the other typing, and the operator's reply
turns "Read" once the visitor's open widget has shown it."""

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from tests.attachments.support import PDF, PNG
from tests.browser.conftest import Served
from tests.browser.test_console_and_widget import log_in, open_widget, setup, thread, visitor_writes


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"widget_attachment_max_bytes": 4096}


MAKE_FILES = """([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type }));
  return dt;
}"""


async def drop_file(page: Page, content: bytes, name: str, type_: str) -> None:
    dt = await page.evaluate_handle(MAKE_FILES, [base64.b64encode(content).decode(), name, type_])
    await page.dispatch_event("#composer", "dragover", {"dataTransfer": dt})
    await page.dispatch_event("#composer", "drop", {"dataTransfer": dt})


async def paste_file(page: Page, content: bytes, name: str, type_: str) -> None:
    await page.evaluate(
        """async (args) => {
          const dt = ("""
        + MAKE_FILES
        + """)(args);
          const box = document.getElementById("composer-text");
          box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true }));
        }""",
        [base64.b64encode(content).decode(), name, type_],
    )


async def test_files_typing_and_read_receipts(
    served: Served, browser: Browser, screenshots: Path
) -> None:
    key = await setup(served)
    op_ctx, op = await log_in(browser, served)
    v_ctx, visitor = await open_widget(browser, served, key)
    await visitor.get_by_role("button", name="Open chat").click()
    await visitor_writes(visitor, "Can you show me the box?")
    await op.locator(".conv").first.click()
    await expect(thread(op, "show me the box")).to_be_visible()

    # Typing, both ways (once the widget is live).
    await expect(visitor.locator(".status[data-state=on]")).to_have_count(1)
    await visitor.get_by_label("Your message").press_sequentially("Also", delay=30)
    await expect(op.locator("#typing")).to_have_text("The client is typing…")
    await op.get_by_label("Message", exact=True).press_sequentially("Sure", delay=30)
    await expect(visitor.locator(".typing")).to_have_text("Typing…")
    await op.get_by_label("Message", exact=True).fill("")

    # Dropped and pasted: uploaded at once, previewed; a refused type says why.
    await drop_file(op, PNG, "box.png", "image/png")
    await paste_file(op, PDF, "invoice.pdf", "application/pdf")
    chips = op.locator("#composer-files .file-chip")
    await expect(chips).to_have_count(2)
    await expect(chips.first.locator("img")).to_be_visible()
    await expect(op.locator("#composer-files [data-state=uploading]")).to_have_count(0)
    await drop_file(op, b"MZ\x90\x00" + b"\x00" * 60, "tool.exe", "image/png")
    await expect(op.get_by_text("tool.exe was not attached")).to_be_visible()
    await expect(chips).to_have_count(2)
    await op.screenshot(path=str(screenshots / "console-composer-files.png"))
    await op.get_by_label("Message", exact=True).fill("Here it is")
    await op.get_by_label("Message", exact=True).press("Enter")
    sent = op.locator(".msg-out").last
    await expect(sent.locator(".msg-text")).to_have_text("Here it is")
    await expect(sent.locator("img.att-img")).to_be_visible()
    await expect(chips).to_have_count(0)

    # The visitor sees the picture inline and the PDF as a link; the widget is open, so
    # the reply turns "Read" in the console.
    await expect(visitor.locator(".m-out a.pic img")).to_be_visible()
    await expect(visitor.locator(".m-out a.file", has_text="invoice.pdf")).to_be_visible()
    await expect(sent.locator(".state")).to_have_text("Read")

    # The paperclip: the visitor's picture reaches the console, shown inline.
    async with visitor.expect_file_chooser() as chooser:
        await visitor.get_by_role("button", name="Attach a file").click()
    photo: FilePayload = {"name": "photo.png", "mimeType": "image/png", "buffer": PNG}
    await (await chooser.value).set_files(files=[photo])
    await expect(visitor.locator(".m-in a.pic img")).to_be_visible()
    await expect(op.locator(".msg-in img.att-img")).to_be_visible()
    # Over the widget's limit (from its config): refused in the page, nothing sent.
    async with visitor.expect_file_chooser() as chooser:
        await visitor.get_by_role("button", name="Attach a file").click()
    big: FilePayload = {"name": "big.pdf", "mimeType": "application/pdf", "buffer": PDF * 4}
    await (await chooser.value).set_files(files=[big])
    await expect(visitor.get_by_text("The file is too large")).to_be_visible()
    await visitor.screenshot(path=str(screenshots / "widget-files.png"))
    await op.screenshot(path=str(screenshots / "console-files.png"))
    # The one error: the browser's own line for the refused upload (415), as it should be.
    errors = op.errors  # type: ignore[attr-defined]
    assert all("415" in e for e in errors) and len(errors) == 1, errors
    await op_ctx.close()
    await v_ctx.close()
