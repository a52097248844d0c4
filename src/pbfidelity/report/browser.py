"""Render an HTML report in headless Chromium: screenshot, JavaScript errors and off-line check.

Chromium is driven through its DevTools protocol with a tiny standard-library WebSocket client, so no
browser-automation package is needed. Everything the page logs as an error (uncaught exceptions,
``console.error`` calls, failed resource loads) is collected, and so is every network request: a
self-contained report requests nothing but ``file:``/``data:``/``blob:`` URLs.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

#: Flags for a quiet, off-line, throw-away browser profile (the issue's list plus a few more of the same kind).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
)
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "devtools:")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable (``$CHROMIUM`` first), or None."""
    env = os.environ.get("CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        if path := shutil.which(name):
            return path
    return None


@dataclass
class RenderResult:
    """What the browser saw while loading the page."""

    screenshot: Path
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    title: str = ""
    n_plots: int = 0
    seconds: float = 0.0
    n_deferred: int = 0  # plots waiting behind a "Show plot" button
    banner: bool = False  # MultiQC's "contains a lot of samples" warning is shown
    page_height: int = 0
    pages: list[Path] = field(default_factory=list)  # full-page screenshot tiles (full_page=True)

    @property
    def remote_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]


class _WebSocket:
    """Minimal RFC 6455 client: text frames out (masked), text/continuation frames in."""

    def __init__(self, url: str, timeout: float) -> None:
        assert url.startswith("ws://"), url
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"DevTools refused the WebSocket: {head.decode(errors='replace')[:200]}")

    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            buf += chunk
        return bytes(buf)

    def send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def recv(self) -> str:
        message = bytearray()
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._recv_exact(8))[0]
            mask = self._recv_exact(4) if b1 & 0x80 else None
            data = self._recv_exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode in (0x9, 0xA):  # ping/pong: ignore
                continue
            message += data
            if b0 & 0x80:
                return message.decode()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class _DevTools:
    """Send commands and collect the events that arrive in between."""

    def __init__(self, ws: _WebSocket) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"DevTools {method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str | None, timeout: float) -> bool:
        """Collect events until ``method`` arrives (True) or ``timeout`` passes (False; None: just collect)."""
        deadline = time.monotonic() + timeout
        if method is not None and any(e["method"] == method for e in self.events):
            return True
        self.ws.sock.settimeout(0.5)
        try:
            while time.monotonic() < deadline:
                try:
                    msg = json.loads(self.ws.recv())
                except TimeoutError:
                    continue
                if "method" in msg:
                    self.events.append(msg)
                    if msg["method"] == method:
                        return True
            return False
        finally:
            self.ws.sock.settimeout(30)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return res.get("result", {}).get("value")


def _error_messages(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            desc = d.get("exception", {}).get("description") or d.get("text", "")
            out.append(f"Uncaught: {desc.splitlines()[0] if desc else d}")
        elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            out.append(f"console.{p['type']}: {args}")
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            entry = p["entry"]
            out.append(
                f"{entry.get('source', 'log')}: {entry.get('text', '')} {entry.get('url', '')}".strip()
            )
    return out


def _wait_port_file(profile: Path, proc: subprocess.Popen, timeout: float) -> int:
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with code {proc.returncode} before DevTools came up")
        if port_file.exists():
            lines = port_file.read_text().split()
            if lines:
                return int(lines[0])
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port in time")


def render(
    html: Path,
    screenshot: Path,
    *,
    chromium: str | None = None,
    width: int = 1400,
    height: int = 2400,
    settle_s: float = 2.0,
    timeout_s: float = 90.0,
    full_page: bool = False,
    tile_px: int = 12000,
) -> RenderResult:
    """Open ``html`` in a fresh headless Chromium profile, wait for its plots, save a PNG screenshot.

    With ``full_page`` the whole page is captured beyond the window: ``screenshot`` when it is at most
    ``tile_px`` tall, else tiles ``<stem>_p01.png``, ``<stem>_p02.png`` ... of ``tile_px`` each (Chromium cannot
    capture one image much taller than 16,384 px)."""
    exe = chromium or find_chromium()
    if exe is None:
        raise FileNotFoundError("no chromium executable found (install Debian 'chromium' or set $CHROMIUM)")
    html = Path(html).resolve()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pbf-chromium-") as tmp:
        profile = Path(tmp)
        proc = subprocess.Popen(
            [
                exe,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        ws = None
        try:
            port = _wait_port_file(profile, proc, timeout_s)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                targets = json.load(resp)
            page = next(t for t in targets if t.get("type") == "page")
            ws = _WebSocket(page["webSocketDebuggerUrl"], timeout=30)
            dt = _DevTools(ws)
            for domain in ("Runtime", "Log", "Network", "Page"):
                dt.call(f"{domain}.enable")
            dt.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
            dt.call("Page.navigate", url=html.as_uri())
            if not dt.wait_for("Page.loadEventFired", timeout_s):
                raise TimeoutError(f"{html}: the page did not finish loading in {timeout_s:.0f} s")
            dt.wait_for(None, settle_s)  # let deferred plot rendering run and log
            n_plots = int(dt.evaluate("document.querySelectorAll('.js-plotly-plot').length") or 0)
            title = str(dt.evaluate("document.title") or "")
            n_deferred = int(dt.evaluate("document.querySelectorAll('.render_plot').length") or 0)
            banner = bool(
                dt.evaluate(
                    "(() => { const b = document.getElementById('mqc-warning-many-samples');"
                    " return !!b && b.offsetParent !== null && getComputedStyle(b).display !== 'none'; })()"
                )
            )
            screenshot = Path(screenshot)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            height_px = int(dt.evaluate("document.documentElement.scrollHeight") or height)
            pages: list[Path] = []
            if full_page:
                tops = list(range(0, height_px, tile_px))
                for i, top in enumerate(tops, start=1):
                    clip = {
                        "x": 0,
                        "y": top,
                        "width": width,
                        "height": min(tile_px, height_px - top),
                        "scale": 1,
                    }
                    shot = dt.call(
                        "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True
                    )
                    path = (
                        screenshot
                        if len(tops) == 1
                        else screenshot.with_name(f"{screenshot.stem}_p{i:02d}.png")
                    )
                    path.write_bytes(base64.b64decode(shot["data"]))
                    pages.append(path)
            else:
                shot = dt.call("Page.captureScreenshot", format="png")
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            requests = [
                e["params"]["request"]["url"] for e in dt.events if e["method"] == "Network.requestWillBeSent"
            ]
            return RenderResult(
                screenshot,
                _error_messages(dt.events),
                requests,
                title,
                n_plots,
                round(time.perf_counter() - t0, 2),
                n_deferred,
                banner,
                height_px,
                pages,
            )
        finally:
            if ws is not None:
                ws.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
