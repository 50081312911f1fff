"""Headless Chromium over the DevTools protocol on a pipe: open a page, collect what a
person (and the browser's console) would see, take a screenshot.

Debian's ``chromium`` package; no driver, no download. The protocol runs over fds 3
(to the browser) and 4 (from it), NUL-separated JSON messages.

    python tests/chromium.py report.html shot.png [WIDTH]   # a full-page screenshot
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--remote-debugging-pipe",
)


def executable() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageVisit:
    """What opening one page produced."""

    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    console: list[str] = field(default_factory=list)  # console calls, log entries, exceptions
    checks: Any = None  # the value of the page check expression
    png: bytes = b""


def _onto_3_and_4(read_fd: int, write_fd: int) -> None:
    # lift both above 3 and 4 first, so neither is closed by the other's dup2
    high_r = fcntl.fcntl(read_fd, fcntl.F_DUPFD, 10)
    high_w = fcntl.fcntl(write_fd, fcntl.F_DUPFD, 10)
    os.dup2(high_r, 3)
    os.dup2(high_w, 4)


class Browser:
    def __init__(self, exe: str, width: int = 1200, height: int = 900) -> None:
        self._profile = tempfile.mkdtemp(prefix="ragcost-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # the browser expects to read commands on fd 3 and write replies on fd 4
        self.proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={width},{height}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4),
            preexec_fn=lambda: _onto_3_and_4(to_chrome_r, from_chrome_w),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        self.width = width

    def close(self) -> None:
        with contextlib.suppress(OSError, RuntimeError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_chrome, self._from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                msg = "chromium did not answer in time"
                raise RuntimeError(msg)
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                msg = "chromium closed the DevTools pipe"
                raise RuntimeError(msg)
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def visit(self, url: str, check: str = "null", screenshot: bool = False) -> PageVisit:
        """Open ``url`` in a fresh tab, wait for its load event, evaluate ``check``."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.events.clear()
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired")
        time.sleep(0.3)  # late console messages (CSP reports are queued)
        value = self.send("Runtime.evaluate", {"expression": check, "returnByValue": True},
                          session=session)["result"].get("value")
        visit = PageVisit(checks=value)
        if screenshot:
            size = self.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = self.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": self.width,
                         "height": min(float(size["height"]), 16000), "scale": 1},
            }, session=session)
            visit.png = base64.b64decode(shot["data"])
        self.send("Runtime.evaluate", {"expression": "1"}, session=session)  # flush events
        for e in self.events:
            if e.get("sessionId") != session:
                continue
            p = e.get("params", {})
            if e["method"] == "Network.requestWillBeSent":
                visit.requests.append(p["request"]["url"])
            elif e["method"] == "Runtime.consoleAPICalled":
                visit.console.append(f"console.{p['type']}: {p.get('args')}")
            elif e["method"] == "Log.entryAdded":
                entry = p["entry"]
                visit.console.append(f"{entry['level']} {entry['source']}: {entry['text']}")
            elif e["method"] == "Runtime.exceptionThrown":
                visit.console.append(f"exception: {p['exceptionDetails'].get('text')}")
        self.send("Target.closeTarget", {"targetId": target})
        return visit


def main(argv: list[str]) -> int:
    exe = executable()
    if exe is None:
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 2
    page, out = Path(argv[0]).resolve(), Path(argv[1])
    width = int(argv[2]) if len(argv) > 2 else 1100
    browser = Browser(exe, width=width)
    try:
        visit = browser.visit(page.as_uri(), screenshot=True)
    finally:
        browser.close()
    out.write_bytes(visit.png)
    print(f"{out}: {len(visit.png):,} bytes; console: {visit.console or 'clean'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
