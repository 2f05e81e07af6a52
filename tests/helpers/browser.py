"""Headless Chromium for the page tests, driven over the DevTools protocol on a pipe (no driver, no
websocket library): load a page from disk with the network cut off, wait until the page says it is
ready, read the DOM, take a screenshot. WebGL runs on SwiftShader, Chromium's CPU renderer, so no
GPU or display is needed."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

WINDOW = (1200, 640)
HEADER_PX = 44  # vrnfast.viz.pages' header height
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
         "--enable-unsafe-swiftshader", "--hide-scrollbars", "--mute-audio", "--no-first-run",
         "--disable-background-networking", "--disable-extensions",
         "--host-resolver-rules=MAP * ~NOTFOUND"]  # no network at all: a page that needed one would show it


def find_chromium() -> str | None:
    for name in (os.environ.get("VRNFAST_CHROMIUM"), *NAMES):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def url(path: Path, fragment: str = "") -> str:
    return Path(path).resolve().as_uri() + (f"#{fragment}" if fragment else "")


class Browser:
    """One headless Chromium; the DevTools protocol on fds 3 (commands in) and 4 (replies out),
    messages separated by NUL bytes."""

    def __init__(self):
        exe = find_chromium()
        assert exe, "no Chromium"
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()
        # the child's ends above 4, so that moving them onto 3 and 4 cannot overwrite one another
        to_chrome_r, from_chrome_w = (self._above(fd, 10) for fd in (to_chrome_r, from_chrome_w))

        def fds():  # the child's fds 3 and 4, where --remote-debugging-pipe looks
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self._profile = tempfile.mkdtemp(prefix="vrnfast-chromium-")
        self.proc = subprocess.Popen([exe, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
                                      "about:blank"], preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._id, self._buf, self.session = 0, b"", None

    @staticmethod
    def _above(fd, lowest):
        import fcntl

        moved = fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)
        os.close(fd)
        return moved

    def send(self, method, params=None, session=True, timeout=60):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" not in self._buf:
                assert time.monotonic() < deadline, f"Chromium did not answer {method}"
                chunk = os.read(self._r, 1 << 20)
                assert chunk, f"Chromium closed the pipe during {method}"
                self._buf += chunk
            raw, self._buf = self._buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply["result"]

    def open(self, page: Path, fragment="", window=WINDOW, ready="document.readyState === 'complete'", timeout=60):
        """Opens the page in a new tab of `window` (width, height) and waits until the JS
        expression `ready` is true."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": window[0], "height": window[1], "deviceScaleFactor": 1, "mobile": False})
        self.send("Page.navigate", {"url": url(page, fragment)})
        deadline = time.monotonic() + timeout
        while not self.eval(f"!!({ready})"):
            assert time.monotonic() < deadline, f"{page.name}: not ready after {timeout} s ({ready})"
            time.sleep(0.2)
        # two more frames, so what is ready is also drawn
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def eval(self, expression):
        out = self.send("Runtime.evaluate", {"expression": expression, "awaitPromise": True, "returnByValue": True})
        return out["result"].get("value")

    def dom(self) -> str:
        return self.eval("document.documentElement.outerHTML")

    def screenshot(self, out: Path) -> np.ndarray:
        """The tab's viewport, saved to `out`, as an (H, W, 3) uint8 array."""
        from PIL import Image

        png = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        Path(out).write_bytes(png)
        return np.asarray(Image.open(out).convert("RGB"))

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=10)
        except AssertionError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self._r, self._w):
            os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)


def viewer_region(shot: np.ndarray) -> np.ndarray:
    """The 3-D view of a face page: the right half below the header."""
    return shot[HEADER_PX + 4:, shot.shape[1] // 2 + 4:]


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
