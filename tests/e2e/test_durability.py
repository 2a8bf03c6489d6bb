"""No acknowledged write is lost: SIGKILL `dermasim serve` during a burst of writes from several
clients, start it again on the same database, and find every patient whose creation was
answered (303) before the kill. No browser needed: plain HTTP on loopback."""

import http.client
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse

from test_web import BIN, free_port

NEW_PASSWORD = "a long enough passphrase"


def start(db, port):
    proc = subprocess.Popen([BIN, "serve", "--db", db, "--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, text=True)
    password = None
    for line in proc.stdout:
        m = re.search(r"one-time password \(change it at first sign-in\): (\S+)", line)
        if m:
            password = m.group(1)
        if "dermasim serve: http://" in line:
            break
    return proc, password


class Client:
    """One browser session: its cookie and CSRF token; redirects are not followed."""

    def __init__(self, port):
        self.port = port
        self.cookie = ""

    def request(self, method, path, fields=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
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
        return resp.status, text

    @staticmethod
    def csrf(html):
        return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)

    def sign_in(self, password):
        _, page = self.request("GET", "/login")
        status, _ = self.request("POST", "/login", {"csrf": self.csrf(page), "username": "admin",
                                                     "password": password})
        assert status == 303


def test_acknowledged_writes_survive_sigkill():
    tmp = tempfile.mkdtemp()
    db = f"{tmp}/durable.db"
    port = free_port()
    proc, password = start(db, port)
    admin = Client(port)
    admin.sign_in(password)
    _, page = admin.request("GET", "/account")
    status, _ = admin.request("POST", "/account/password", {
        "csrf": admin.csrf(page), "current": password, "new": NEW_PASSWORD,
        "repeat": NEW_PASSWORD})
    assert status == 303
    _, page = admin.request("GET", "/patients")
    token = admin.csrf(page)

    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(t):
        n = 0
        while not stop.is_set():
            name = f"burst {t}-{n}"
            try:
                status, _ = admin.request("POST", "/patients", {
                    "csrf": token, "full_name": name, "date_of_birth": "1990-01-01"})
            except OSError:
                return  # the server is gone
            if status == 303:
                with lock:
                    acknowledged.append(name)
            n += 1

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    deadline = time.time() + 30
    while len(acknowledged) < 60 and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)  # mid-burst: the writers are still sending
    proc.wait()
    stop.set()
    for th in threads:
        th.join()
    assert len(acknowledged) >= 60, "the burst was too small to mean anything"

    # The database is whole, and every acknowledged patient is there after a restart.
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    proc, first_password = start(db, port)
    try:
        assert first_password is None, "a restart must not create a new administrator"
        again = Client(port)
        again.sign_in(NEW_PASSWORD)
        status, listing = again.request("GET", "/patients")
        assert status == 200
        missing = [n for n in acknowledged if f">{n}</a>" not in listing]
        assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged writes lost"
        print(f"durability: {len(acknowledged)} acknowledged writes, all present after SIGKILL")
    finally:
        proc.kill()
        proc.wait()
