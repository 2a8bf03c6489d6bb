"""Executors for :func:`dermasim.cohort` beyond the standard library's.

Any ``concurrent.futures.Executor`` works: ``ProcessPoolExecutor``, Dask distributed's
``Client.get_executor()``, or :class:`RayExecutor` below (Ray has no ``Executor`` of its own).
Each task is one shard (hundreds of members), so per-task overhead stays small.
"""

from __future__ import annotations

from concurrent.futures import Executor, Future
from typing import Any, Callable, Dict, Optional


def _call(fn: Callable[..., Any], args: tuple, kwargs: Dict[str, Any]) -> Any:
    return fn(*args, **kwargs)


class RayExecutor(Executor):
    """``concurrent.futures.Executor`` over Ray tasks (local ``ray.init(num_cpus=2)`` or a
    cluster: ``ray.init(address="auto")``). ``num_cpus`` is reserved per task; match it to
    ``threads_per_task`` of :func:`dermasim.cohort`."""

    def __init__(self, num_cpus: float = 1, **options: Any):
        import ray

        if not ray.is_initialized():
            raise RuntimeError("call ray.init(...) before making a RayExecutor")
        self._ray = ray
        self._task = ray.remote(_call).options(num_cpus=num_cpus, **options)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        return self._task.remote(fn, args, kwargs).future()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


def dask_executor(client: Optional[Any] = None) -> Executor:
    """Dask distributed's executor: ``client.get_executor()`` (a local cluster when None)."""
    if client is None:
        from dask.distributed import Client

        client = Client(processes=True)
    return client.get_executor()
