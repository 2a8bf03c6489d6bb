"""End to end: start `dermasim serve` on a fresh database, then in Chromium sign in, change the
one-time password, create a patient, screen them, plan, and check the chart and disclaimer;
write consent templates, take photo consent, upload a photo; record two session notes, sign
them, simulate them with live progress, and check the run's chart; download the run and the
patient's record as zips (read by Python's zipfile); record an adverse event; see follow-ups;
create a researcher account (one-time password shown once); in the research workspace, save a
scenario with an error (shown inline), fix it, run two scenarios and compare them on one chart."""

import os
import re
import socket
import struct
import subprocess
import tempfile
import io
import json
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

BIN = os.environ.get("DERMASIM_BIN", "target/release/dermasim")
OUT = Path(os.environ.get("DERMASIM_E2E_OUT", "target/web-e2e"))
PROFILE = (Path(__file__).parents[2] / "examples/patients/acne_scars_type_iv.toml").read_text()
# Long enough that progress events arrive before the end, short enough for CI.
RUN_FIDELITY = os.environ.get("DERMASIM_E2E_FIDELITY", "1d")
RUN_ENSEMBLE = os.environ.get("DERMASIM_E2E_ENSEMBLE", "24")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def tiny_png(path):
    """A 4 x 4 RGB PNG with a text chunk (metadata the server must strip)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\0" + bytes([200, 120, 90] * 4) for _ in range(4))
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
                     + chunk(b"tEXt", b"Author\0Camera with GPS")
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def record_session(page, patient_url, date, depth, override=None):
    """Record a session note and sign it: after a pre-session screening of that date, or
    (with `override`) refused first, then signed with the stated reason."""
    page.goto(patient_url)
    if override is None:
        screen = page.locator("form[action$='/screenings']")
        screen.locator("select[name=kind]").select_option("pre_session")
        screen.locator("input[name=date]").fill(date)
        screen.locator("button:has-text('Screen')").click()
    page.click("text=Record a session")
    page.fill("input[name=session_date]", date)
    page.select_option("select[name=device]", "pen")
    page.fill("input[name=device_model]", "SkinPen Precision")
    page.fill("input[name=device_serial]", "SP-001234")
    page.fill("input[name=cartridge_lot]", "LOT-77")
    page.fill("input[name=cartridge_expiry]", "2027-06-30")
    page.select_option("select[name=area_site_0]", "cheek")
    page.fill("input[name=area_depth_0]", depth)
    page.fill("input[name=area_passes_0]", "3")
    page.fill("input[name=topical_product_0]", "hyaluronic serum")
    page.fill("input[name=topical_batch_0]", "HA-2291")
    page.select_option("select[name=endpoint]", "pinpoint_bleeding")
    page.fill("textarea[name=reactions]", "mild erythema")
    page.locator("form[action$='/notes'] button:has-text('Save')").click()
    assert re.search(r"/notes/\d+$", page.url), page.url
    assert "Draft, version 1" in page.content()
    notice = page.locator("#sign-screening").inner_text()
    if override is None:
        assert "go with cautions" in notice, notice
    else:
        assert f"there is no screening of this patient on {date}" in notice, notice
        page.fill("input[name=screening_override]", override)
        page.screenshot(path=str(OUT / "14-sign-without-screening.png"), full_page=True)
    page.click("button:has-text('Sign and lock')")
    assert "Signed by admin" in page.content()
    basis = page.locator("#signed-screening").inner_text()
    assert (override or "Signed on screening") in basis, basis


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
        # Browser-side errors (a CSP refusal, a script error) show in the test's output.
        page.on("console", lambda m: print("browser console:", m.type, m.text))
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
        # The profile is form fields; a whole example file can be pasted instead.
        assert page.locator("input[name='concerns.0.sites']").count() == 1
        # Name fields suggest the names the screening rules know.
        assert page.locator("input[name='medications.0.name']").get_attribute("list") == "known-medications"
        assert page.locator("#known-medications option[value=isotretinoin]").count() == 1
        page.click("summary:has-text('Or paste a whole profile')")
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
        patient_url = page.locator("a:has-text('Back to')").get_attribute("href")
        patient_url = base + patient_url

        # Consent: the administrator writes the photo template; the patient signs it.
        page.click("text=Consent templates")
        page.select_option("select[name=kind]", "photo")
        page.fill("input[name=title]", "Clinical photographs")
        page.fill("textarea[name=body]", "I agree to clinical photographs of the treated areas.")
        page.click("button:has-text('Save as a new version')")
        assert "photo v1" in page.content()
        page.goto(patient_url)
        page.click("button:has-text('Patient signs: photo')")
        assert page.locator("td.consent-photo").inner_text() == "granted"
        assert page.locator("td.consent-marketing").inner_text() == "not asked"

        # A photo: uploaded, shown, stripped of its text chunk.
        png = Path(tempfile.mkdtemp()) / "cheek before.png"
        tiny_png(png)
        page.set_input_files("input[name=file]", str(png))
        page.click("button:has-text('Upload')")
        photo = page.locator(".photos img").first
        photo.wait_for()
        assert photo.evaluate("i => i.complete && i.naturalWidth === 4")
        page.screenshot(path=str(OUT / "05-consent-photo.png"), full_page=True)

        # Two signed sessions four weeks apart, then their simulation with live progress.
        record_session(page, patient_url, "2026-03-02", "1.5")
        page.screenshot(path=str(OUT / "06-session-note.png"), full_page=True)
        record_session(page, patient_url, "2026-03-30", "1.0",
                       override="screened by phone on the day; recorded later")
        page.goto(patient_url)
        page.select_option("select[name=site]", "cheek")
        page.select_option("select[name=fidelity]", RUN_FIDELITY)
        page.fill("input[name=ensemble]", RUN_ENSEMBLE)
        page.click("button:has-text('Simulate the recorded sessions')")
        assert re.search(r"/runs/\d+$", page.url), page.url
        # Live: progress events reach the page while the run goes and move the bar above 0
        # (the page reloads at the end, so read it as soon as it moves).
        seen = page.wait_for_function(
            "() => { const l = document.getElementById('run-live');"
            " if (!l) return false;"
            " if (l.dataset.finished === 'true') return 'finished before any live progress';"
            " const n = Number(l.dataset.progressEvents || 0);"
            " const v = Number(document.getElementById('run-progress').value);"
            " return n > 0 && v > 0 ? v : false; }",
            timeout=120_000).json_value()
        assert isinstance(seen, (int, float)) and 0 < seen <= 100, f"no live progress shown: {seen}"
        page.screenshot(path=str(OUT / "07-run-progress.png"), full_page=True)
        chart = page.locator("img#run-chart")
        chart.wait_for(timeout=300_000)
        assert chart.evaluate("i => i.complete && i.naturalWidth > 0")
        assert "done 100 %" in page.locator("#run-status").inner_text()
        page.screenshot(path=str(OUT / "08-run-done.png"), full_page=True)
        # The run's folder as a zip, read by Python's own zipfile (CRCs checked by testzip).
        run_zip = page.request.get(
            base + page.locator("a:has-text('Download the run')").get_attribute("href"))
        z = zipfile.ZipFile(io.BytesIO(run_zip.body()))
        assert z.testzip() is None
        assert z.namelist() == ["manifest.json", "scenario.json", "summary.json", "chart.svg"]
        days = [x["day"] for x in json.loads(z.read("scenario.json"))["protocol"]["sessions"]]
        assert days == [0, 28], days

        # An adverse event against the first session, and the follow-up list.
        page.goto(patient_url)
        page.locator("a[href^='/notes/']").first.click()
        page.select_option("select[name=kind]", "none")
        page.click("button:has-text('Record the adverse event')")
        assert page.locator("li.adverse").first.inner_text().startswith("none")
        page.click("text=Follow-ups")
        assert "Ann <b>Example</b>" in page.locator("table").inner_text()
        page.screenshot(path=str(OUT / "09-follow-ups.png"), full_page=True)

        # Subject access: the whole record and the photo in one zip.
        record_zip = page.request.get(patient_url + "/export.zip")
        z = zipfile.ZipFile(io.BytesIO(record_zip.body()))
        assert z.testzip() is None
        record = json.loads(z.read("record.json"))
        assert record["patient"]["full_name"] == "Ann <b>Example</b>"
        assert len(record["session_notes"]) == 2 and record["adverse_events"][0]["kind"] == "none"
        photo = [n for n in z.namelist() if n.startswith("photos/")]
        assert len(photo) == 1 and b"Camera with GPS" not in z.read(photo[0])

        # Accounts: a researcher created in the browser; the password is shown once.
        page.click("text=Users")
        page.fill("input[name=username]", "lab1")
        page.select_option("select[name=role]", "researcher")
        page.click("button:has-text('Create the account')")
        assert len(page.locator("#one-time-password").inner_text()) >= 12
        page.screenshot(path=str(OUT / "10-users.png"), full_page=True)
        page.goto(base + "/users")
        assert page.locator("#one-time-password").count() == 0, "shown once"
        assert "lab1" in page.locator("#users").inner_text()
        # Disabled, enabled again, its password reset: a new one-time password shown once.
        row = page.locator("#users tr", has_text="lab1")
        row.locator("button:has-text('Disable')").click()
        row = page.locator("#users tr", has_text="lab1")
        assert "disabled" in row.inner_text()
        row.locator("button:has-text('Enable again')").click()
        row = page.locator("#users tr", has_text="lab1")
        assert "active" in row.inner_text()
        row.locator("button:has-text('Reset password')").click()
        assert len(page.locator("#reset-user #one-time-password").inner_text()) >= 12
        page.screenshot(path=str(OUT / "15-users-reset.png"), full_page=True)

        # Research workspace: an error shown inline, fixed, saved; two runs compared.
        runs = {}
        for name, depth, ensemble in [("Shallow pen", "0.5", ""), ("Deep pen", "2.0", "8")]:
            page.click("text=Workspace")
            page.click("text=New scenario")
            default = page.locator("textarea[name=toml]").input_value()
            assert 'name = "Cheek, pen 1.5 mm' in default, "prefilled with the default scenario"
            quick = default.replace('fidelity = "1d"', 'fidelity = "0d"')
            page.fill("input[name=name]", name)
            page.fill("textarea[name=toml]", quick.replace("depth_mm = 1.5", "depth_mm = 9.0"))
            page.click("button:has-text('Check and save')")
            error = page.locator("#scenario-error").inner_text()
            assert "device.depth_mm" in error, error
            if not runs:
                page.screenshot(path=str(OUT / "11-scenario-error.png"), full_page=True)
            page.fill("textarea[name=toml]", quick.replace("depth_mm = 1.5", f"depth_mm = {depth}"))
            page.click("button:has-text('Check and save')")
            assert page.locator("#scenario-saved").count() == 1
            page.fill("input[name=ensemble]", ensemble)
            page.click("button:has-text('Run the saved scenario')")
            page.locator("img#run-chart").wait_for(timeout=300_000)
            assert page.locator("#run-endpoints").count() == 1
            runs[name] = int(page.url.rsplit("/", 1)[1])
        page.screenshot(path=str(OUT / "12-workspace-run.png"), full_page=True)
        page.goto(base + "/workspace/runs")
        page.select_option("select[name=a]", str(runs["Shallow pen"]))
        page.select_option("select[name=b]", str(runs["Deep pen"]))
        page.click("button:has-text('Compare on one chart')")
        chart = page.locator("img#compare-chart")
        chart.wait_for()
        assert chart.evaluate("i => i.complete && i.naturalWidth > 0")
        svg = page.request.get(base + chart.get_attribute("src")).text()
        assert svg.count("<svg") == 1
        for label in [f"Run {runs['Shallow pen']}: Shallow pen: central run",
                      f"Run {runs['Deep pen']}: Deep pen: central run",
                      f"Run {runs['Deep pen']}: Deep pen: 5-95 %"]:
            assert label in svg, label
        page.screenshot(path=str(OUT / "13-compare.png"), full_page=True)
        # A saved scenario deleted: gone from the workspace, its run still listed.
        page.goto(base + "/workspace")
        page.click("text=Shallow pen")
        page.click("button:has-text('Delete the saved scenario')")
        assert "Shallow pen" not in page.locator("#scenarios").inner_text()
        page.goto(base + "/workspace/runs")
        assert "Shallow pen (deleted" in page.locator("#workspace-runs").inner_text()
        browser.close()
