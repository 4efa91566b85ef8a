"""What the browser tests share: Debian's chromium through Playwright (never `playwright install`), `evidence
serve` of a database on a free port, and the folder screenshots go to (``EVIDENCE_SCREENSHOTS``)."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (/usr/bin/chromium)"
)


@contextmanager
def browser_page(width: int = 1280, height: int = 720):
    """A page of Debian's chromium at ``width`` × ``height``, and the messages of the dialogs it opens."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
            + ["--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            dialogs = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            yield page, dialogs
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running(command: list[str], **kwargs):
    """A server started with ``command`` (PORT in its environment, ``env``): its base URL and process once
    /-/versions.json answers; at the end, its whole process group is stopped (a shell's child included)."""
    port = kwargs["env"]["PORT"]
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/-/versions.json", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.1)
        yield base, server
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


@contextmanager
def serving(db: Path):
    """`evidence serve` of ``db`` on a free port, as a user starts it: its base URL once it answers."""
    command = [str(Path(sys.executable).with_name("evidence")), "serve", str(db), "-w", "1"]
    with running(command, env={**os.environ, "PORT": str(free_port())}) as (base, _):
        yield base


def screenshots_folder(fallback: Path) -> Path:
    """Where screenshots go: ``EVIDENCE_SCREENSHOTS`` if set (for people to look at), else ``fallback``."""
    folder = Path(os.environ.get("EVIDENCE_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
