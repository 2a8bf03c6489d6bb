"""Cohort throughput: members per second per core for each executor at 0d and 1d, and the
engine's overhead over the raw member cost. A report, not a timed test.

    python examples/cohorts/benchmark.py [--members 2000] [--members-1d 200] [--cores 2]
                                         [--rounds 3] [--skip ray,dask] [--shard N]

Raw member cost: members run one by one through `dermasim.run` in this process (no dataset,
no executor), on as many threads as the executors get cores (the GIL is released during a
run), so the reference meets the same contention from the rest of the machine; the one-thread
rate is shown too. Overhead = 1 - executor_rate_per_core / raw_rate_per_core, the share of
each core's time an executor spends on anything but simulating (building members' scenarios,
scheduling, Parquet, markers, shipping results).

The machine may be shared with other work, so the measurements are interleaved: every round
times the raw member cost just before and just after each executor's run (the bracket's mean
is that run's reference), and the report gives the median over rounds. Executors are started
once per fidelity and warmed (every worker has imported dermasim and loaded the cohort) before
the rounds; their start-up is reported on its own, not mixed into the steady-state rate.
"""

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import dermasim
from dermasim import _cohort

SPEC = """
seed = {seed}
members = {members}
shard_size = {shard}
fidelity = "{fidelity}"
timeline = true
[[protocol]]
name = "pen"
set = ["protocol.sessions=[{{day=0}}]", "protocol.follow_up_days={days}"]
[population]
"patient.age_years" = {{ uniform = [25, 70] }}
"patient.sex" = {{ choice = ["female", "male"] }}
"""


def warm_worker(spec, spec_hash):
    """Import dermasim and load the cohort in a worker (what its first task would do)."""
    _cohort._load(spec, spec_hash)
    return os.getpid()


class InProcess:
    """No executor: shards run here, one after another, each on all cores (rayon)."""

    name = "in-process (rayon)"

    def __init__(self, cores):
        self.cores = cores

    def start(self, spec, spec_hash):
        return None

    def stop(self):
        pass


class Pool:
    name = "process pool"

    def __init__(self, cores):
        self.cores = cores

    def start(self, spec, spec_hash):
        self.ex = ProcessPoolExecutor(self.cores)
        list(self.ex.map(warm_worker, [spec] * (4 * self.cores), [spec_hash] * (4 * self.cores)))
        return self.ex

    def stop(self):
        self.ex.shutdown()


class Dask:
    name = "dask distributed"

    def __init__(self, cores):
        self.cores = cores

    def start(self, spec, spec_hash):
        from dask.distributed import Client, LocalCluster

        self.cl = LocalCluster(
            n_workers=self.cores, threads_per_worker=1, dashboard_address=None, processes=True
        )
        self.c = Client(self.cl)
        self.c.run(warm_worker, spec, spec_hash)
        return self.c.get_executor()

    def stop(self):
        self.c.close()
        self.cl.close()


class Ray:
    name = "ray"

    def __init__(self, cores):
        self.cores = cores

    def start(self, spec, spec_hash):
        import ray
        from dermasim.executors import RayExecutor

        ray.init(num_cpus=self.cores, include_dashboard=False, log_to_driver=False)
        self.ex = RayExecutor()
        # Enough warm-up tasks that every worker Ray keeps has loaded the cohort.
        for f in [self.ex.submit(warm_worker, spec, spec_hash) for _ in range(4 * self.cores)]:
            f.result()
        return self.ex

    def stop(self):
        import ray

        ray.shutdown()


def raw_rate(scenarios):
    t0 = time.perf_counter()
    for s in scenarios:
        dermasim.run(s)
    return len(scenarios) / (time.perf_counter() - t0)


def raw_rate_per_core(scenarios, cores):
    """Members per second per core with `cores` threads each running members one by one
    (the GIL is released during a run): the raw member cost at the executors' core count,
    under the same contention from the rest of the machine."""
    chunks = [scenarios[i::cores] for i in range(cores)]
    threads = [threading.Thread(target=lambda ch=ch: [dermasim.run(s) for s in ch]) for ch in chunks]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(scenarios) / (time.perf_counter() - t0) / cores


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--members-1d", type=int, default=200)
    ap.add_argument("--shard", type=int, default=200, help="members per task (shard_size)")
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--days", type=float, default=90)
    ap.add_argument("--skip", default="", help="comma-separated: inprocess,pool,dask,ray")
    ap.add_argument("--fidelities", default="0d,1d")
    a = ap.parse_args()
    skip = set(a.skip.split(","))
    engines = [
        e
        for key, e in (("inprocess", InProcess), ("pool", Pool), ("dask", Dask), ("ray", Ray))
        if key not in skip
    ]
    tmp = tempfile.mkdtemp(prefix="dermasim-bench-")
    rows = []
    try:
        for fidelity in a.fidelities.split(","):
            members = a.members if fidelity == "0d" else a.members_1d
            # The same number of tasks (at least two) for every core, so no core idles while
            # another runs a last shard: shard_size is at most --shard.
            tasks_per_core = max(2, -(-members // (a.shard * a.cores)))
            shard = -(-members // (tasks_per_core * a.cores))
            spec = os.path.join(tmp, f"spec_{fidelity}.toml")
            with open(spec, "w") as f:
                f.write(SPEC.format(seed=5, members=members, shard=shard, fidelity=fidelity,
                                    days=a.days))
            c = dermasim.Cohort(spec)
            n_raw = min(members, (100 if fidelity == "0d" else 12) * a.cores)
            scen = [c.member_scenario(i) for i in range(n_raw)]
            raw_rate(scen[: max(1, n_raw // 10)])  # warm caches
            raws, raws1, frows = [], [], []
            for engine_cls in engines:
                eng = engine_cls(a.cores)
                try:
                    t0 = time.perf_counter()
                    ex = eng.start(spec, c.hash)
                    startup = time.perf_counter() - t0
                except ImportError:
                    frows.append((fidelity, eng.name, a.cores, None, None, None, None, "not installed"))
                    continue
                per_core, overheads = [], []
                try:
                    for r in range(a.rounds):
                        before1 = raw_rate(scen[:n_raw // a.cores])
                        before = raw_rate_per_core(scen, a.cores)
                        out = os.path.join(tmp, f"{fidelity}-{r}")
                        t0 = time.perf_counter()
                        dermasim.cohort(spec, out, executor=ex)
                        dt = time.perf_counter() - t0
                        after = raw_rate_per_core(scen, a.cores)
                        after1 = raw_rate(scen[:n_raw // a.cores])
                        shutil.rmtree(out)
                        raw = (before + after) / 2
                        raws.append(raw)
                        raws1.append((before1 + after1) / 2)
                        pc = members / dt / a.cores
                        per_core.append(pc)
                        overheads.append(1 - pc / raw)
                finally:
                    eng.stop()
                frows.append((
                    fidelity, eng.name, a.cores, members / shard,
                    statistics.median(per_core), statistics.median(overheads),
                    startup, f"{min(overheads) * 100:.0f} to {max(overheads) * 100:.0f} %",
                ))
            if raws:
                rows.append((fidelity, "raw member, 1 thread", 1, None, statistics.median(raws1),
                             None, None, f"{min(raws1):.1f} to {max(raws1):.1f}/s"))
                rows.append((fidelity, f"raw member, {a.cores} threads", a.cores, None,
                             statistics.median(raws), None, None,
                             f"{min(raws):.1f} to {max(raws):.1f}/s (the reference)"))
            rows += frows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    print(f"dermasim {dermasim.__version__}, {platform.machine()} {os.cpu_count()} CPUs "
          f"({a.cores} used), load average {load}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{a.days:g} days, one session; {a.rounds} interleaved rounds, medians")
    print(f"{'fid':4} {'executor':22} {'cores':>5} {'tasks':>5} {'per core/s':>10} "
          f"{'overhead':>9} {'start-up s':>10}  spread")
    for f, name, cores, tasks, pc, over, startup, spread in rows:
        print(
            f"{f:4} {name:22} {cores:>5} "
            f"{'' if tasks is None else f'{tasks:.0f}':>5} "
            f"{'' if pc is None else f'{pc:.1f}':>10} "
            f"{'' if over is None else f'{over * 100:.1f} %':>9} "
            f"{'' if startup is None else f'{startup:.1f}':>10}  {spread}"
        )
    print(f"overhead: 1 - (members per second per core) / (raw members per second per core with"
          f" {a.cores} threads, measured just before and after each run); steady state: start-up"
          " (executor and workers, warmed) is not in it")


if __name__ == "__main__":
    sys.exit(main())
