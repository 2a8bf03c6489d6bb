"""dermasim for Python: the microneedling wound-healing simulator in-process.

A thin front end over the Rust application layer (``dermasim-app``): every call builds the
request the command line builds, so the numbers equal ``dermasim run --json`` for the same
scenario and seed. A research and planning aid, not a medical device.

>>> import dermasim
>>> s = dermasim.Scenario.default().replace(**{"patient.age_years": 65})
>>> r = dermasim.run(s, fidelity="0d")
>>> r.summary["endpoints"]["collagen_total_rel_end"] > 1.0
True
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Optional, Union

from . import _native
from ._native import DISCLAIMER, DermasimError, ScenarioError
from ._native import Scenario as _NativeScenario

__version__: str = _native.__version__

__all__ = [
    "__version__",
    "DISCLAIMER",
    "DermasimError",
    "ScenarioError",
    "Scenario",
    "RunResult",
    "run",
    "ensemble",
    "deliver",
    "screen",
    "plan",
    "sites",
    "parameters",
    "models",
    "cohort",
    "Cohort",
    "executors",
]

PathLike = Union[str, "os.PathLike[str]"]


class Scenario:
    """A validated scenario. Immutable: ``replace`` and ``set`` return new scenarios."""

    __slots__ = ("_s",)

    def __init__(self, native: _NativeScenario):
        self._s = native

    @classmethod
    def default(cls) -> "Scenario":
        """The built-in default scenario (``dermasim init``)."""
        return cls(_NativeScenario.default())

    @classmethod
    def from_toml(cls, path: PathLike, *set: str) -> "Scenario":
        """Read a scenario file (TOML, or JSON by extension) with optional ``PATH=VALUE``
        edits, exactly as ``dermasim run FILE --set ...`` loads it."""
        return cls(_NativeScenario.from_file(os.fspath(path), list(set)))

    from_file = from_toml

    @classmethod
    def from_dict(cls, tree: Dict[str, Any]) -> "Scenario":
        """A scenario from a dict shaped like ``scenario.json``."""
        return cls(_NativeScenario.from_json(json.dumps(tree)))

    def replace(self, **fields: Any) -> "Scenario":
        """A copy with fields changed by dotted path, e.g.
        ``replace(**{"patient.age_years": 65, "device.depth_mm": 1.0})``. The paths, parsing
        and checks are those of ``--set``; errors raise :class:`ScenarioError` with ``.path``."""
        return Scenario(self._s.replace(**fields))

    def set(self, *edits: str) -> "Scenario":
        """A copy with ``PATH=VALUE`` edits written exactly as for ``--set``."""
        return Scenario(self._s.set(*edits))

    def to_dict(self) -> Dict[str, Any]:
        """The scenario as a dict (``scenario.json``)."""
        return json.loads(self._s.to_json())

    def to_json(self) -> str:
        return self._s.to_json()

    @property
    def hash(self) -> str:
        return self._s.hash

    @property
    def fidelity(self) -> str:
        return self._s.fidelity

    @property
    def seed(self) -> int:
        return self._s.seed

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self._s == other._s

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return repr(self._s)


def _native_scenario(scenario: Optional[Union[Scenario, PathLike]]) -> Optional[_NativeScenario]:
    if scenario is None:
        return None
    if isinstance(scenario, Scenario):
        return scenario._s
    if isinstance(scenario, _NativeScenario):
        return scenario
    return Scenario.from_toml(scenario)._s


def _progress_adapter(progress: Any, want: str) -> Optional[Callable[[str, float, float], None]]:
    """A callable for the native layer from a user callable ``f(done, total)`` or a tqdm bar."""
    if progress is None:
        return None
    if hasattr(progress, "update") and hasattr(progress, "n"):
        bar = progress

        def to_bar(kind: str, done: float, total: float) -> None:
            if kind != want:
                return
            if getattr(bar, "total", None) != total:
                bar.total = total
                if hasattr(bar, "refresh"):
                    bar.refresh()
            step = done - bar.n
            if step > 0:
                bar.update(step)

        return to_bar
    if not callable(progress):
        raise TypeError("progress must be a callable f(done, total) or a tqdm bar")

    def to_callable(kind: str, done: float, total: float) -> None:
        if kind == want:
            progress(done, total)

    return to_callable


class RunResult:
    """What a run gave: ``.summary`` (the dict of ``summary.json``), ``.timeline`` (pandas,
    indexed by ``t_day``), ``.to_arrow()``, ``.to_polars()``."""

    def __init__(self, native: "_native.RunResult"):
        self._r = native
        self._summary: Optional[Dict[str, Any]] = None

    @property
    def summary(self) -> Dict[str, Any]:
        if self._summary is None:
            self._summary = json.loads(self._r.summary_json())
        return self._summary

    @property
    def endpoints(self) -> Dict[str, float]:
        return self.summary["endpoints"]

    @property
    def scenario(self) -> Scenario:
        return Scenario(self._r.scenario)

    @property
    def warnings(self) -> List[str]:
        return list(self._r.warnings)

    @property
    def wall_time_s(self) -> float:
        return self._r.wall_time_s

    def to_arrow(self):
        """The timeline as a ``pyarrow.Table`` (through the Arrow C data interface): the
        columns of ``timeseries.csv``, units in their names, bands after their columns."""
        import pyarrow as pa

        return pa.Table.from_batches([self._r.timeline_arrow()])

    @property
    def timeline(self):
        """The timeline as a pandas DataFrame indexed by ``t_day``."""
        return self.to_arrow().to_pandas().set_index("t_day")

    def to_polars(self):
        """The timeline as a polars DataFrame (zero-copy from Arrow)."""
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    @property
    def members(self):
        """The ensemble members in long form (pandas): ``member`` (the draw index), ``t_day``,
        then the ``timeseries.csv`` columns, one row per member and day; the run folder's
        ``ensemble_members.csv``. ``None`` for a run without an ensemble. At 3d the members
        ran at 1d, as the bands did."""
        batch = self._r.members_arrow()
        if batch is None:
            return None
        return batch.to_pandas()

    def members_arrow(self):
        """:attr:`members` as a ``pyarrow.Table`` (``None`` without an ensemble)."""
        import pyarrow as pa

        batch = self._r.members_arrow()
        return None if batch is None else pa.Table.from_batches([batch])

    @property
    def snapshot_days(self) -> List[float]:
        """The days :meth:`fields` can show (``outputs.snapshot_days``; empty unless the run
        kept fields: fidelity 3d, or ``outputs.write`` with ``vti``)."""
        return list(self._r.snapshot_days())

    def fields(self, day: float):
        """Every field at snapshot day ``day`` as an ``xarray.Dataset`` with dims
        ``z, y, x``: one variable per species (units in ``attrs["units"]``) and
        ``collagen_total_rel``; coordinates in micrometres (``z`` the depth of the cell
        centre below the skin surface, ``x``, ``y`` cell centres across the patch), with
        ``thickness_um`` and ``layer`` along ``z``. Values are single precision, those of the
        run folder's ``.vti`` snapshot on the simulation's own depth cells (the ``.vti``
        resamples depth uniformly). The species arrays are read-only views of the run's
        memory, not copies. A day that is not a snapshot day raises :class:`ScenarioError`
        (``path == "day"``) listing the days there are."""
        import xarray as xr

        flat = self._r.field_snapshot(float(day)).to_numpy(zero_copy_only=True)
        (nz, ny, nx), dx, zc, hz, layers = self._r.field_grid()
        species = _native.RunResult.field_species()
        cube = flat.reshape(len(species), nz, ny, nx)
        dims = ("z", "y", "x")
        data = {
            name: xr.Variable(dims, cube[s], attrs={"units": unit})
            for s, (name, unit) in enumerate(species)
        }
        rel = self._r.field_collagen_total_rel(float(day)).to_numpy(zero_copy_only=True)
        data["collagen_total_rel"] = xr.Variable(
            dims,
            rel.reshape(nz, ny, nx),
            attrs={"units": "relative to the resting tissue at the same depth (NaN above the dermis)"},
        )
        coords = {
            "z": ("z", list(zc), {"units": "um", "long_name": "depth below the skin surface (cell centre)"}),
            "y": ("y", [(j + 0.5) * dx for j in range(ny)], {"units": "um", "long_name": "across the patch (cell centre)"}),
            "x": ("x", [(i + 0.5) * dx for i in range(nx)], {"units": "um", "long_name": "across the patch (cell centre)"}),
            "thickness_um": ("z", list(hz), {"units": "um", "long_name": "depth cell height"}),
            "layer": ("z", list(layers)),
        }
        return xr.Dataset(
            data,
            coords=coords,
            attrs={
                "t_day": float(day),
                "fidelity": self.summary["fidelity"],
                "seed": self.summary["seed"],
                "program": "dermasim " + __version__,
                "disclaimer": DISCLAIMER,
            },
        )

    def __repr__(self) -> str:
        e = self.summary["endpoints"]
        return (
            f"RunResult(fidelity={self.summary['fidelity']!r}, seed={self.summary['seed']}, "
            f"collagen_total_rel_end={e['collagen_total_rel_end']:.4f})"
        )


def run(
    scenario: Optional[Union[Scenario, PathLike]] = None,
    *,
    fidelity: Optional[str] = None,
    seed: Optional[int] = None,
    progress: Any = None,
) -> RunResult:
    """Run a scenario (the default when None; a path is read as a scenario file), as
    ``dermasim run [FILE] [--fidelity F] [--set simulation.seed=S] --json``. The GIL is
    released while it runs; Ctrl-C cancels it and raises KeyboardInterrupt. ``progress``
    gets ``(day, end_day)``."""
    return RunResult(
        _native.run(
            _native_scenario(scenario),
            fidelity=fidelity,
            seed=seed,
            progress=_progress_adapter(progress, "day"),
        )
    )


def ensemble(
    scenario: Optional[Union[Scenario, PathLike]] = None,
    members: int = 32,
    *,
    fidelity: Optional[str] = None,
    seed: Optional[int] = None,
    progress: Any = None,
) -> RunResult:
    """The central run with 5-95 % bands from ``members`` posterior draws
    (``dermasim run --ensemble N``): the timeline gains ``*_p05``, ``*_p50``, ``*_p95``
    columns. ``progress`` is ``f(done, total)`` over members, or a tqdm bar."""
    return RunResult(
        _native.run(
            _native_scenario(scenario),
            fidelity=fidelity,
            seed=seed,
            members=members,
            progress=_progress_adapter(progress, "members"),
        )
    )


def deliver(scenario: Union[Scenario, PathLike]) -> Dict[str, Any]:
    """Topical delivery of the scenario's ``topical`` section (``dermasim deliver --json``)."""
    return json.loads(_native.deliver_json(_native_scenario(scenario)))


def _profile_text(profile: Union[PathLike, Dict[str, Any]]):
    if isinstance(profile, dict):
        return json.dumps(profile), True, "profile"
    path = os.fspath(profile)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text, path.lower().endswith(".json"), path


def screen(profile: Union[PathLike, Dict[str, Any]], date: Optional[str] = None) -> Dict[str, Any]:
    """Screen a patient profile (a file or a dict) for contraindications (``dermasim screen``)."""
    text, is_json, origin = _profile_text(profile)
    return json.loads(_native.screen_json(text, is_json, origin, date))


def plan(
    profile: Union[PathLike, Dict[str, Any]],
    date: Optional[str] = None,
    members: Optional[int] = None,
) -> Dict[str, Any]:
    """Screen, then plan and forecast (``dermasim plan``): ``{"planned": report}`` or
    ``{"refused": screening}``."""
    text, is_json, origin = _profile_text(profile)
    return json.loads(_native.plan_json(text, is_json, origin, date, members))


def sites() -> List[Dict[str, Any]]:
    """The anatomical sites with layer thicknesses and sources (``dermasim sites --json``)."""
    return json.loads(_native.sites_json())["sites"]


def parameters() -> Dict[str, Any]:
    """The default parameter set: every value with its source, grade and range."""
    return json.loads(_native.parameters_json())


class _Models:
    """The published kinetic models as standalone runs (``dermasim model run``)."""

    names = ("cooper2015", "waugh_sherratt2006")

    def run(self, name: str, days: float = 20.0, every: float = 0.1, **set: float):
        """A time course as a pandas DataFrame indexed by ``t_day``; keyword arguments set
        parameters or initial values (``models.run("cooper2015", kpn=30, P=0)``)."""
        import pandas as pd

        cols, rows = _native.model_run(name, days, every, [(k, float(v)) for k, v in set.items()])
        return pd.DataFrame(rows, columns=cols).set_index("t_day")


models = _Models()

from . import executors  # noqa: E402
from ._cohort import Cohort, CohortDataset, cohort, cohort_summary, plot_cohort  # noqa: E402

__all__ += ["CohortDataset", "cohort_summary", "plot_cohort"]
