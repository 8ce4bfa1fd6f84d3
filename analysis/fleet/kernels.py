"""Warm Jupyter kernels: start once per worker, import the heavy libraries once, run many units.

Starting a kernel and importing pandas, statsmodels and seaborn costs seconds per notebook; a
fleet of small notebooks spends most of its time there. A :class:`WarmKernel` starts one
ipykernel over IPC sockets in a private folder (on Windows, TCP on 127.0.0.1 with ports the
kernel binds itself: :mod:`analysis.fleet.platform`), so kernels started together cannot
collide; it imports the libraries the notebooks use, and then executes unit after unit through
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
from functools import lru_cache
from pathlib import Path

from analysis.files import make_temporary_directory, remove_abandoned
from analysis.fleet import platform as fleet_platform

# Every module of the `analysis` package a notebook may use (the fleet's and the command
# line's are not): imported at warm-up, so a unit never meets a module the snapshot lacks.
IMPORT_ANALYSIS_CODE = """
import importlib as _importlib, pkgutil as _pkgutil, analysis as _analysis
for _module in _pkgutil.walk_packages(_analysis.__path__, "analysis."):
    if not _module.name.startswith(("analysis.fleet", "analysis.cli", "analysis.__main__")):
        _importlib.import_module(_module.name)
del _importlib, _pkgutil, _analysis, _module
"""
# Imported once per kernel so that units do not pay for them; the list is what the notebooks
# use. The snapshot of the package's state (analysis.fleet.kernel_state) is kept under a name
# of its own in sys.modules, so it survives the package being dropped.
WARM_UP_CODE = """
import matplotlib
matplotlib.use("Agg")
import numpy, pandas, scipy, statsmodels.api, seaborn, matplotlib.pyplot
import pyarrow.parquet
""" + IMPORT_ANALYSIS_CODE + """
import sys as _sys, analysis.fleet.kernel_state as _state
_sys.modules["_analysis_kernel_state"] = _state
_state.take()
del _sys, _state
"""
# Between units: forget the previous unit's variables, figures and any state it changed. The
# third-party libraries stay imported (that is what makes the kernel warm). The `analysis`
# package stays imported too unless the unit changed its state (a module constant rebound or
# changed in place, `spec.DEFAULT_COVARIATES = ...`): then every module of the package is
# dropped from sys.modules and imported afresh, so such a notebook cannot change the next
# unit's numbers, while units that change nothing do not pay for re-importing the package.
# pandas options and matplotlib settings go back to their defaults too.
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
if _sys.modules["_analysis_kernel_state"].changed():
    for _stale in [_m for _m in _sys.modules if _m == "analysis" or _m.startswith("analysis.")]:
        _sys.modules.pop(_stale)
import pandas as _pd, matplotlib as _mpl, matplotlib.pyplot as _plt
_plt.close("all")
with _warnings.catch_warnings():
    _warnings.simplefilter("ignore")
    _pd.reset_option("all")
_mpl.rcdefaults()
_mpl.use("Agg")
""" + IMPORT_ANALYSIS_CODE + """
_sys.modules["_analysis_kernel_state"].take()
for _leftover in ("_sys", "_warnings", "_ip", "_name", "_stale", "_pd", "_mpl", "_plt"):
    globals().pop(_leftover, None)
globals().pop("_leftover", None)
"""
# The fleet runs one kernel per worker and more workers than cores; a numerical library that
# also starts a thread per core makes the kernels' threads fight for the cores (measured: a
# province unit took 6.2 s with two BLAS threads beside a busy neighbour, 1.5 s with one).
SINGLE_THREADED = {name: "1" for name in (
    "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS")}


def kernel_environment() -> dict[str, str]:
    """The environment a warm kernel starts with: this process's, with numerical libraries
    held to one thread each (the fleet's parallelism is its processes)."""
    return {**os.environ, **SINGLE_THREADED}


# No history database: a warm kernel runs thousands of cells, which would otherwise go one by
# one into the user's IPython history file (about 2% of the cells' time, measured on 20 units).
KERNEL_ARGUMENTS = ["--HistoryManager.enabled=False"]
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
        self.cwd = Path(cwd)
        self._socket_dir = kernel_directory()
        # IPC sockets in the private folder, or (portable mode) TCP on 127.0.0.1 with ports the
        # kernel binds itself; either way its connection file is in the private folder.
        manager_class = fleet_platform.kernel_manager_class()
        self.manager = manager_class(kernel_name="python3",
                                     **fleet_platform.kernel_settings(self._socket_dir))
        _running.add(self)
        try:
            self.manager.start_kernel(cwd=str(self.cwd), env=kernel_environment(),
                                      extra_arguments=KERNEL_ARGUMENTS)
        except BaseException:
            _running.discard(self)
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            raise
        self.units_run = 0
        self.reset_seconds = 0.0  # of the last unit
        self._closed = False
        self.client = None
        try:
            self.client = self._connect()
            self._run_quietly(WARM_UP_CODE)
        except BaseException:
            self.shutdown()
            raise

    def _connect(self):
        """One client for the kernel's life, shared by its set-up code and every unit.

        papermill would connect a new client per notebook and wait for its iopub subscription
        to join (about 0.2 s a unit), and leave it connected; a blocking client is not tied to
        an event loop, so the same one serves every papermill run in this thread.
        """
        client = self.manager.client()
        # No heartbeat thread: the manager tells whether the kernel process is alive.
        client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=True)
        try:
            client.wait_for_ready(timeout=START_TIMEOUT_SECONDS)
        except RuntimeError as error:
            client.stop_channels()
            raise KernelStartError(f"kernel did not start: {error}") from error
        client.allow_stdin = False
        return client

    def _run_quietly(self, code: str) -> None:
        """Run set-up code; return once the kernel has replied and gone idle.

        Waiting for the idle status too leaves nothing of this code on the iopub channel when
        the next notebook's first cell runs.
        """
        message_id = self.client.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        reply = self._message_for(message_id, self.client.get_shell_msg, deadline)
        self._message_for(message_id, self.client.get_iopub_msg, deadline,
                          lambda message: message["msg_type"] == "status"
                          and message["content"]["execution_state"] == "idle")
        if reply["content"]["status"] != "ok":
            raise KernelStartError(f"kernel set-up failed: {reply['content'].get('evalue')}")

    @staticmethod
    def _message_for(message_id: str, receive, deadline: float, wanted=lambda message: True):
        """The first message answering ``message_id`` that is ``wanted``; others are dropped."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise KernelStartError(f"kernel did not answer within {START_TIMEOUT_SECONDS} s")
            try:
                message = receive(timeout=remaining)
            except queue.Empty as error:
                raise KernelStartError("kernel did not answer") from error
            if message["parent_header"].get("msg_id") == message_id and wanted(message):
                return message

    def is_alive(self) -> bool:
        return self.manager.is_alive()

    def execute(self, notebook: Path, output: Path, parameters: dict) -> None:
        """Execute ``notebook`` with papermill in this kernel and write ``output``.

        Raises ``PapermillExecutionError`` when a cell fails, as papermill does; the output
        notebook is written either way.
        """
        import papermill

        _register_connected_engine()
        started = time.perf_counter()
        if self.units_run:
            self._run_quietly(RESET_CODE)
        self.reset_seconds = time.perf_counter() - started
        self.units_run += 1
        # Execution counts are renumbered from 1 by the caller, which rewrites the notebook
        # anyway (analysis.fleet.build.finish_notebook): one read and write, not two.
        papermill.execute_notebook(str(notebook), str(output), parameters=parameters,
                                   cwd=str(self.cwd), progress_bar=False,
                                   kernel_name="python3", km=self.manager,
                                   request_save_on_cell_execute=False,
                                   engine_name=CONNECTED_ENGINE, kc=self.client)

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        _running.discard(self)
        try:
            if self.client is not None:
                self.client.stop_channels()
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


CONNECTED_ENGINE = "analysis-connected-client"


@lru_cache(maxsize=1)
def _register_connected_engine() -> None:
    """papermill's nbclient engine, run through a kernel client that is already connected
    (``kc``), so no client is started, waited for or left behind per notebook."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class ConnectedClientEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False,
                                     stdout_file=None, stderr_file=None, start_timeout=60,
                                     execution_timeout=None, kc=None, **kwargs):
            # As NBClientEngine.execute_managed_notebook, with the client handed over.
            options = merge_kwargs(remove_args(["input_path", "timeout", "startup_timeout"],
                                               **kwargs),
                                   timeout=execution_timeout or kwargs.get("timeout"),
                                   startup_timeout=start_timeout, kernel_name=kernel_name,
                                   log=logger, log_output=log_output, stdout_file=stdout_file,
                                   stderr_file=stderr_file)
            client = PapermillNotebookClient(nb_man, **options)
            client.kc = kc  # nbclient starts a client only when it has none
            return client.execute()

    papermill_engines.register(CONNECTED_ENGINE, ConnectedClientEngine)


def renumber_cells(notebook) -> None:
    """Number a notebook's executed code cells 1, 2, ... (in place)."""
    count = 0
    for cell in notebook.cells:
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count


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
