"""End to end: start `dermasim serve` on a fresh database, then in Chromium sign in, change the
one-time password, create a patient, screen them, plan, and check the chart and disclaimer."""

import os
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

BIN = os.environ.get("DERMASIM_BIN", "target/release/dermasim")
OUT = Path(os.environ.get("DERMASIM_E2E_OUT", "target/web-e2e"))
PROFILE = (Path(__file__).parents[2] / "examples/patients/acne_scars_type_iv.toml").read_text()
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server():
    tmp = tempfile.mkdtemp()
    port = free_port()
    proc = subprocess.Popen([BIN, "serve", "--db", f"{tmp}/e2e.db", "--addr", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, text=True)
    password = None
    for line in proc.stdout:
        m = re.search(r"one-time password \(change it at first sign-in\): (\S+)", line)
        if m:
            password = m.group(1)
        if "dermasim serve: http://" in line:
            break
    assert password, "the first start prints the administrator's password"
    yield f"http://127.0.0.1:{port}", password
    proc.kill()
    proc.wait()


def test_clinic_flow(server):
    base, password = server
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page()
        page.goto(base + "/patients")
        assert page.url.endswith("/login")
        page.screenshot(path=str(OUT / "01-login.png"))
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", password)
        page.click("button:has-text('Sign in')")
        assert page.url.endswith("/account")
        new = "a long enough passphrase"
        page.fill("input[name=current]", password)
        page.fill("input[name=new]", new)
        page.fill("input[name=repeat]", new)
        page.click("button:has-text('Change password')")
        assert page.url.endswith("/patients")
        page.click("text=New patient")
        page.fill("input[name=full_name]", "Ann <b>Example</b>")
        page.fill("input[name=date_of_birth]", "1997-03-04")
        page.fill("textarea[name=profile_toml]", PROFILE)
        page.screenshot(path=str(OUT / "02-new-patient.png"), full_page=True)
        page.click("button:has-text('Save')")
        assert page.locator("h1").inner_text() == "Ann <b>Example</b>", "shown as text"
        page.click("button:has-text('Screen')")
        assert page.locator(".verdict").first.inner_text() == "go with cautions"
        page.screenshot(path=str(OUT / "03-patient.png"), full_page=True)
        page.fill("input[name=members]", "4")
        page.click("button:has-text('Plan and forecast')")
        page.wait_for_url(re.compile(r"/plans/\d+$"), timeout=120_000)
        img = page.locator("img.chart")
        assert img.evaluate("i => i.complete && i.naturalWidth > 0")
        assert "not a medical device" in page.content()
        page.screenshot(path=str(OUT / "04-plan.png"), full_page=True)
        browser.close()
