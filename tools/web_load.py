#!/usr/bin/env python3
"""Load benchmark of `dermasim serve` on loopback (a benchmark, not a test: it reports, it does
not pass or fail on timings).

50 concurrent signed-in sessions (each from its own loopback address, as 50 workstations would
be, so the per-address sign-in limit applies to each as in a clinic) browse the patient list, a
patient record and a session note, and save their own draft note (version-checked), while two
simulations of recorded sessions run in the background queue. Reports requests per second,
p50/p99 latency and errors (any status other than the expected one, any connection error).

    python3 tools/web_load.py --bin target/release/dermasim [--sessions 50] [--seconds 20]
"""

import argparse
import http.client
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROFILE = (ROOT / "examples/patients/acne_scars_type_iv.toml").read_text()
PASSWORD = "a long enough passphrase"


class Session:
    def __init__(self, port, source):
        self.port, self.source, self.cookie = port, source, ""

    def request(self, method, path, fields=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60,
                                          source_address=(self.source, 0))
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        for k, v in resp.getheaders():
            if k.lower() == "set-cookie" and v.startswith("dermasim_") and "Max-Age=0" not in v:
                self.cookie = v.split(";")[0]
        conn.close()
        return resp.status, resp.getheader("Location") or "", text

    @staticmethod
    def csrf(html):
        return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)

    def sign_in(self, password):
        _, _, page = self.request("GET", "/login")
        status, _, _ = self.request("POST", "/login", {
            "csrf": self.csrf(page), "username": "admin", "password": password})
        assert status == 303, status
        # The account page has the session's token even before the first password change.
        _, _, page = self.request("GET", "/account")
        self.token = self.csrf(page)

    def post(self, path, fields):
        return self.request("POST", path, {"csrf": self.token, **fields})


def note_fields(date, depth):
    return {"session_date": date, "device": "pen", "device_serial": "SP-1", "cartridge_lot": "L1",
            "cartridge_expiry": "2027-01-01", "area_site_0": "cheek", "area_depth_0": depth,
            "area_passes_0": "3", "endpoint": "erythema", "reactions": ""}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target/release/dermasim"))
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--port", type=int, default=18089)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    proc = subprocess.Popen([args.bin, "serve", "--db", f"{tmp}/load.db", "--addr",
                             f"127.0.0.1:{args.port}"], stdout=subprocess.PIPE, text=True)
    first = None
    for line in proc.stdout:
        m = re.search(r"one-time password \(change it at first sign-in\): (\S+)", line)
        if m:
            first = m.group(1)
        if "dermasim serve: http://" in line:
            break
    try:
        admin = Session(args.port, "127.0.0.1")
        admin.sign_in(first)
        _, _, page = admin.request("GET", "/account")
        admin.request("POST", "/account/password", {"csrf": admin.csrf(page), "current": first,
                                                    "new": PASSWORD, "repeat": PASSWORD})
        _, loc, _ = admin.post("/patients", {"full_name": "Load Test", "profile_toml": PROFILE})
        pid = int(loc.rsplit("/", 1)[1])
        for date, depth in [("2026-03-02", "1.5"), ("2026-03-30", "1.0")]:
            _, loc, _ = admin.post(f"/patients/{pid}/notes", note_fields(date, depth))
            admin.post(loc + "/sign", {"version": "1", "screening_override": "load test set-up"})

        sessions = []
        for i in range(args.sessions):
            s = Session(args.port, f"127.0.0.{2 + i}")
            s.sign_in(PASSWORD)
            _, loc, _ = s.post(f"/patients/{pid}/notes", note_fields("2026-04-01", "1.0"))
            s.note, s.version = loc, 1
            sessions.append(s)

        # Two simulations (3d: long enough to run through the whole window).
        runs = []
        for _ in range(2):
            _, loc, _ = admin.post(f"/patients/{pid}/runs", {
                "site": "cheek", "fidelity": "3d", "ensemble": "", "follow_up_days": "180"})
            runs.append(loc)

        latencies, errors, lock = [], [], threading.Lock()
        stop = time.time() + args.seconds

        def browse(s):
            n = 0
            while time.time() < stop:
                steps = [("GET", "/patients", None, 200), ("GET", f"/patients/{pid}", None, 200),
                         ("GET", s.note, None, 200)]
                depth = "1.0" if n % 2 else "1.25"
                steps.append(("POST", s.note, {"csrf": s.token, "version": str(s.version),
                                               **note_fields("2026-04-01", depth)}, 303))
                for method, path, fields, want in steps:
                    t0 = time.perf_counter()
                    try:
                        status, _, _ = s.request(method, path, fields)
                    except OSError as e:
                        status = f"error {e}"
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                        if status != want:
                            errors.append(f"{method} {path}: {status}")
                    if method == "POST" and status == 303:
                        s.version += 1
                n += 1

        threads = [threading.Thread(target=browse, args=(s,)) for s in sessions]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.time() - t0
        states = [admin.request("GET", r)[2] for r in runs]
        running = sum(1 for p in states if "running" in p or "done" in p)
        for r in runs:
            admin.post(r + "/cancel", {})
        lat = sorted(latencies)
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
        print(f"sessions {args.sessions}, {wall:.1f} s, requests {len(lat)}, "
              f"{len(lat) / wall:.0f} req/s, p50 {p(0.50):.1f} ms, p99 {p(0.99):.1f} ms, "
              f"max {lat[-1] * 1000:.1f} ms, mean {statistics.mean(lat) * 1000:.1f} ms, "
              f"errors {len(errors)}; simulations running or done at the end: {running} of 2")
        for e in errors[:10]:
            print("  error:", e)
        return 1 if errors else 0
    finally:
        proc.kill()
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
