"""A real server (``puhui serve`` in a subprocess, on SQLite, demo data loaded) and a real
browser (Playwright driving Debian's Chromium)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PUHUI = str(Path(sys.executable).with_name("puhui"))


@dataclass(frozen=True)
class Server:
    url: str
    sms_log: Path
    env: dict[str, str]

    def last_code(self, phone: str) -> str:
        import json
        import re

        for line in reversed(self.sms_log.read_text(encoding="utf-8").splitlines()):
            msg = json.loads(line)
            if msg["to"] == phone:
                found = re.search(r"(\d{6})", msg["text"])
                if found:
                    return found.group(1)
        raise AssertionError(f"no code sent to {phone}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var = tmp_path_factory.mktemp("e2e")
    env = {
        **os.environ,
        "PUHUI_ENVIRONMENT": "development",
        "PUHUI_DATABASE_URL": f"sqlite:///{var / 'puhui.db'}",
        "PUHUI_SMS_LOG_PATH": str(var / "sms.log"),
        "PUHUI_LOG_LEVEL": "WARNING",
    }
    for args in (["db", "upgrade"], ["demo", "load"], ["demo", "load"]):
        subprocess.run([PUHUI, *args], env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    proc = subprocess.Popen(
        [PUHUI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(var / "server.log").open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError((var / "server.log").read_text()) from None
            time.sleep(0.2)
    yield Server(url=url, sms_log=var / "sms.log", env=env)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail("Chromium is not installed (make test installs Debian's chromium package)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, server: Server):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture
def phone_page(browser, server: Server):  # type: ignore[no-untyped-def]
    """A 360 px wide phone with JavaScript off: the core portal flow must work without it."""
    context = browser.new_context(
        base_url=server.url,
        viewport={"width": 360, "height": 740},
        java_script_enabled=False,
        locale="zh-CN",
    )
    pg = context.new_page()
    yield pg
    context.close()
