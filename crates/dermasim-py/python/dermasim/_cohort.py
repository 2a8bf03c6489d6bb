"""Virtual cohorts from Python: the same shards as ``dermasim cohort``, on any executor."""

from __future__ import annotations

import json
import os
import threading
from concurrent.futures import Executor, as_completed
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from . import _native

PathLike = Union[str, "os.PathLike[str]"]

# One loaded cohort per (file, mtime, size) and process: a worker runs many shards.
_CACHE: Dict[tuple, "_native.Cohort"] = {}
_CACHE_LOCK = threading.Lock()


def _load(spec: str, spec_hash: Optional[str] = None) -> "_native.Cohort":
    """The cohort of ``spec``, cached per file state. With ``spec_hash`` (a worker), members
    are not all checked up front (the driver did), and a file whose hash differs is refused."""
    st = os.stat(spec)
    key = (spec, st.st_mtime_ns, st.st_size, spec_hash)
    with _CACHE_LOCK:
        c = _CACHE.get(key)
    if c is None:
        if spec_hash is None:
            c = _native.Cohort.load(spec)
        else:
            c = _native.Cohort.load_for_worker(spec, spec_hash)
        with _CACHE_LOCK:
            _CACHE[key] = c
    return c


def run_shard_task(
    spec: str,
    out: str,
    shard: int,
    threads: Optional[int] = 1,
    spec_hash: Optional[str] = None,
) -> Dict[str, Any]:
    """One executor task: run shard ``shard`` of the cohort ``spec`` into ``out`` (both
    absolute paths visible to the worker) and return its completion marker. Module-level, so
    process pools, Ray and Dask can ship it. ``spec_hash``: the driver's spec hash; the worker
    then skips checking every member up front."""
    c = _load(spec, spec_hash)
    if c.shard_done(out, shard):
        return json.loads(open(os.path.join(out, "_shards", f"{shard:05d}.json")).read())
    return json.loads(c.run_shard(out, shard, threads))


class Cohort:
    """A cohort file, loaded and checked (every member's scenario is valid)."""

    def __init__(self, spec: PathLike):
        self.spec = os.path.abspath(os.fspath(spec))
        self._c = _load(self.spec)

    members = property(lambda self: self._c.members)
    shards = property(lambda self: self._c.shards)
    hash = property(lambda self: self._c.hash)
    protocols = property(lambda self: list(self._c.protocols))

    def member_overrides(self, member: int, protocol: int = 0) -> List[str]:
        """The ``--set`` edits that turn protocol ``protocol``'s scenario into this member."""
        return list(self._c.member_overrides(member, protocol))

    def member_scenario(self, member: int, protocol: int = 0):
        from . import Scenario

        return Scenario(self._c.member_scenario(member, protocol))

    def pending(self, out: PathLike) -> List[int]:
        """Check ``out`` (new, empty or this cohort's folder), write its manifest, and return
        the shards still to do."""
        return list(self._c.prepare(os.path.abspath(os.fspath(out))))

    def __repr__(self) -> str:
        return (
            f"Cohort({self.spec!r}, members={self.members}, shards={self.shards}, "
            f"protocols={self.protocols}, hash={self.hash!r})"
        )


class CohortDataset:
    """A cohort's Parquet dataset on disk."""

    def __init__(self, path: PathLike):
        self.path = os.path.abspath(os.fspath(path))

    @property
    def manifest(self) -> Dict[str, Any]:
        with open(os.path.join(self.path, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)

    @property
    def complete(self) -> bool:
        m = self.manifest
        return all(
            os.path.exists(os.path.join(self.path, "_shards", f"{s:05d}.json"))
            for s in range(m["shards"])
        )

    def _read(self, table: str):
        import pyarrow.dataset as ds

        d = ds.dataset(os.path.join(self.path, table), format="parquet", partitioning="hive")
        t = d.to_table()
        return t.sort_by([("member", "ascending"), ("protocol", "ascending")])

    def members(self):
        """One row per member and protocol (pandas): draws, seed, endpoints, ``shard``."""
        return self._read("members").to_pandas()

    def timeline(self):
        """The long timeline (pandas): member, protocol, t_day, then the timeline columns."""
        t = self._read("timeline")
        return t.to_pandas()

    def summary(self, by: Sequence[str] = ("protocol",), **kw: Any):
        return cohort_summary(self.path, by=by, **kw)

    def __repr__(self) -> str:
        m = self.manifest
        return f"CohortDataset({self.path!r}, members={m['members']}, shards={m['shards']})"


def cohort(
    spec: PathLike,
    out: PathLike,
    executor: Optional[Executor] = None,
    *,
    threads_per_task: Optional[int] = 1,
    progress: Optional[Callable[[int, int], None]] = None,
) -> CohortDataset:
    """Run the cohort file ``spec`` into the dataset folder ``out`` (``dermasim cohort SPEC
    --out OUT``). Finished shards are skipped, so rerunning an interrupted cohort completes it.

    ``executor``: any ``concurrent.futures.Executor`` (a process pool, ``client.get_executor()``
    of Dask distributed, :class:`dermasim.executors.RayExecutor`); one task per shard (the
    spec's ``shard_size`` members), each on ``threads_per_task`` threads. Without one, shards
    run here one after another on all cores. ``progress(done_shards, total_shards)``.
    """
    c = Cohort(spec)
    out = os.path.abspath(os.fspath(out))
    pending = c.pending(out)
    total = c.shards
    done = total - len(pending)
    if progress is not None:
        progress(done, total)
    if executor is None:
        for s in pending:
            c._c.run_shard(out, s, None)
            done += 1
            if progress is not None:
                progress(done, total)
    else:
        futures = [
            executor.submit(run_shard_task, c.spec, out, s, threads_per_task, c.hash)
            for s in pending
        ]
        try:
            for f in as_completed(futures):
                f.result()
                done += 1
                if progress is not None:
                    progress(done, total)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    return CohortDataset(out)


def _age_band(ages):
    import pandas as pd

    edges = [18, 30, 40, 50, 60, 70, 80, 101]
    labels = ["18-29", "30-39", "40-49", "50-59", "60-69", "70-79", "80+"]
    return pd.cut(ages, bins=edges, labels=labels, right=False)


def cohort_summary(
    path: PathLike,
    by: Sequence[str] = ("protocol",),
    endpoints: Optional[Sequence[str]] = None,
    quantiles: Sequence[float] = (0.05, 0.5, 0.95),
):
    """Quantiles of the endpoints by subgroup (pandas). ``by`` names member columns
    (``protocol``, ``patient.sex``, ...) or ``age_band`` (decades of ``patient.age_years``)."""
    df = CohortDataset(path).members()
    by = list(by)
    if "age_band" in by and "age_band" not in df.columns:
        df["age_band"] = _age_band(df["patient.age_years"])
    if endpoints is None:
        endpoints = [
            c for c in df.columns if c.endswith("_end") or c.endswith("_peak_day")
        ]
    g = df.groupby(by, observed=True)[list(endpoints)]
    q = g.quantile(list(quantiles)).unstack()
    q.columns = [f"{e}_p{int(round(p * 100)):02d}" for e, p in q.columns]
    q.insert(0, "n", g.size())
    return q


def plot_cohort(
    path: PathLike,
    file: PathLike,
    endpoint: str = "collagen_total_rel_end",
    by: str = "protocol",
    hue: Optional[str] = "age_band",
):
    """A PNG (or SVG by extension) of ``endpoint`` by ``by`` (box per subgroup), and, when
    the dataset has a timeline, the median course of ``collagen_total_rel`` per ``by`` with
    its 5-95 % band. Needs matplotlib."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = CohortDataset(path)
    df = ds.members()
    if hue == "age_band" and "patient.age_years" in df.columns:
        df["age_band"] = _age_band(df["patient.age_years"])
    elif hue not in df.columns:
        hue = None
    has_tl = ds.manifest.get("timeline", False)
    fig, axes = plt.subplots(1, 2 if has_tl else 1, figsize=(12 if has_tl else 6, 4.5))
    ax = axes[0] if has_tl else axes
    groups = []
    labels = []
    for key, sub in df.groupby([by] + ([hue] if hue else []), observed=True):
        groups.append(sub[endpoint].to_numpy())
        labels.append(" / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))))
    ax.boxplot(groups, whis=(5, 95), showfliers=False)
    ax.set_xticks(range(1, len(labels) + 1), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(endpoint)
    ax.set_title(f"{endpoint} by {by}" + (f" and {hue}" if hue else "") + " (whiskers 5-95 %)")
    if has_tl:
        tl = ds.timeline()
        ax2 = axes[1]
        for name, sub in tl.groupby(by, observed=True):
            q = sub.groupby("t_day")["collagen_total_rel"].quantile([0.05, 0.5, 0.95]).unstack()
            ax2.plot(q.index, q[0.5], label=str(name))
            ax2.fill_between(q.index, q[0.05], q[0.95], alpha=0.2)
        ax2.set_xlabel("day")
        ax2.set_ylabel("collagen_total_rel")
        ax2.set_title("median and 5-95 % of the cohort")
        ax2.legend(fontsize=8)
    fig.text(0.01, 0.01, _native.DISCLAIMER.split(".")[0] + ".", fontsize=6)
    fig.tight_layout()
    fig.savefig(os.fspath(file), dpi=110)
    plt.close(fig)
    return os.fspath(file)
