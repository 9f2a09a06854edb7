"""Where the plans of a batch run: an executor takes the plans to run and the batch's Runner
(hdmigrate/batch.py: what happens before and after each run), runs every plan, and says whether
the batch was interrupted.

- `LocalExecutor` (the default): a pool of threads in the batch process, each running one plan's
  `hdmigrate run` child at a time (`--parallel N`).
- `DaskExecutor` (hdmigrate/executors_dask.py, `--executor dask --scheduler ADDRESS`): each plan
  one task on a Dask distributed cluster (the optional extra `hdmigrate[dask]`).
"""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor, as_completed
from urllib.parse import urlsplit

from .errors import ConfigError

EXECUTORS = ("local", "dask")


class LocalExecutor:
    name = "local"

    def __init__(self, parallel: int = 1):
        self.parallel = parallel

    def run(self, jobs: list, runner) -> bool:
        interrupted = False
        pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="hdm-batch")
        try:
            futures = [pool.submit(runner.run_one, job) for job in jobs]
            try:
                for fut in as_completed(futures):
                    fut.result()
            except KeyboardInterrupt:
                interrupted = True
                runner.emit.say("interrupted: stopping the running plans (they resume when the batch runs again)")
                runner.stop()
                for fut in futures:
                    fut.cancel()
                while True:   # let the running children finish their clean exit (code 4)
                    try:
                        pool.shutdown(wait=True, cancel_futures=True)
                        break
                    except KeyboardInterrupt:
                        runner.stop()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return interrupted


def scheduler_is_safe(address: str) -> bool:
    """TLS (`tls://`) anywhere, or any protocol on this machine (loopback, `inproc://`). A plain
    `tcp://` scheduler elsewhere would carry plan paths, results and the cluster's pickled code
    unencrypted and unauthenticated: anyone on the network could run code on the workers, which
    hold the secrets."""
    scheme, _, rest = address.partition("://") if "://" in address else ("tcp", "", address)
    scheme = scheme.lower()
    if scheme == "tls":
        return True
    if scheme == "inproc":
        return True
    host = urlsplit(f"//{rest}").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_executor(name: str, *, parallel: int = 1, scheduler: str | None = None,
                  allow_insecure_scheduler: bool = False, retries: int = 2, retry_delay: float = 30.0):
    """The executor the command line asked for, or ConfigError (exit 2) before anything runs."""
    if name == "local":
        if scheduler:
            raise ConfigError("--scheduler is for --executor dask")
        return LocalExecutor(parallel)
    if name != "dask":
        raise ConfigError(f"unknown executor {name!r} (one of: {', '.join(EXECUTORS)})")
    if not scheduler:
        raise ConfigError("--executor dask needs --scheduler ADDRESS (for example tls://dask.internal:8786)")
    if not scheduler_is_safe(scheduler) and not allow_insecure_scheduler:
        raise ConfigError(f"refusing the Dask scheduler {scheduler}: neither on this machine nor TLS (tls://); "
                          "plan paths, results and task code would cross the network in the clear. "
                          "Use tls:// (docs/batch.md), or --allow-insecure-scheduler on a network you trust")
    try:
        from .executors_dask import DaskExecutor
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] in ("distributed", "dask"):
            raise ConfigError("the Dask executor needs the `distributed` package: pip install 'hdmigrate[dask]'") from None
        raise
    return DaskExecutor(scheduler, retries=retries, retry_delay=retry_delay)
