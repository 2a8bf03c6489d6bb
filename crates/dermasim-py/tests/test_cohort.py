"""Cohorts: bit-identical datasets on every executor, resume after a kill, members equal to
single `dermasim run` calls, folders dermasim did not make left alone."""

import hashlib
import json
import os
import pathlib
import signal
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

import dermasim

SPEC = """
name = "test cohort"
seed = 11
members = 2000
shard_size = 200
fidelity = "0d"

[[protocol]]
name = "deep"
set = ["device.depth_mm=1.0", "protocol.sessions=[{day=0}]", "protocol.follow_up_days=30"]

[[protocol]]
name = "shallow"
set = ["device.depth_mm=0.5", "protocol.sessions=[{day=0}]", "protocol.follow_up_days=30"]

[population]
"patient.age_years" = { normal = [48, 12], clip = [20, 80] }
"patient.sex" = { choice = ["female", "male"], weights = [0.7, 0.3] }
"patient.fitzpatrick" = { choice = [1, 2, 3, 4, 5, 6] }
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    p = tmp_path_factory.mktemp("spec") / "cohort.toml"
    p.write_text(SPEC)
    return p


def digest(folder):
    """SHA-256 of every file of a dataset, by relative path."""
    out = {}
    for p in sorted(pathlib.Path(folder).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def serial(spec, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "ds"
    seen = []
    ds = dermasim.cohort(spec, out, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (10, 10)
    return out


def test_serial_dataset_layout(serial):
    ds = dermasim.CohortDataset(serial)
    m = ds.manifest
    assert m["program"] == "dermasim" and m["kind"] == "cohort"
    assert m["members"] == 2000 and m["shards"] == 10
    assert ds.complete
    members = ds.members()
    assert len(members) == 4000
    assert set(members["protocol"]) == {"deep", "shallow"}
    assert members["patient.age_years"].between(20, 80).all()
    assert {"patient.sex", "patient.fitzpatrick", "seed", "collagen_total_rel_end"} <= set(members)
    assert members["member"].nunique() == 2000
    tl = ds.timeline()
    assert {"member", "protocol", "t_day", "collagen_total_rel"} <= set(tl.columns)
    assert tl.groupby(["member", "protocol"]).size().nunique() == 1
    import pyarrow.parquet as pq

    f = next(pathlib.Path(serial, "members").rglob("*.parquet"))
    assert pq.ParquetFile(f).metadata.row_group(0).column(0).compression == "ZSTD"
    s = dermasim.cohort_summary(serial, by=["protocol", "age_band"])
    assert "collagen_total_rel_end_p50" in s.columns and s["n"].sum() == 4000
    # Deeper needles, more collagen: the paired comparison the cohort is for.
    med = members.groupby("protocol")["collagen_total_rel_end"].median()
    assert med["deep"] > med["shallow"]


def test_members_equal_single_cli_runs(cli, spec, serial, tmp_path):
    members = dermasim.CohortDataset(serial).members().set_index(["member", "protocol"])
    for member, protocol in [(0, "deep"), (1234, "shallow"), (1999, "deep")]:
        scen = tmp_path / f"m{member}.json"
        scen.write_text(
            subprocess.run(
                [cli, "cohort", str(spec), "--member", str(member), "--protocol", protocol],
                capture_output=True, text=True, check=True,
            ).stdout
        )
        summary = json.loads(
            subprocess.run([cli, "run", str(scen), "--json"], capture_output=True, text=True,
                           check=True).stdout
        )
        row = members.loc[(member, protocol)]
        for k, v in summary["endpoints"].items():
            assert row[k] == v, (member, protocol, k)
        assert row["seed"] == summary["seed"]
        # The Python API gives the same member too.
        c = dermasim.Cohort(spec)
        p = c.protocols.index(protocol)
        assert dermasim.run(c.member_scenario(member, p)).summary == summary


def test_process_pool_is_bit_identical(spec, serial, tmp_path):
    with ProcessPoolExecutor(2) as pool:
        dermasim.cohort(spec, tmp_path / "pool", executor=pool)
    assert digest(tmp_path / "pool") == digest(serial)


def test_cli_is_bit_identical_and_slices_compose(cli, spec, serial, tmp_path):
    out = tmp_path / "cli"
    for i in range(3):
        subprocess.run([cli, "cohort", str(spec), "--out", str(out), "--shard", f"{i}/3"],
                       check=True, capture_output=True)
    assert digest(out) == digest(serial)


def test_ray_is_bit_identical(spec, serial, tmp_path):
    ray = pytest.importorskip("ray")
    from dermasim.executors import RayExecutor

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        dermasim.cohort(spec, tmp_path / "ray", executor=RayExecutor(num_cpus=1))
    finally:
        ray.shutdown()
    assert digest(tmp_path / "ray") == digest(serial)


def test_dask_is_bit_identical(spec, serial, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            dermasim.cohort(spec, tmp_path / "dask", executor=client.get_executor())
    assert digest(tmp_path / "dask") == digest(serial)


def test_killed_cohort_resumes_without_recomputing(cli, spec, serial, tmp_path):
    out = tmp_path / "killed"
    p = subprocess.Popen([cli, "--threads", "1", "cohort", str(spec), "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    markers = out / "_shards"
    deadline = time.time() + 60
    # Completion markers are the JSON files; a marker being written atomically sits beside them
    # as a hidden temporary file, which is not one.
    def finished():
        return sorted(markers.glob("*.json")) if markers.exists() else []
    while time.time() < deadline and len(finished()) < 2:
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    done = finished()
    assert 2 <= len(done) < 10, "kill it mid-way: make the cohort bigger if this fails"
    before = {m.name: m.stat().st_mtime_ns for m in done}
    files_before = {
        f: (out / f).stat().st_mtime_ns
        for f in json.loads(done[0].read_text())["files"]
    }
    # No half-written shard looks complete: every marker's files match it.
    c = dermasim.Cohort(spec)
    pending = c.pending(out)
    assert len(pending) == 10 - len(done)
    subprocess.run([cli, "cohort", str(spec), "--out", str(out)], check=True, capture_output=True)
    for m in done:
        assert m.stat().st_mtime_ns == before[m.name], f"{m.name} was recomputed"
    for f, t in files_before.items():
        assert (out / f).stat().st_mtime_ns == t
    # Complete, and byte for byte the uninterrupted dataset (no temporary files left).
    assert digest(out) == digest(serial)


def test_folders_dermasim_did_not_make_are_refused(spec, tmp_path):
    victim = tmp_path / "thesis"
    victim.mkdir()
    (victim / "chapter1.tex").write_text("precious")
    with pytest.raises(OSError) as e:
        dermasim.cohort(spec, victim)
    assert "did not write" in str(e.value)
    assert sorted(os.listdir(victim)) == ["chapter1.tex"]
    other = tmp_path / "other"
    dermasim.Cohort(spec).pending(other)
    (tmp_path / "changed.toml").write_text(SPEC.replace("seed = 11", "seed = 12"))
    with pytest.raises(OSError) as e:
        dermasim.cohort(tmp_path / "changed.toml", other)
    assert "another cohort" in str(e.value)


def test_bad_cohort_files_name_the_field(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text(SPEC.replace("clip = [20, 80]", "clip = [5, 10]"))
    with pytest.raises(dermasim.ScenarioError) as e:
        dermasim.Cohort(p)
    assert e.value.path == "patient.age_years" and "member 0" in str(e.value)


def test_plot(serial, tmp_path):
    pytest.importorskip("matplotlib")
    f = dermasim.plot_cohort(serial, tmp_path / "cohort.png")
    assert pathlib.Path(f).stat().st_size > 5000
