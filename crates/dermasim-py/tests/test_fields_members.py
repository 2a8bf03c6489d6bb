"""3d fields as xarray and ensemble members in long form, against the command line's files
for the same scenario and seed."""

import base64
import csv
import io
import re
import struct
import subprocess

import numpy as np
import pytest

import dermasim

SMALL_3D = {
    "simulation.patch_um": [200, 150],
    "simulation.dx_um": 50,
    "simulation.dz_um": 60,
    "protocol.follow_up_days": 30,
    "protocol.sessions": [{"day": 0}],
}


def small_3d_cli_sets():
    import json

    return sum((["--set", f"{k}={json.dumps(v)}"] for k, v in SMALL_3D.items()), [])


def read_vti(path):
    """The cell arrays of a dermasim .vti file (inline base64, UInt64 headers) and its extent."""
    text = path.read_text()
    extent = [int(x) for x in re.search(r'WholeExtent="([^"]+)"', text).group(1).split()]
    arrays = {}
    for ty, name, data in re.findall(
        r'<DataArray type="(Float32|UInt8)" Name="(\w+)" NumberOfComponents="1" '
        r'format="binary">([^<]+)</DataArray>',
        text,
    ):
        raw = base64.b64decode(data)
        (n,) = struct.unpack("<Q", raw[:8])
        dtype = "<f4" if ty == "Float32" else "u1"
        arrays[name] = np.frombuffer(raw[8 : 8 + n], dtype=dtype)
    return extent, arrays


def vti_depth_cells(hz, zc):
    """The simulation cell of each uniform depth sample of a .vti (docs/outputs.md)."""
    total = sum(hz)
    n = max(1, int(np.ceil(total / min(hz) - 1e-9)))
    dz = total / n
    cells, k = [], 0
    for m in range(n):
        z = (m + 0.5) * dz
        while k + 1 < len(hz) and z >= zc[k] - hz[k] / 2 + hz[k]:
            k += 1
        cells.append(k)
    return cells


@pytest.fixture(scope="module")
def run_3d():
    pytest.importorskip("xarray")
    s = dermasim.Scenario.default().replace(**SMALL_3D)
    return dermasim.run(s, fidelity="3d", seed=11)


def test_fields_equal_the_cli_vti_snapshots(cli, tmp_path, run_3d):
    out = tmp_path / "run"
    subprocess.run(
        [cli, "run", "--fidelity", "3d", "--set", "simulation.seed=11", *small_3d_cli_sets(),
         "--out", str(out), "--outputs", "vti"],
        check=True, capture_output=True,
    )
    r = run_3d
    days = r.snapshot_days
    assert days == [1.0, 7.0, 28.0, 30.0]
    files = sorted((out / "fields").glob("day_*.vti"))
    assert len(files) == len(days)
    for day, f in zip(days, files):
        ds = r.fields(day)
        assert ds.attrs["t_day"] == day
        assert tuple(ds.sizes[d] for d in ("z", "y", "x")) == (ds.sizes["z"], 3, 4)
        cells = vti_depth_cells(ds["thickness_um"].values, ds["z"].values)
        extent, arrays = read_vti(f)
        assert extent == [0, 4, 0, 3, 0, len(cells)]
        species = [n for n, _ in dermasim._native.RunResult.field_species()]
        assert set(species) | {"collagen_total_rel", "layer"} == set(arrays)
        for name in species + ["collagen_total_rel"]:
            # VTK order: x fastest, then y, then z from the bottom up.
            want = arrays[name].reshape(len(cells), 3, 4)[::-1]
            got = ds[name].values[cells]
            assert got.dtype == np.float32
            assert np.array_equal(got, want, equal_nan=True), (day, name)
        assert ds["neutrophils"].attrs["units"]
        assert ds["z"].attrs["units"] == "um" and ds["x"].values[0] == 25.0


def test_fields_are_views_of_one_buffer_and_match_the_profiles(run_3d):
    r = run_3d
    a = r.fields(7)["collagen_i"].values
    b = r.fields(7.0)["collagen_i"].values
    assert np.shares_memory(a, b), "fields(day) copies the snapshot"
    assert not a.flags.writeable
    # The lateral mean of the field is the run's depth profile: collagen at rest is 1 in the
    # reticular dermis of the reference age, and the summary's dermis average is its mean.
    ds = r.fields(28)
    dermis = np.isin(ds["layer"].values, ["papillary_dermis", "reticular_dermis"])
    rel = ds["collagen_total_rel"].values
    assert np.isnan(rel[~dermis]).all() and np.isfinite(rel[dermis]).all()
    assert (rel[dermis] > 0).all()


@pytest.mark.parametrize("day", [2.0, -1.0, float("nan")])
def test_fields_refuse_other_days_naming_the_argument_and_the_days(run_3d, day):
    with pytest.raises(dermasim.ScenarioError) as e:
        run_3d.fields(day)
    assert e.value.path == "day"
    assert "1, 7, 28, 30" in str(e.value)


def test_runs_without_fields_say_so():
    pytest.importorskip("xarray")
    r = dermasim.run(fidelity="0d")
    assert r.snapshot_days == []
    with pytest.raises(dermasim.ScenarioError) as e:
        r.fields(1)
    assert e.value.path == "day" and "no field snapshots" in str(e.value)
    assert r.members is None


def test_ensemble_members_equal_the_cli_member_file(cli, tmp_path):
    out = tmp_path / "ens"
    subprocess.run(
        [cli, "run", "--fidelity", "0d", "--ensemble", "7", "--out", str(out),
         "--outputs", "timeseries_csv"],
        check=True, capture_output=True,
    )
    rows = list(csv.reader(io.StringIO((out / "ensemble_members.csv").read_text())))
    r = dermasim.ensemble(members=7, fidelity="0d")
    m = r.members
    assert list(m.columns) == rows[0]
    assert rows[0][:2] == ["member", "t_day"]
    assert len(m) == len(rows) - 1
    for i, row in enumerate(rows[1:]):
        got = m.iloc[i].tolist()
        assert int(got[0]) == int(row[0])
        assert got[1:] == [float(x) for x in row[1:]]
    assert r.members_arrow().num_rows == len(m)
    # Long form: every member has the central run's days, and the bands are the members'
    # percentiles (linear interpolation, as numpy's default).
    days = r.timeline.index.to_numpy()
    assert sorted(m["member"].unique()) == list(range(7))
    for _, sub in m.groupby("member"):
        assert np.array_equal(sub["t_day"].to_numpy(), days)
    for q, suffix in ((0.05, "_p05"), (0.5, "_p50"), (0.95, "_p95")):
        want = m.groupby("t_day")["collagen_total_rel"].quantile(q).to_numpy()
        band = r.timeline["collagen_total_rel" + suffix].to_numpy()
        assert np.allclose(band, want, rtol=1e-12, atol=0), suffix
    # The central run is not a member: it is the unperturbed parameter set.
    assert not (m[m["t_day"] == days[-1]]["collagen_total_rel"] == r.timeline["collagen_total_rel"].iloc[-1]).all()
