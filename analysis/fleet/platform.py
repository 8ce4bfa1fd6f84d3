"""How the fleet starts its workers and talks to its kernels on this platform.

Two execution modes, chosen automatically:

* **native** (Linux, macOS): kernels talk over IPC (unix-domain) sockets in a private folder, and
  workers start from a ``forkserver``. No TCP port is used, and a worker starts from a clean,
  pre-loaded process in milliseconds.
* **portable** (Windows, or wherever unix-domain sockets or the forkserver are missing): kernels
  talk over TCP on 127.0.0.1, binding their ports themselves
  (:mod:`analysis.fleet.tcp_kernels`), and workers start with ``spawn``, a fresh interpreter
  each.

``ANALYSIS_FLEET_MODE=portable`` forces the portable mode (to test the Windows path on Linux);
``=native`` forces the native mode, and ``auto`` or no value chooses by platform.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from analysis.files import make_temporary_directory

MODE_VARIABLE = "ANALYSIS_FLEET_MODE"
# Imported once by the forkserver, so that each worker it forks starts with them loaded.
FORKSERVER_PRELOAD = ["analysis.fleet.worker_imports"]
# The build's own temporary folder (multiprocessing's, below): named ``analysis-build.<pid>@...``.
BUILD_DIR_STEM = "analysis-build"
LOOPBACK = "127.0.0.1"
CONNECTION_FILE = "connection.json"


@dataclass(frozen=True)
class Mode:
    """An execution mode: how kernels are reached and how worker processes start."""

    name: str
    transport: str  # "ipc" or "tcp"
    start_method: str  # a multiprocessing start method


NATIVE = Mode("native", transport="ipc", start_method="forkserver")
PORTABLE = Mode("portable", transport="tcp", start_method="spawn")
MODES = {mode.name: mode for mode in (NATIVE, PORTABLE)}


class FleetModeError(ValueError):
    """Raised when ``ANALYSIS_FLEET_MODE`` names no mode, or one this platform cannot run."""


def mode(environ=None, system: str | None = None) -> Mode:
    """The execution mode: forced by ``ANALYSIS_FLEET_MODE``, else chosen by platform."""
    environ = os.environ if environ is None else environ
    forced = environ.get(MODE_VARIABLE, "").strip().lower()
    if forced in ("", "auto"):
        return NATIVE if native_is_supported(system) else PORTABLE
    if forced not in MODES:
        raise FleetModeError(
            f"{MODE_VARIABLE}={environ[MODE_VARIABLE]!r} is not a fleet mode: use 'native' (IPC "
            "kernels, forkserver workers), 'portable' (TCP kernels, spawn workers) or 'auto'; "
            "unset it to choose by platform")
    if forced == NATIVE.name and not native_is_supported(system):
        raise FleetModeError(
            f"{MODE_VARIABLE}=native needs unix-domain sockets and the forkserver start method, "
            f"which this platform ({system or sys.platform}) lacks: set {MODE_VARIABLE}=portable "
            "or unset it")
    return MODES[forced]


def native_is_supported(system: str | None = None) -> bool:
    """Whether IPC kernel sockets and forkserver workers work here (not on Windows)."""
    system = system or sys.platform
    # Windows has neither (and Cygwin's forkserver and unix sockets are emulations at best).
    if system.startswith("win") or system == "cygwin":
        return False
    import zmq

    return (hasattr(socket, "AF_UNIX") and zmq.has("ipc")
            and "forkserver" in multiprocessing.get_all_start_methods())


def process_context(chosen: Mode | None = None):
    """The multiprocessing context for the build's worker pool.

    The forkserver gets the fleet's modules to pre-load; ``spawn`` starts each worker as a new
    interpreter that imports them itself.
    """
    chosen = chosen or mode()
    context = multiprocessing.get_context(chosen.start_method)
    if chosen.start_method == "forkserver":
        context.set_forkserver_preload(FORKSERVER_PRELOAD)
    return context


def start_workers_early(chosen: Mode | None = None) -> None:
    """Start the forkserver now, so that its imports (about a second on one core) overlap with
    whatever the build does before it needs workers (importing, planning, hashing inputs).

    The forkserver only imports; workers are forked from it when the pool asks for them. A
    build that finds nothing to run, or stops before it runs anything, ends it
    (:func:`stop_unused_workers`). Nothing is started in the portable mode, whose workers are
    spawned (and import these modules themselves, ``rfc3987_syntax`` included).
    """
    chosen = chosen or mode()
    if chosen.start_method != "forkserver":
        return
    global _started_early
    name_multiprocessing_folder()
    process_context(chosen)
    from multiprocessing import forkserver

    forkserver.ensure_running()
    _started_early = True


_started_early = False


def workers_in_use() -> None:
    """A pool is about to fork workers from the forkserver: it is no longer unused."""
    global _started_early
    _started_early = False


def stop_unused_workers() -> None:
    """End the forkserver that :func:`start_workers_early` started, if no pool has used it (a
    build that ran nothing, or stopped before it could); whoever started it calls this when the
    build returns. It may still be importing, and it
    holds the build's output streams open (workers inherit them from it), so a pipeline reading
    them (``make reports | tee``, a test harness) would wait until it finished."""
    global _started_early
    if not _started_early:
        return
    _started_early = False
    from multiprocessing import forkserver

    server = forkserver._forkserver  # multiprocessing has no public way to stop it
    if getattr(server, "_forkserver_pid", None) is None:
        return
    os.kill(server._forkserver_pid, signal.SIGKILL)
    server._stop()  # closes its pipe, reaps it and removes its socket


_multiprocessing_folder_named = False


def name_multiprocessing_folder() -> None:
    """Create multiprocessing's temporary folder (``pymp-*``, which holds the forkserver's
    socket) inside one named for this process, so that the next build removes it if this one is
    killed before multiprocessing can remove it at exit."""
    global _multiprocessing_folder_named
    from multiprocessing import util

    if _multiprocessing_folder_named:
        return
    _multiprocessing_folder_named = True
    owned = make_temporary_directory(Path(tempfile.gettempdir()), BUILD_DIR_STEM, private=True)
    previous, tempfile.tempdir = tempfile.tempdir, str(owned)
    try:
        util.get_temp_dir()  # made once per process, now inside ``owned``
    finally:
        tempfile.tempdir = previous
    # After multiprocessing removes its folder at exit (priority -100), remove ours.
    util.Finalize(None, shutil.rmtree, args=(owned, True), exitpriority=-200)


def kernel_settings(folder: Path, chosen: Mode | None = None) -> dict:
    """The KernelManager settings for a kernel whose files live in the private ``folder``.

    IPC sockets are files in that folder, so no port exists to collide. TCP listens on the
    loopback address only, and the kernel chooses its own ports (see
    :mod:`analysis.fleet.tcp_kernels`).
    """
    chosen = chosen or mode()
    address = str(Path(folder) / "kernel") if chosen.transport == "ipc" else LOOPBACK
    return {"transport": chosen.transport, "ip": address,
            "connection_file": str(Path(folder) / CONNECTION_FILE)}


def kernel_manager_class(asynchronous: bool = False, chosen: Mode | None = None) -> type:
    """The KernelManager class for the mode: jupyter_client's own for IPC; for TCP, one whose
    kernel binds its own ports. ``asynchronous`` for nbclient's cold path."""
    chosen = chosen or mode()
    if chosen.transport == "tcp":
        from analysis.fleet import tcp_kernels

        return tcp_kernels.AsyncTcpKernelManager if asynchronous else tcp_kernels.TcpKernelManager
    from jupyter_client import AsyncKernelManager, KernelManager

    return AsyncKernelManager if asynchronous else KernelManager
