"""Killed runs: every file whole or absent, nothing left behind, no process left running.

Each scenario runs ``ingest`` or ``build`` in a private copy of the project and kills it with
SIGKILL: at a known point (the run stops there when ``ANALYSIS_TEST_PAUSE_AT`` names it, see
:func:`analysis.files.pause_for_tests`) or once its kernels are up. It kills either the command
alone (its workers must notice and end with their kernels) or every process of the run (a
machine or container stopping). The next run must then complete, and afterwards no temporary
file or folder, staging copy or kernel folder may remain, ``data/processed`` must match its
manifest, and files and folders must have the modes the umask gives (0644 and 0755).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from analysis import files
from analysis.fleet import kernels
from project_tree import command, copy_project, environment, run

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds processes in /proc")]

RUN_TAG = "ANALYSIS_TEST_RUN"
UMASK = 0o022
BUILD_ONLY = "50,training_wage_income,methods"  # two small units: 50-training_wage_income, methods
BUILT = ["50-training_wage_income", "methods"]


@pytest.fixture
def tree(tmp_path):
    return copy_project(tmp_path / "project")


@pytest.fixture
def temp_dir():
    """The runs' temporary folder (kernel sockets): short, since a socket path must be."""
    folder = Path(tempfile.mkdtemp(prefix="ak-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Running, pausing and killing


class Run:
    """One command in ``tree``, its processes marked by an environment variable."""

    def __init__(self, tree: Path, temp_dir: Path, arguments: list[str], pause_at: str = ""):
        self.tag = uuid.uuid4().hex
        self.marker = tree.parent / f"paused-{self.tag}"
        self.log = tree.parent / f"run-{self.tag}.log"
        variables = {RUN_TAG: self.tag, "TMPDIR": str(temp_dir),
                     files.PAUSE_VARIABLE: pause_at, files.PAUSE_MARKER_VARIABLE: str(self.marker)}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(command(*arguments), cwd=tree, stdout=log,
                                            stderr=subprocess.STDOUT, umask=UMASK,
                                            env=environment(tree, **variables))

    def output(self) -> str:
        return self.log.read_text()[-3000:]

    def wait_for(self, ready, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not ready():
            assert self.process.poll() is None, f"the run ended early:\n{self.output()}"
            assert time.monotonic() < deadline, f"the run did not get there:\n{self.output()}"
            time.sleep(0.05)

    def wait_for_pause(self) -> None:
        self.wait_for(self.marker.exists)

    def processes(self) -> list[int]:
        """Every living process of this run (the command, workers, kernels), zombies aside."""
        found = []
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if f"{RUN_TAG}={self.tag}".encode() in environ and state != "Z":
                found.append(int(entry.name))
        return found

    def kill(self, everything: bool) -> None:
        for pid in self.processes() if everything else [self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while (left := self.processes()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left, f"processes of the killed run still running: {_describe(left)}"


def _describe(pids: list[int]) -> list[str]:
    described = []
    for pid in pids:
        try:
            line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            line = "?"
        described.append(f"{pid}: {line[:120]}")
    return described


def _complete(tree: Path, temp_dir: Path, arguments: list[str]) -> Run:
    """Run to the end; it must succeed and leave no process behind."""
    finished = Run(tree, temp_dir, arguments)
    assert finished.process.wait(timeout=300) == 0, finished.output()
    deadline = time.monotonic() + 30
    while (left := finished.processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"a finished run left processes: {_describe(left)}"
    return finished


# ----------------------------------------------------------------------------------------------
# What must hold after a run


def _temporaries(folder: Path) -> list[Path]:
    """Temporary files and folders (named ``<stem>.<pid>@<host>.<token>.tmp``) under ``folder``."""
    return [path for path in folder.rglob("*") if path.name.endswith(".tmp")]


def _assert_processed_whole(tree: Path) -> dict:
    """``data/processed`` is there and every output matches its manifest."""
    processed = tree / "data" / "processed"
    manifest = json.loads((processed / "manifest.json").read_text())
    for relative, entry in manifest["outputs"].items():
        assert files.sha256_file(processed / relative) == entry["sha256"], relative
    return manifest


def _assert_ordinary_modes(folder: Path) -> None:
    expected = {"file": 0o666 & ~UMASK, "folder": 0o777 & ~UMASK}
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        kind = "folder" if path.is_dir() else "file"
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == expected[kind], f"{path}: {oct(mode)}, the umask gives {oct(expected[kind])}"


def _assert_clean_after_ingest(tree: Path, persons: int) -> None:
    data = tree / "data"
    processed = data / "processed"
    assert processed.is_symlink(), "data/processed is swapped in as a link"
    version = files.current_version(processed)
    assert sorted(path.name for path in data.iterdir()) == sorted(
        [".processed.lock", version, "processed", "raw"]), "leftovers beside data/processed"
    assert not _temporaries(data)
    assert _assert_processed_whole(tree)["panel"]["persons"] == persons
    _assert_ordinary_modes(data / version)


def _assert_clean_after_build(tree: Path, temp_dir: Path) -> None:
    reports = tree / "reports"
    assert not _temporaries(reports), "temporary files or scratch folders left in reports/"
    assert not list(temp_dir.iterdir()), "kernel folders left in the temporary folder"
    for unit in BUILT:
        record = json.loads((reports / ".cache" / f"{unit}.json").read_text())
        assert record["status"] == "ok", record
        nbformat.read(reports / "notebooks" / f"{unit}.ipynb", as_version=4)
        json.loads((reports / "results" / f"{unit}.json").read_text())
    for page in (reports / "site").glob("*.html"):
        assert page.read_text().rstrip().endswith("</html>"), page
    _assert_ordinary_modes(reports)


def _assert_verify_passes(tree: Path) -> None:
    """``verify``'s check of data/processed against its manifest (its comparison of published
    numbers needs a full build at the default panel size, which these runs do not make)."""
    verified = run(tree, "verify", timeout=120)
    assert "match the manifest" in verified.stdout, verified.stdout + verified.stderr
    assert "differs from manifest" not in verified.stderr
    assert "input changed since ingest" not in verified.stderr


# ----------------------------------------------------------------------------------------------
# Scenarios


def test_killed_ingest_leaves_a_whole_data_processed_and_the_next_run_cleans_up(tree, temp_dir):
    persons = 2_000
    _complete(tree, temp_dir, ["ingest", "--persons", str(persons)])
    _assert_clean_after_ingest(tree, persons)
    for pause_at, everything in [("staged", True), ("swap", False), ("", True)]:
        killed = Run(tree, temp_dir, ["ingest", "--persons", str(persons + 50)], pause_at)
        if pause_at:
            killed.wait_for_pause()
        else:  # killed while it validates and simulates
            time.sleep(1.0)
        # At the pause, the new version may be complete beside it, but data/processed is still
        # the old one, whole: readers never see a missing or partial folder.
        assert _assert_processed_whole(tree)["panel"]["persons"] == persons
        killed.kill(everything)
        assert _assert_processed_whole(tree)["panel"]["persons"] == persons
        persons += 100
        _complete(tree, temp_dir, ["ingest", "--persons", str(persons)])
        _assert_clean_after_ingest(tree, persons)
    _assert_verify_passes(tree)


def _kernels_started(temp_dir: Path):
    return lambda: any(path.name.startswith(kernels.KERNEL_DIR_STEM)
                       for path in temp_dir.iterdir())


def test_killed_build_leaves_whole_outputs_and_the_next_run_cleans_up(tree, temp_dir):
    _complete(tree, temp_dir, ["ingest", "--persons", "2000"])
    build = ["build", "--only", BUILD_ONLY, "--workers", "2"]
    _complete(tree, temp_dir, build)
    _assert_clean_after_build(tree, temp_dir)
    for pause_at, everything in [("unit-executed", False), ("atomic-write", True), ("", False)]:
        killed = Run(tree, temp_dir, [*build, "--force"], pause_at)
        if pause_at:
            killed.wait_for_pause()
        else:  # the build alone, while its workers run units in their kernels
            killed.wait_for(_kernels_started(temp_dir))
            time.sleep(1.0)
        killed.kill(everything)
        resumed = _complete(tree, temp_dir, build)
        assert "0 failed" in resumed.output(), resumed.output()
        _assert_clean_after_build(tree, temp_dir)
    _assert_processed_whole(tree)
    _assert_verify_passes(tree)


def test_temporaries_of_live_processes_and_other_hosts_are_kept(tmp_path):
    live = tmp_path / files.temporary_name(".index.html")
    other_host = tmp_path / ".index.html.1@another-host.0123abcd.tmp"
    gone = tmp_path / ".index.html.999999999@{}.0123abcd.tmp".format(files.HOST)
    for path in (live, other_host, gone):
        path.write_text("partial")
    assert files.remove_abandoned(tmp_path) == [gone]
    assert live.exists() and other_host.exists() and not gone.exists()


def test_files_and_folders_get_the_modes_of_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        files.write_text_atomically(tmp_path / "page.html", "<html></html>")
        with files.replacing_directory(tmp_path / "processed") as staging:
            (staging / "table.txt").write_text("rows")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "page.html").stat().st_mode) == 0o640
    version = tmp_path / files.current_version(tmp_path / "processed")
    assert stat.S_IMODE(version.stat().st_mode) == 0o750
    assert (tmp_path / "processed" / "table.txt").read_text() == "rows"


def test_a_real_processed_folder_is_replaced_by_a_link_to_the_new_version(tmp_path):
    processed = tmp_path / "processed"
    processed.mkdir()
    (processed / "old.txt").write_text("old")
    with files.replacing_directory(processed) as staging:
        (staging / "new.txt").write_text("new")
    assert processed.is_symlink() and sorted(p.name for p in processed.iterdir()) == ["new.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        [".processed.lock", files.current_version(processed), "processed"])
