"""The Python API against the command line built from the same tree: same numbers."""

import csv
import io
import json
import subprocess
import sys
import threading
import time

import pytest

import dermasim

EXAMPLES = [
    "default",
    "acne_scars_cheek",
    "fine_lines_forehead",
    "home_roller",
    "stretch_marks_abdomen",
    "delivery_hyaluronic_home_roller",
    "delivery_vitamin_c_pen",
    "delivery_growth_factor_occluded",
]


def cli_json(cli, *args):
    out = subprocess.run([cli, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def cli_error(cli, *args):
    out = subprocess.run([cli, *args], capture_output=True, text=True)
    assert out.returncode != 0
    return out.stderr


def test_version_and_disclaimer():
    assert dermasim.__version__.count(".") == 2
    assert "not a medical device" in dermasim.DISCLAIMER.lower() or dermasim.DISCLAIMER


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_equals_the_cli_at_0d(cli, root, name):
    path = root / "examples" / f"{name}.toml"
    want = cli_json(cli, "run", str(path), "--fidelity", "0d", "--json")
    got = dermasim.run(dermasim.Scenario.from_toml(path), fidelity="0d").summary
    assert got == want


def test_1d_with_seed_and_edits_equals_the_cli(cli, root):
    path = root / "examples" / "acne_scars_cheek.toml"
    edits = ["patient.age_years=61", "protocol.follow_up_days=60"]
    want = cli_json(
        cli, "run", str(path), "--fidelity", "1d", "--set", "simulation.seed=99",
        *sum((["--set", e] for e in edits), []), "--json",
    )
    s = dermasim.Scenario.from_toml(path).replace(
        **{"patient.age_years": 61, "protocol.follow_up_days": 60}
    )
    got = dermasim.run(s, fidelity="1d", seed=99)
    assert got.summary == want
    assert got.summary["seed"] == 99


def test_timeline_is_the_csv(cli, tmp_path):
    out = tmp_path / "run"
    subprocess.run(
        [cli, "run", "--fidelity", "0d", "--out", str(out), "--outputs", "timeseries_csv"],
        check=True, capture_output=True,
    )
    rows = list(csv.reader(io.StringIO((out / "timeseries.csv").read_text())))
    r = dermasim.run(fidelity="0d")
    tl = r.timeline
    assert tl.index.name == "t_day"
    assert ["t_day", *tl.columns] == rows[0]
    assert len(tl) == len(rows) - 1
    for i, row in enumerate(rows[1:]):
        assert [tl.index[i], *tl.iloc[i].tolist()] == [float(x) for x in row]
    table = r.to_arrow()
    assert table.num_rows == len(tl) and table.schema.field("t_day").type == "double"
    pl = pytest.importorskip("polars")
    assert r.to_polars().shape == (len(tl), len(tl.columns) + 1)
    assert isinstance(r.to_polars(), pl.DataFrame)


def test_ensemble_bands_and_progress(cli):
    seen = []
    r = dermasim.ensemble(members=6, fidelity="0d", progress=lambda d, t: seen.append((d, t)))
    want = cli_json(cli, "run", "--fidelity", "0d", "--ensemble", "6", "--json")
    assert r.summary == want
    assert seen and seen[-1] == (6, 6)
    cols = r.timeline.columns
    for suffix in ("_p05", "_p50", "_p95"):
        assert f"collagen_total_rel{suffix}" in cols
    assert cols.get_loc("collagen_total_rel_p05") == cols.get_loc("collagen_total_rel") + 1
    tqdm = pytest.importorskip("tqdm")
    bar = tqdm.tqdm(total=None, file=io.StringIO())
    dermasim.ensemble(members=4, fidelity="0d", progress=bar)
    assert bar.n == 4 and bar.total == 4


@pytest.mark.parametrize(
    "field,value,path",
    [
        ("patient.age_years", 7, "patient.age_years"),
        ("device.depth_mm", 4.0, "device.depth_mm"),
        ("patient.site", "elbow", "patient.site"),
        ("device.needles", "many", "device.needles"),
        ("protocol.sessions.1.day", 500, "protocol.sessions.1.day"),
        ("simulation.fidelity", "2d", "simulation.fidelity"),
    ],
)
def test_errors_carry_field_paths_like_set(cli, field, value, path):
    with pytest.raises(dermasim.ScenarioError) as e:
        dermasim.Scenario.default().replace(**{field: value})
    assert isinstance(e.value, ValueError)
    assert e.value.path.endswith(path.split(".")[-1])
    assert path.split(".")[0] in e.value.path
    text = json.dumps(value)
    stderr = cli_error(cli, "run", "--set", f"{field}={text}")
    assert str(e.value) in stderr, (str(e.value), stderr)


def test_replace_keeps_the_original_and_checks_paths():
    s = dermasim.Scenario.default()
    t = s.replace(**{"patient.age_years": 65, "patient.sex": "male"})
    assert s.to_dict()["patient"]["age_years"] != 65
    assert t.to_dict()["patient"] == {**s.to_dict()["patient"], "age_years": 65.0, "sex": "male"}
    assert t == s.set("patient.age_years=65", "patient.sex=male")
    with pytest.raises(dermasim.ScenarioError) as e:
        s.replace(**{"patient.favourite_colour": "blue"})
    assert "favourite_colour" in str(e.value)
    assert dermasim.Scenario.from_dict(t.to_dict()) == t


def test_gil_is_released_during_a_run():
    s = dermasim.Scenario.default().replace(**{"protocol.follow_up_days": 365})
    counts = []
    stop = threading.Event()

    def spin():
        n = 0
        while not stop.is_set():
            n += 1
        counts.append(n)

    spinner = threading.Thread(target=spin)
    results = []
    runner = threading.Thread(
        target=lambda: results.append(dermasim.ensemble(s, members=40, fidelity="1d"))
    )
    spinner.start()
    t0 = time.perf_counter()
    runner.start()
    # While the run computes, this thread and the spinner both run Python code.
    ticks = 0
    while runner.is_alive():
        ticks += 1
        time.sleep(0.001)
    took = time.perf_counter() - t0
    stop.set()
    spinner.join()
    assert results and results[0].summary["endpoints"]
    assert took > 0.2, f"the run was too short ({took:.2f} s) to show anything"
    # Python's switch interval is 5 ms: a thread that gets the GIL back ticks at least that often.
    assert ticks > took / 0.02, f"the main thread was starved ({ticks} ticks in {took:.2f} s)"
    assert counts[0] > 1000


def test_two_runs_overlap_in_two_threads():
    # A small 3d run lasts about a second: long enough for several progress samples each, so
    # the spans overlap exactly when the GIL is released during compute.
    s = dermasim.Scenario.default().replace(
        **{
            "simulation.patch_um": [300, 300],
            "simulation.dx_um": 50,
            "simulation.dz_um": 40,
            "protocol.follow_up_days": 365,
        }
    )
    spans = {}

    def go(k):
        seen = []
        dermasim.run(s, fidelity="3d", progress=lambda d, e: seen.append(time.perf_counter()))
        spans[k] = (seen[0], seen[-1]) if seen else None

    a, b = threading.Thread(target=go, args=("a",)), threading.Thread(target=go, args=("b",))
    a.start(), b.start(), a.join(), b.join()
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    assert a0 < b1 and b0 < a1, "the two runs did not overlap in time"


CTRL_C = r"""
import signal, sys, threading, time, os
import dermasim
s = dermasim.Scenario.default().replace(**{"protocol.follow_up_days": 3650})
threading.Timer(0.8, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
t0 = time.perf_counter()
try:
    dermasim.ensemble(s, members=200, fidelity="1d")
    print("finished")
except KeyboardInterrupt:
    print("interrupted after", round(time.perf_counter() - t0, 2))
"""


def test_ctrl_c_cancels_a_run():
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CTRL_C], capture_output=True, text=True, timeout=60)
    assert "interrupted after" in out.stdout, out.stdout + out.stderr
    assert float(out.stdout.split()[-1]) < 5.0
    assert time.perf_counter() - t0 < 30


def test_clinic_and_tables_equal_the_cli(cli, root):
    prof = root / "examples/patients/fine_lines_laxity_55.toml"
    want = cli_json(cli, "screen", str(prof), "--json", "--date", "2026-12-01")
    assert dermasim.screen(prof, date="2026-12-01") == want
    want = cli_json(cli, "plan", str(prof), "--json", "--date", "2026-12-01", "--members", "4")
    got = dermasim.plan(prof, date="2026-12-01", members=4)
    assert got["planned"] == want
    refused = dermasim.plan(root / "examples/patients/active_herpes.toml", date="2026-12-01")
    assert set(refused) == {"refused"} or set(refused) == {"planned"}
    assert dermasim.sites() == cli_json(cli, "sites", "--json")["sites"]
    p = dermasim.parameters()
    assert p["param"] and all("value" in v for v in p["param"].values())
    d = root / "examples/delivery_vitamin_c_pen.toml"
    assert dermasim.deliver(dermasim.Scenario.from_toml(d)) == cli_json(cli, "deliver", str(d), "--json")
    with pytest.raises(dermasim.ScenarioError) as e:
        dermasim.deliver(dermasim.Scenario.default())
    assert e.value.path == "topical"


def test_models_equal_the_cli(cli):
    want = cli_json(cli, "model", "run", "cooper2015", "--days", "5", "--every", "0.5",
                    "--format", "json", "--set", "kpn=30")
    got = dermasim.models.run("cooper2015", days=5, every=0.5, kpn=30)
    assert got.index.name == "t_day" and len(got) == 11
    flat = json.dumps(want)
    assert str(got.iloc[-1, 0]) in flat or repr(float(got.iloc[-1, 0])) in flat
    with pytest.raises(dermasim.ScenarioError):
        dermasim.models.run("cooper2015", nonsense=1)
