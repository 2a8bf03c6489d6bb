"""Cohort throughput: members per second per core for each executor at 0d and 1d, and the
engine's overhead over the raw member cost. A report, not a timed test.

    python examples/cohorts/benchmark.py [--members 2000] [--cores 2] [--skip ray,dask]

Raw member cost: the same members run one by one through `dermasim.run` in this process (one
core, no dataset, no executor). Overhead = 1 - raw_rate / executor_rate_per_core, i.e. the
share of each core's time an executor spends on anything but simulating (drawing, scheduling,
Parquet, markers, process start-up).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import dermasim

SPEC = """
seed = 5
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--members-1d", type=int, default=200)
    ap.add_argument("--shard", type=int, default=200)
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--days", type=float, default=90)
    ap.add_argument("--skip", default="")
    a = ap.parse_args()
    skip = set(a.skip.split(","))
    tmp = tempfile.mkdtemp(prefix="dermasim-bench-")
    rows = []
    try:
        for fidelity, members in (("0d", a.members), ("1d", a.members_1d)):
            shard = min(a.shard, max(1, members // (2 * a.cores)))
            spec = os.path.join(tmp, f"spec_{fidelity}.toml")
            with open(spec, "w") as f:
                f.write(SPEC.format(members=members, shard=shard, fidelity=fidelity, days=a.days))
            c = dermasim.Cohort(spec)
            # Raw member cost: one core, one member after another, nothing written.
            n_raw = min(members, 300 if fidelity == "0d" else 30)
            scen = [c.member_scenario(i) for i in range(n_raw)]
            t0 = time.perf_counter()
            for s in scen:
                dermasim.run(s)
            raw = n_raw / (time.perf_counter() - t0)
            rows.append((fidelity, "raw member (1 core)", 1, raw, raw, ""))

            def timed(name, cores, make):
                out = os.path.join(tmp, f"{fidelity}-{name}")
                with make() as ex:
                    t0 = time.perf_counter()
                    dermasim.cohort(spec, out, executor=ex)
                    dt = time.perf_counter() - t0
                rate = members / dt
                per_core = rate / cores
                rows.append((fidelity, name, cores, rate, per_core, f"{100 * (1 - per_core / raw):.0f} %"))
                shutil.rmtree(out)

            class Serial:
                def __enter__(self):
                    return None

                def __exit__(self, *e):
                    return False

            out = os.path.join(tmp, f"{fidelity}-serial")
            t0 = time.perf_counter()
            dermasim.cohort(spec, out)
            dt = time.perf_counter() - t0
            rows.append((fidelity, "in-process, all cores", a.cores, members / dt,
                         members / dt / a.cores, f"{100 * (1 - members / dt / a.cores / raw):.0f} %"))
            shutil.rmtree(out)
            timed("process pool", a.cores, lambda: ProcessPoolExecutor(a.cores))
            if "dask" not in skip:
                try:
                    from dask.distributed import Client, LocalCluster

                    class DaskCtx:
                        def __enter__(self):
                            self.cl = LocalCluster(n_workers=a.cores, threads_per_worker=1,
                                                   dashboard_address=None)
                            self.c = Client(self.cl)
                            return self.c.get_executor()

                        def __exit__(self, *e):
                            self.c.close()
                            self.cl.close()

                    timed("dask distributed", a.cores, DaskCtx)
                except ImportError:
                    pass
            if "ray" not in skip:
                try:
                    import ray
                    from dermasim.executors import RayExecutor

                    class RayCtx:
                        def __enter__(self):
                            ray.init(num_cpus=a.cores, include_dashboard=False, log_to_driver=False)
                            return RayExecutor()

                        def __exit__(self, *e):
                            ray.shutdown()

                    timed("ray", a.cores, RayCtx)
                except ImportError:
                    pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"dermasim {dermasim.__version__}, {a.cores} cores, {a.days:g} days, one session")
    print(f"{'fid':4} {'executor':24} {'cores':>5} {'members/s':>10} {'per core':>9} {'overhead':>9}")
    for f, name, cores, rate, per_core, over in rows:
        print(f"{f:4} {name:24} {cores:>5} {rate:>10.1f} {per_core:>9.1f} {over:>9}")
    print("overhead: share of each core's time not spent simulating (vs the raw member cost);"
          " includes executor start-up")


if __name__ == "__main__":
    sys.exit(main())
