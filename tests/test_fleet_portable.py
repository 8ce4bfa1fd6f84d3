"""The fleet's portable mode (Windows): TCP kernels that bind their own ports, spawned workers.

Forced here with ``ANALYSIS_FLEET_MODE=portable``, so the Windows path runs on Linux. What a
Windows machine alone would show (its own process handles, ``spawn`` of a Windows interpreter) is
not tested here; everything the fleet itself does differently is.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from analysis import config
from analysis.files import process_exists
from analysis.fleet import build, kernels, tcp_kernels
from analysis.fleet import platform as fleet_platform
from analysis.fleet.platform import MODE_VARIABLE, NATIVE, PORTABLE, FleetModeError

# ----------------------------------------------------------------------------------------------
# Choosing the mode


@pytest.mark.parametrize("system, expected", [("win32", PORTABLE), ("cygwin", PORTABLE),
                                              ("linux", NATIVE), ("darwin", NATIVE)])
def test_the_platform_chooses_the_mode(system, expected):
    assert fleet_platform.mode(environ={}, system=system) == expected
    assert fleet_platform.mode(environ={MODE_VARIABLE: "auto"}, system=system) == expected


@pytest.mark.parametrize("value, expected", [("portable", PORTABLE), (" Portable ", PORTABLE),
                                             ("native", NATIVE), ("", NATIVE)])
def test_the_environment_variable_forces_the_mode(value, expected):
    assert fleet_platform.mode(environ={MODE_VARIABLE: value}, system="linux") == expected


def test_the_portable_mode_can_be_forced_on_windows_and_native_cannot():
    assert fleet_platform.mode(environ={MODE_VARIABLE: "portable"}, system="win32") == PORTABLE
    with pytest.raises(FleetModeError, match=r"native needs unix-domain sockets.*=portable"):
        fleet_platform.mode(environ={MODE_VARIABLE: "native"}, system="win32")


def test_an_unknown_mode_is_refused_with_the_names_it_knows():
    with pytest.raises(FleetModeError,
                       match=r"'tcp' is not a fleet mode: use 'native'.*'portable'"):
        fleet_platform.mode(environ={MODE_VARIABLE: "tcp"}, system="linux")


def test_the_mode_is_read_from_the_process_environment(monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, "portable")
    assert fleet_platform.mode() == PORTABLE
    monkeypatch.setenv(MODE_VARIABLE, "windows")
    with pytest.raises(FleetModeError):
        fleet_platform.mode()
    monkeypatch.delenv(MODE_VARIABLE)
    assert fleet_platform.mode() == NATIVE  # this machine: Linux


def test_the_build_command_refuses_an_unknown_mode_before_it_runs_anything(tmp_path):
    from project_tree import copy_project, run

    tree = copy_project(tmp_path / "project")
    refused = run(tree, "build", "--only", "methods", **{MODE_VARIABLE: "windows"})
    assert refused.returncode == 1
    assert "build: ANALYSIS_FLEET_MODE='windows' is not a fleet mode" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tree / "reports").exists()


def test_each_mode_has_its_workers_and_kernels(tmp_path):
    assert fleet_platform.process_context(PORTABLE).get_start_method() == "spawn"
    assert fleet_platform.process_context(NATIVE).get_start_method() == "forkserver"
    assert fleet_platform.kernel_settings(tmp_path, PORTABLE) == {
        "transport": "tcp", "ip": "127.0.0.1", "connection_file": str(tmp_path / "connection.json")}
    assert fleet_platform.kernel_settings(tmp_path, NATIVE) == {
        "transport": "ipc", "ip": str(tmp_path / "kernel"),
        "connection_file": str(tmp_path / "connection.json")}
    from jupyter_client import AsyncKernelManager, KernelManager

    assert fleet_platform.kernel_manager_class(False, PORTABLE) is tcp_kernels.TcpKernelManager
    assert fleet_platform.kernel_manager_class(True, PORTABLE) is tcp_kernels.AsyncTcpKernelManager
    assert fleet_platform.kernel_manager_class(False, NATIVE) is KernelManager
    assert fleet_platform.kernel_manager_class(True, NATIVE) is AsyncKernelManager


WORKER_PROBE = """
import json
import sys
from concurrent.futures import ProcessPoolExecutor

from analysis.fleet import platform


def probe():
    loaded = {name: name in sys.modules
              for name in ("papermill", "nbconvert", "analysis.fleet.build")}
    import nbformat
    from jsonschema import FormatChecker

    notebook = nbformat.read(sys.argv[1], as_version=4)
    nbformat.validate(notebook)  # the notebook schema is still checked
    broken = nbformat.v4.new_notebook()
    broken.cells.append({"cell_type": "code"})
    try:
        nbformat.validate(broken)
        invalid_refused = False
    except nbformat.ValidationError:
        invalid_refused = True
    return {"loaded": loaded, "rfc3987_syntax": repr(sys.modules.get("rfc3987_syntax", "absent")),
            "iri checked": "iri" in FormatChecker.checkers, "invalid refused": invalid_refused}


if __name__ == "__main__":
    platform.start_workers_early(platform.NATIVE)
    with ProcessPoolExecutor(1, mp_context=platform.process_context(platform.NATIVE)) as pool:
        print(json.dumps(pool.submit(probe).result()))
"""


def test_native_workers_start_with_the_notebook_tools_imported(tmp_path):
    """The forkserver, started before the build imports anything, pre-loads papermill, nbconvert
    and the build for every worker, without the grammar compiler that jsonschema would import
    for a string format no notebook schema uses; notebooks are still validated."""
    script = tmp_path / "probe.py"
    script.write_text(WORKER_PROBE)
    done = subprocess.run([sys.executable, str(script),
                           str(config.NOTEBOOKS_DIR / "province.ipynb")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "loaded": {"papermill": True, "nbconvert": True, "analysis.fleet.build": True},
        "rfc3987_syntax": "None", "iri checked": False, "invalid refused": True}


def test_a_forkserver_started_early_for_nothing_is_ended(tmp_path):
    """A build that runs nothing ends the forkserver it started early: mid-import, it would
    hold the build's output open and keep a pipeline (make | tee) waiting."""
    script = tmp_path / "early.py"
    script.write_text(
        "from multiprocessing import forkserver\n"
        "from analysis.files import process_exists\n"
        "from analysis.fleet import platform\n"
        "if __name__ == '__main__':\n"
        "    platform.start_workers_early(platform.NATIVE)\n"
        "    pid = forkserver._forkserver._forkserver_pid\n"
        "    print(process_exists(pid))\n"
        "    platform.stop_unused_workers()\n"
        "    platform.stop_unused_workers()  # twice is harmless\n"
        "    print(process_exists(pid))\n"
        "    platform.start_workers_early(platform.NATIVE)\n"
        "    platform.workers_in_use()  # a pool forks from it: no longer unused\n"
        "    platform.stop_unused_workers()\n"
        "    print(process_exists(forkserver._forkserver._forkserver_pid))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]


# ----------------------------------------------------------------------------------------------
# TCP kernels bind their own ports


class _RecordingProvisioner(tcp_kernels.KernelBindsPortsProvisioner):
    """Remembers the connection file as it was just before the kernel process started."""

    async def launch_kernel(self, cmd, **kwargs):
        self.file_before_launch = json.loads(Path(self.parent.connection_file).read_text())
        return await super().launch_kernel(cmd, **kwargs)


class _RecordingManager(tcp_kernels.TcpKernelManager):
    provisioner_class = _RecordingProvisioner


def _tcp_manager(folder: Path, manager_class=tcp_kernels.TcpKernelManager, **settings):
    return manager_class(kernel_name="python3",
                         **{**fleet_platform.kernel_settings(folder, PORTABLE), **settings})


def _ask(manager, expressions: dict[str, str]) -> dict[str, str]:
    """Evaluate ``expressions`` in the kernel; their values as text."""
    client = manager.client()
    client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        message_id = client.execute("", user_expressions=expressions)
        while True:
            reply = client.get_shell_msg(timeout=60)
            if reply["parent_header"].get("msg_id") == message_id:
                break
    finally:
        client.stop_channels()
    values = reply["content"]["user_expressions"]
    return {name: value["data"]["text/plain"] for name, value in values.items()}


def _listening_addresses() -> dict[int, set[str]]:
    """Every listening TCP port of this machine with the addresses it listens on (Linux)."""
    listening: dict[int, set[str]] = {}
    for table in ("tcp", "tcp6"):
        path = Path("/proc/net") / table
        for line in path.read_text().splitlines()[1:] if path.exists() else []:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            if table == "tcp":
                address = socket.inet_ntoa(bytes.fromhex(address)[::-1])
            listening.setdefault(int(port, 16), set()).add(address)
    return listening


def _start_one_kernel(barrier, results) -> None:
    from jupyter_client.connect import LocalPortCache

    folder = kernels.kernel_directory()
    manager = _tcp_manager(folder, _RecordingManager)
    try:
        barrier.wait()  # every kernel of every process starts at the same moment
        manager.start_kernel(cwd=str(folder))
        bound = json.loads(Path(manager.connection_file).read_text())
        ports = [bound[name] for name in tcp_kernels.PORT_NAMES]
        listening = _listening_addresses()
        results.put({
            "answer": _ask(manager, {"answer": "6 * 7", "pid": "__import__('os').getpid()"}),
            "ports": ports, "ip": bound["ip"],
            "manager_ports": [getattr(manager, name) for name in tcp_kernels.PORT_NAMES],
            "before": [manager.provisioner.file_before_launch[name]
                       for name in tcp_kernels.PORT_NAMES],
            "addresses": sorted({address for port in ports
                                 for address in listening.get(port, {"not listening"})}),
            "port_cache": sorted(LocalPortCache.instance().currently_used_ports)})
        barrier.wait()  # hold every kernel until all are running: their ports coexist
    except BaseException as error:
        barrier.abort()
        results.put({"error": f"{type(error).__name__}: {error}"})
    finally:
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
        manager.cleanup_resources()
        shutil.rmtree(folder, ignore_errors=True)


def _start_kernels_in_threads(count: int, barrier, results) -> None:
    """Runs in a spawned process: ``count`` kernels started at once from as many threads."""
    threads = [threading.Thread(target=_start_one_kernel, args=(barrier, results))
               for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.slow
def test_kernels_started_at_once_in_several_processes_never_share_a_port():
    """Six kernels from two processes (three threads each) start at the same instant.
    jupyter_client's port cache would keep apart only the kernels of one process; here every
    port is chosen by the kernel that binds it."""
    context = multiprocessing.get_context("spawn")
    processes_count, threads_count = 2, 3
    barrier = context.Barrier(processes_count * threads_count, timeout=120)
    results = context.Queue()
    processes = [context.Process(target=_start_kernels_in_threads,
                                 args=(threads_count, barrier, results))
                 for _ in range(processes_count)]
    for process in processes:
        process.start()
    reports = [results.get(timeout=240) for _ in range(processes_count * threads_count)]
    for process in processes:
        process.join(timeout=60)
    assert not [report["error"] for report in reports if "error" in report]
    assert [report["answer"]["answer"] for report in reports] == ["42"] * 6
    assert len({report["answer"]["pid"] for report in reports}) == 6
    ports = [port for report in reports for port in report["ports"]]
    assert len(ports) == 30 and len(set(ports)) == 30, f"a port served two kernels: {ports}"
    for report in reports:
        assert report["before"] == [0] * 5, "ports were chosen before the kernel started"
        assert report["manager_ports"] == report["ports"]  # the client uses the bound ports
        assert report["ip"] == "127.0.0.1"
        assert report["addresses"] == ["127.0.0.1"], "a kernel port is reachable off-machine"
        assert report["port_cache"] == []  # jupyter_client's pre-allocation was not used
    assert all(process.exitcode == 0 for process in processes)


class _ShortTimeoutProvisioner(tcp_kernels.KernelBindsPortsProvisioner):
    bind_timeout = 1


class _ShortTimeoutManager(tcp_kernels.TcpKernelManager):
    provisioner_class = _ShortTimeoutProvisioner


def _fake_kernel(folder: Path, code: str) -> Path:
    """A folder whose ``ipykernel_launcher`` runs ``code``: ``python -m`` looks in the working
    directory first."""
    folder.mkdir()
    (folder / "ipykernel_launcher.py").write_text(code)
    return folder


def test_a_kernel_that_dies_at_start_is_reported_with_its_error_output(tmp_path):
    fake = _fake_kernel(tmp_path / "fake", "import sys\n"
                        "sys.stderr.write('planted start-up failure\\n')\nsys.exit(3)\n")
    manager = _tcp_manager(tmp_path)
    with pytest.raises(kernels.KernelStartError,
                       match=r"(?s)exited with status 3 before it bound its ports.*"
                             r"kernel-stderr\.log.*planted start-up failure"):
        manager.start_kernel(cwd=str(fake))
    assert not manager.has_kernel


def test_a_kernel_that_never_binds_is_ended_after_the_timeout(tmp_path):
    fake = _fake_kernel(tmp_path / "fake", "import time\ntime.sleep(120)\n")
    manager = _tcp_manager(tmp_path, _ShortTimeoutManager)
    started = time.monotonic()
    with pytest.raises(kernels.KernelStartError, match="did not write its ports .* within 1 s"):
        manager.start_kernel(cwd=str(fake))
    assert time.monotonic() - started < 30
    assert not manager.has_kernel  # killed and reaped, not left running


def test_a_kernel_listens_on_the_loopback_address_only(tmp_path):
    manager = _tcp_manager(tmp_path, ip="0.0.0.0")
    with pytest.raises(ValueError, match="loopback address"):
        manager.start_kernel(cwd=str(tmp_path))
    assert not manager.has_kernel


@pytest.mark.slow
def test_a_warm_kernel_in_portable_mode_keeps_its_files_in_its_private_folder(monkeypatch,
                                                                               tmp_path):
    monkeypatch.setenv(MODE_VARIABLE, "portable")
    kernel = kernels.WarmKernel(tmp_path)
    folder = kernel._socket_dir
    try:
        assert isinstance(kernel.manager, tcp_kernels.TcpKernelManager)
        assert folder.name.startswith(kernels.KERNEL_DIR_STEM)
        assert folder.stat().st_mode & 0o777 == 0o700
        info = json.loads((folder / "connection.json").read_text())
        assert info["transport"] == "tcp" and info["ip"] == "127.0.0.1"
        assert all(info[name] > 0 for name in tcp_kernels.PORT_NAMES)
        # The command line names the folder: how remove_abandoned_kernels finds the kernel.
        command_line = Path(f"/proc/{kernel.manager.provisioner.pid}/cmdline").read_bytes()
        assert str(folder).encode() in command_line
        assert kernel.is_alive()
    finally:
        kernel.shutdown()
    assert not folder.exists()


# ----------------------------------------------------------------------------------------------
# Units in portable mode: cold and warm kernels, spawned workers, a whole build

PROBE = """import json, os
from pathlib import Path
from ipykernel.connect import get_connection_file
from analysis.reports.report import UnitReport

connection = json.loads(Path(get_connection_file()).read_text())
worker_command = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().replace(b"\\0", b" ").decode()
report = UnitReport(unit_tag, f"Probe {unit_tag}")
report.say(f"Probe {unit_tag}.")
report.set_summary(json.dumps({"transport": connection["transport"], "ip": connection["ip"],
                               "kernel": os.getpid(), "worker": os.getppid(),
                               "worker_command": worker_command}))
report.save(results_path)
"""


def _probe_paths(processed_dir: Path, root: Path) -> build.BuildPaths:
    """A notebooks folder with one notebook that reports how its kernel was reached."""
    notebooks = root / "notebooks"
    notebooks.mkdir(parents=True)
    notebook = nbformat.v4.new_notebook()
    parameters = nbformat.v4.new_code_cell(
        'unit_tag = "p0"\nprocessed_dir = None\nresults_path = None')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell(PROBE)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, notebooks / "probe.ipynb")
    return build.BuildPaths(notebooks, processed_dir, root / "reports", config.RAW_DIR)


def _probe(tag: str) -> build.Unit:
    return build.Unit(tag, "probe.ipynb", f"Probe {tag}", {"unit_tag": tag})


def _probed(paths: build.BuildPaths, tag: str) -> dict:
    return json.loads(json.loads((paths.results_dir / f"{tag}.json").read_text())["summary"])


@pytest.mark.slow
def test_cold_and_warm_units_run_in_tcp_kernels_in_portable_mode(processed_dir, tmp_path,
                                                                 monkeypatch):
    paths = _probe_paths(processed_dir, tmp_path)
    monkeypatch.setenv(MODE_VARIABLE, "portable")
    try:
        assert build.execute_unit(_probe("cold"), paths, warm=False).status == "ok"
        assert build.execute_unit(_probe("warm"), paths, warm=True).status == "ok"
    finally:
        kernels.shutdown_thread_kernel()
    monkeypatch.setenv(MODE_VARIABLE, "native")
    assert build.execute_unit(_probe("native"), paths, warm=False).status == "ok"
    for tag in ("cold", "warm"):
        assert {key: _probed(paths, tag)[key] for key in ("transport", "ip")} == {
            "transport": "tcp", "ip": "127.0.0.1"}, tag
    assert _probed(paths, "native")["transport"] == "ipc"
    leftovers = [path for path in Path(tempfile.gettempdir()).glob(
        f"{kernels.KERNEL_DIR_STEM}.{os.getpid()}@*")]
    assert not leftovers, "kernel folders left behind"


SPAWNED_BUILD = """
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from analysis import config
from analysis.fleet import build, platform

paths = build.BuildPaths(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), config.RAW_DIR)
context = platform.process_context()
pool = ProcessPoolExecutor(1, mp_context=context, initializer=build._start_worker)
unit = build.Unit("spawned", "probe.ipynb", "Probe", {"unit_tag": "spawned"})
outcome = pool.submit(build.execute_unit, unit, paths).result()
print("OUTCOME", context.get_start_method(), outcome.status, outcome.error, flush=True)
sys.stdin.read()  # until the test kills this process
"""


@pytest.mark.slow
def test_a_spawned_worker_runs_units_and_ends_with_its_kernel_when_the_build_dies(
        processed_dir, tmp_path):
    paths = _probe_paths(processed_dir, tmp_path)
    command = [sys.executable, "-c", SPAWNED_BUILD, str(paths.notebooks_dir),
               str(paths.processed_dir), str(paths.reports_dir)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True, env={**os.environ, MODE_VARIABLE: "portable"},
                               cwd=config.PROJECT_ROOT)
    try:
        line = process.stdout.readline()
        assert line.split()[:3] == ["OUTCOME", "spawn", "ok"], line
        probed = _probed(paths, "spawned")
        assert probed["transport"] == "tcp"
        assert "multiprocessing.spawn" in probed["worker_command"]
        assert process_exists(probed["worker"]) and process_exists(probed["kernel"])
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 20
    while (process_exists(probed["worker"]) or process_exists(probed["kernel"])) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not process_exists(probed["worker"]), "the worker outlived its build"
    assert not process_exists(probed["kernel"]), "the kernel outlived its worker"


# Two analyses of two provinces and a site-wide page: seconds each.
BUILD_ONLY = ["14-training_wage_income", "50-training_wage_income", "methods"]


@pytest.mark.slow
def test_a_portable_build_gives_the_numbers_of_a_native_build(processed_dir, tmp_path,
                                                              monkeypatch):
    start_methods = []
    real_process_context = fleet_platform.process_context

    def recording_process_context(chosen=None):
        context = real_process_context(chosen)
        start_methods.append(context.get_start_method())
        return context

    monkeypatch.setattr(fleet_platform, "process_context", recording_process_context)
    built = {}
    for mode in ("native", "portable"):
        monkeypatch.setenv(MODE_VARIABLE, mode)
        paths = build.BuildPaths(config.NOTEBOOKS_DIR, processed_dir, tmp_path / mode,
                                 config.RAW_DIR)
        summary = build.build(only=BUILD_ONLY, workers=2, paths=paths)
        assert set(summary["status"]) == {"ok"}, summary.to_dict("records")
        built[mode] = {unit: json.loads((paths.results_dir / f"{unit}.json").read_text())
                       for unit in BUILD_ONLY}
    assert start_methods == ["forkserver", "spawn"]
    assert all(built["native"][unit]["numbers"] for unit in BUILD_ONLY[:2])  # numbers to compare
    for unit in BUILD_ONLY:
        assert built["portable"][unit] == built["native"][unit], unit
