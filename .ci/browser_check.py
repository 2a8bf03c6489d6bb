#!/usr/bin/env python3
"""Load a dermasim report.html in headless Chromium and check it like a person would.

Talks to Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe: commands on
fd 3, replies on fd 4), so it needs only the Python standard library and opens no port.

Fails (exit 1) when the page logs a console error or an uncaught exception, when any request
fails or leaves the machine (anything but file:, data: and about:), when a chart of the report
has no size, or when the screenshot is blank. Writes a full-page PNG screenshot.
"""
import argparse
import base64
import json
import os
import pathlib
import select
import struct
import subprocess
import sys
import tempfile
import time
import zlib

LOCAL = ("file:", "data:", "about:", "chrome:", "devtools:")

MEASURE = """(() => {
  const figs = Array.from(document.querySelectorAll('figure.plot')).map(f => {
    const el = f.querySelector('svg, img');
    const r = el ? el.getBoundingClientRect() : {width: 0, height: 0};
    return {id: f.id, width: r.width, height: r.height, texts: el ? el.querySelectorAll('text').length : 0};
  });
  const external = Array.from(document.querySelectorAll('[src], [href]'))
    .map(e => e.getAttribute('src') || e.getAttribute('href'))
    .filter(u => u && !u.startsWith('#') && !u.startsWith('data:'));
  return {title: document.title, figures: figs, external: external,
          disclaimer: !!document.getElementById('disclaimer'),
          width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight};
})()"""


class Browser:
    def __init__(self, chromium, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Park the child's ends above 3 and 4 so the dup2 calls cannot clobber them.
        a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
        a, b = fcntl_high(a), fcntl_high(b)
        os.close(to_chrome_r)
        os.close(from_chrome_w)

        def child():
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
            # No network at all: every host name fails to resolve and every proxy connection is refused.
            "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
            f"--user-data-dir={profile}", "--remote-debugging-pipe", "--window-size=1280,900", "about:blank",
        ]
        self.proc = subprocess.Popen(args, preexec_fn=child, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, close_fds=True)
        os.close(a)
        os.close(b)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.read(deadline - time.time())
            if m is None:
                continue
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)
        raise TimeoutError(f"no answer to {method} in {timeout} s")

    def read(self, timeout):
        while b"\0" not in self.buf:
            ready, _, _ = select.select([self.from_chrome], [], [], max(timeout, 0))
            if not ready:
                return None
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the pipe: " + self.stderr_tail())
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def wait_for(self, method, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e.get("method") == method:
                    return e
            m = self.read(deadline - time.time())
            if m is not None:
                self.events.append(m)
        raise TimeoutError(f"no {method} in {timeout} s")

    def drain(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            m = self.read(deadline - time.time())
            if m is not None:
                self.events.append(m)

    def stderr_tail(self):
        try:
            self.proc.kill()
            return self.proc.stderr.read().decode(errors="replace")[-2000:]
        except Exception:
            return ""

    def close(self):
        try:
            os.write(self.to_chrome, json.dumps({"id": 0, "method": "Browser.close"}).encode() + b"\0")
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()


def fcntl_high(fd):
    import fcntl
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


def png_check(data):
    """(width, height, distinct byte values of the pixel data) of a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("report", help="report.html")
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--screenshot", required=True, help="PNG to write")
    ap.add_argument("--min-figures", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()

    url = pathlib.Path(a.report).resolve().as_uri()
    problems = []
    with tempfile.TemporaryDirectory(prefix="dermasim-browser-") as profile:
        b = Browser(a.chromium, profile)
        try:
            target = b.send("Target.createTarget", {"url": "about:blank"}, timeout=a.timeout)["targetId"]
            session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                b.send(f"{domain}.enable", session=session)
            b.send("Page.navigate", {"url": url}, session=session)
            b.wait_for("Page.loadEventFired", a.timeout)
            b.drain(1.0)  # late requests and console messages
            page = b.send("Runtime.evaluate", {"expression": MEASURE, "returnByValue": True}, session=session)["result"]["value"]
            metrics = b.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = b.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": metrics["width"], "height": metrics["height"], "scale": 1},
            }, session=session, timeout=a.timeout)
            b.drain(0.2)
        finally:
            b.close()

    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.exceptionThrown":
            problems.append("uncaught exception: " + p.get("exceptionDetails", {}).get("text", "?"))
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            problems.append("console error: " + " ".join(str(x.get("value", x.get("description", ""))) for x in p.get("args", [])))
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            problems.append("console error: " + p["entry"].get("text", "") + " " + p["entry"].get("url", ""))
        elif m == "Network.loadingFailed":
            problems.append(f"failed request: {p.get('errorText')} ({p.get('type')})")
        elif m == "Network.requestWillBeSent":
            req = p.get("request", {}).get("url", "")
            if not req.startswith(LOCAL):
                problems.append(f"request leaves the machine: {req}")
        elif m == "Network.responseReceived":
            status = p.get("response", {}).get("status", 0)
            if status >= 400:
                problems.append(f"HTTP {status}: {p['response'].get('url')}")

    figures = page["figures"]
    if len(figures) < a.min_figures:
        problems.append(f"{len(figures)} charts on the page; expected at least {a.min_figures}")
    for f in figures:
        if not (f["width"] > 0 and f["height"] > 0):
            problems.append(f"chart {f['id']} has no size ({f['width']} x {f['height']})")
        if f["texts"] == 0:
            problems.append(f"chart {f['id']} has no text (axes, legend)")
    if page["external"]:
        problems.append("links to resources outside the page: " + ", ".join(page["external"][:5]))
    if not page["disclaimer"]:
        problems.append("no disclaimer on the page")

    png = base64.b64decode(shot["data"])
    pathlib.Path(a.screenshot).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(a.screenshot).write_bytes(png)
    w, h, distinct = png_check(png)
    if w == 0 or h == 0 or distinct < 8:
        problems.append(f"screenshot is blank ({w} x {h}, {distinct} distinct values)")

    print(json.dumps({
        "report": a.report, "title": page["title"], "page_px": [page["width"], page["height"]],
        "screenshot": a.screenshot, "screenshot_px": [w, h],
        "charts": [{"id": f["id"], "px": [round(f["width"]), round(f["height"])]} for f in figures],
        "problems": problems,
    }, indent=2))
    if problems:
        print(f"browser check: FAILED ({len(problems)} problems)", file=sys.stderr)
        return 1
    print(f"browser check: ok, {len(figures)} charts, no console errors, no failed requests", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
