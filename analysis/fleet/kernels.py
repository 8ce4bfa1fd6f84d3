"""Warm Jupyter kernels: start once per worker, import the heavy libraries once, run many units.

Starting a kernel and importing pandas, statsmodels and seaborn costs seconds per notebook; a
fleet of small notebooks spends most of its time there. A :class:`WarmKernel` starts one
ipykernel over IPC sockets in a private folder (no TCP ports, so kernels started together cannot
collide), imports the libraries the notebooks use, and then executes unit after unit through
papermill, clearing the user namespace before each one. The executed notebooks are ordinary
papermill notebooks; execution counts are renumbered from 1 so they read exactly as a fresh
kernel's would.

A kernel's sockets and connection file live in one private folder of the system's temporary
folder, named for the worker that owns it (:func:`analysis.files.temporary_name`). A kernel
exits by itself within a second of its worker's death (ipykernel watches its parent); a build
removes the folders of dead workers, and ends any kernel still using one
(:func:`remove_abandoned_kernels`).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from analysis.files import make_temporary_directory, remove_abandoned

# Imported once per kernel so that units do not pay for them; the list is what the notebooks use.
WARM_UP_CODE = """
import matplotlib
matplotlib.use("Agg")
import numpy, pandas, scipy, statsmodels.api, seaborn, matplotlib.pyplot
import pyarrow.parquet
import analysis.reports.pages, analysis.reports.effect_sections
"""
# Between units: forget the previous unit's variables, figures and any state it changed. The
# third-party libraries stay imported (that is what makes the kernel warm), but every module of
# the `analysis` package is dropped from sys.modules, so the next unit imports it afresh: a
# notebook that mutates a module constant (`spec.DEFAULT_COVARIATES = ...`) cannot change the
# next unit's numbers. pandas options and matplotlib settings go back to their defaults too.
RESET_CODE = """
import sys as _sys, warnings as _warnings
_ip = get_ipython()
# The notebook's own names and output history (cheaper than %reset, which also collects
# garbage; figures are closed explicitly below).
for _name in [_n for _n in _ip.user_ns if not _n.startswith("_") and _n not in _ip.user_ns_hidden]:
    del _ip.user_ns[_name]
_ip.user_ns["Out"].clear()  # what displayhook.flush() does, without its gc.collect()
_ip.user_ns.update({"_": "", "__": "", "___": ""})
# Cells count from 1 again, as in a fresh kernel, so tracebacks and papermill's failure banner
# ("In [3]") do not depend on the units this kernel ran before (what %reset does).
_ip.history_manager.reset(new_session=True)
_ip.execution_count = 1
for _stale in [_m for _m in _sys.modules if _m == "analysis" or _m.startswith("analysis.")]:
    _sys.modules.pop(_stale)
import pandas as _pd, matplotlib as _mpl, matplotlib.pyplot as _plt
_plt.close("all")
with _warnings.catch_warnings():
    _warnings.simplefilter("ignore")
    _pd.reset_option("all")
_mpl.rcdefaults()
_mpl.use("Agg")
import analysis.reports.pages, analysis.reports.effect_sections
for _leftover in ("_sys", "_warnings", "_ip", "_name", "_stale", "_pd", "_mpl", "_plt"):
    globals().pop(_leftover, None)
globals().pop("_leftover", None)
"""
START_TIMEOUT_SECONDS = 120
KERNEL_DIR_STEM = "analysis-kernel"


class KernelStartError(RuntimeError):
    """Raised when a kernel does not become ready within the start-up time-out."""


class WarmKernel:
    """One long-lived kernel that executes notebooks one after another.

    Parameters
    ----------
    cwd : Path
        Working directory of the kernel (the notebooks folder, as for a plain papermill run).
    """

    def __init__(self, cwd: Path):
        from jupyter_client import KernelManager

        self.cwd = Path(cwd)
        self._socket_dir = kernel_directory()
        self.manager = KernelManager(kernel_name="python3", transport="ipc",
                                     ip=str(self._socket_dir / "kernel"),
                                     connection_file=str(self._socket_dir / "connection.json"))
        _running.add(self)
        self.manager.start_kernel(cwd=str(self.cwd))
        self.units_run = 0
        self._closed = False
        self._run_quietly(WARM_UP_CODE)

    def _run_quietly(self, code: str) -> None:
        """Run set-up code and wait for its reply on the shell channel only.

        A fresh client per call: papermill's client runs its own event loop in this thread, which
        would strand a long-lived client's sockets; the shell channel needs no iopub subscription,
        so there is no slow-joiner wait either.
        """
        client = self.manager.client()
        client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        try:
            message_id = client.execute(code, silent=True, store_history=False)
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise KernelStartError(f"kernel did not answer within {START_TIMEOUT_SECONDS} s")
                try:
                    reply = client.get_shell_msg(timeout=remaining)
                except queue.Empty as error:
                    raise KernelStartError("kernel did not answer") from error
                if reply["parent_header"].get("msg_id") == message_id:
                    break
        finally:
            client.stop_channels()
        if reply["content"]["status"] != "ok":
            raise KernelStartError(f"kernel set-up failed: {reply['content'].get('evalue')}")

    def is_alive(self) -> bool:
        return self.manager.is_alive()

    def execute(self, notebook: Path, output: Path, parameters: dict) -> None:
        """Execute ``notebook`` with papermill in this kernel and write ``output``.

        Raises ``PapermillExecutionError`` when a cell fails, as papermill does; the output
        notebook is written either way.
        """
        import papermill

        if self.units_run:
            self._run_quietly(RESET_CODE)
        self.units_run += 1
        try:
            papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                       cwd=str(self.cwd), progress_bar=False,
                                       kernel_name="python3", km=self.manager,
                                       request_save_on_cell_execute=False)
        finally:
            if output.exists():
                renumber_execution_counts(output)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        _running.discard(self)
        try:
            if self.manager.has_kernel:
                self.manager.shutdown_kernel(now=True)
        finally:
            self.manager.cleanup_resources()
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def kill(self) -> None:
        """End the kernel at once, from any thread (no messages, no event loop)."""
        _running.discard(self)
        process = getattr(self.manager.provisioner, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
        shutil.rmtree(self._socket_dir, ignore_errors=True)


def renumber_execution_counts(path: Path) -> None:
    """Number executed code cells 1, 2, ... as a fresh kernel would."""
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    count = 0
    for cell in notebook.cells:
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
    nbformat.write(notebook, path)


_local = threading.local()
_running: set[WarmKernel] = set()


def kernel_directory() -> Path:
    """A private folder for one kernel's sockets and connection file.

    It is in the system's temporary folder, not the project: a socket's path must be short
    (about 100 characters).
    """
    return make_temporary_directory(Path(tempfile.gettempdir()), KERNEL_DIR_STEM, private=True)


def kill_all() -> None:
    """End every kernel this process started; for a worker whose build has died."""
    for kernel in list(_running):
        kernel.kill()


def remove_abandoned_kernels(temp_dir: Path | None = None) -> list[Path]:
    """Remove the kernel folders of processes that are gone, ending any kernel still using one.

    Such a kernel is found by its command line, which names its connection file (Linux; where
    there is no ``/proc`` the kernel ends by itself when it notices its parent is gone).
    """
    temp_dir = Path(temp_dir or tempfile.gettempdir())
    removed = remove_abandoned(temp_dir, KERNEL_DIR_STEM)
    for folder in removed:
        for pid in _processes_naming(str(folder)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    return removed


def _processes_naming(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else []:
        try:
            command_line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        if text in command_line:
            found.append(int(entry.name))
    return found


def warm_kernel(cwd: Path) -> WarmKernel:
    """This thread's warm kernel, started on first use and restarted if it died."""
    kernel = getattr(_local, "kernel", None)
    if kernel is not None and (kernel.cwd != Path(cwd) or not kernel.is_alive()):
        kernel.shutdown()
        kernel = None
    if kernel is None:
        kernel = WarmKernel(cwd)
        _local.kernel = kernel
        _register_shutdown(kernel)
    return kernel


def _register_shutdown(kernel: WarmKernel) -> None:
    # Worker processes of multiprocessing end with os._exit, which skips atexit; Finalize runs.
    import atexit
    from multiprocessing import util

    util.Finalize(kernel, kernel.shutdown, exitpriority=10)
    atexit.register(kernel.shutdown)


def shutdown_thread_kernel() -> None:
    kernel = getattr(_local, "kernel", None)
    if kernel is not None:
        kernel.shutdown()
        _local.kernel = None
