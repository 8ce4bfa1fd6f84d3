"""File helpers shared by every stage: content hashes, atomic writes, folder swaps, and the
removal of what an interrupted run left behind.

They sit outside the stage folders because ingest, the fleet and the site all need them, and no
stage may reach into a later one.

* **Whole or absent.** A file is written under a temporary name beside its destination and
  renamed over it (:func:`write_text_atomically`). A folder such as ``data/processed`` is
  filled under a temporary name and then swapped in (:func:`replacing_directory`).
* **Ordinary permissions.** Files and folders are created with plain ``open`` and ``os.mkdir``,
  so the umask decides their mode (0644 and 0755 under the usual 022), not ``tempfile``'s
  private 0600 and 0700. Only kernel socket folders are private: their sockets accept code.
* **Named by their owner.** Every temporary file or folder is named
  ``<stem>.<pid>@<host>.<token>.tmp``. A killed run cannot remove its temporaries, so the next
  run does (:func:`remove_abandoned`): it removes those whose process, on this host, is gone,
  and never one whose writer may still be running.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import secrets
import shutil
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:32]
_TEMPORARY = re.compile(r"^(?P<stem>.+)\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]*)\.[0-9a-f]{8}\.tmp$")


def sha256_file(path: Path) -> str:
    """The file's sha256, hashed once per process for as long as the file is unchanged (same
    inode, size and modification time in nanoseconds): a build keys hundreds of units that
    share the same inputs."""
    status = os.stat(path)
    identity = (os.fspath(path), status.st_ino, status.st_size, status.st_mtime_ns)
    if identity not in _DIGESTS:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _DIGESTS[identity] = digest.hexdigest()
    return _DIGESTS[identity]


_DIGESTS: dict[tuple, str] = {}


def tree_digest(files: list[Path], root: Path) -> str:
    """sha256 over the paths (relative to ``root``) and contents of ``files``."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(Path(path).relative_to(root).as_posix().encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Temporaries and their owners


def temporary_name(stem: str) -> str:
    """A unique name that says which process made it: ``<stem>.<pid>@<host>.<token>.tmp``."""
    return f"{stem}.{os.getpid()}@{HOST}.{secrets.token_hex(4)}.tmp"


def write_text_atomically(path: Path, text: str) -> None:
    """Write under a temporary name in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(temporary_name(f".{path.name}"))
    try:
        with open(temporary, "x", encoding="utf-8") as stream:
            stream.write(text)
        pause_for_tests("atomic-write")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def make_temporary_directory(parent: Path, stem: str, private: bool = False) -> Path:
    """A new empty folder in ``parent`` named for this process; 0700 when ``private``."""
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / temporary_name(stem)
    os.mkdir(path, 0o700 if private else 0o777)  # the umask then applies, as to any mkdir
    return path


@contextmanager
def temporary_directory(parent: Path, stem: str, private: bool = False) -> Iterator[Path]:
    """:func:`make_temporary_directory`, removed with its contents when the block ends."""
    path = make_temporary_directory(parent, stem, private)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def process_exists(pid: int) -> bool:
    """Whether process ``pid`` of this host may still be running (a zombie is not).

    When in doubt it answers yes: a leftover kept costs disk space, one removed too early
    costs another process its files.
    """
    if pid == os.getpid():
        return True
    if os.name == "nt":
        return _windows_process_exists(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): a signal could be delivered, so it runs
    return state != "Z"


def _windows_process_exists(pid: int) -> bool:
    # os.kill(pid, 0) would end the process on Windows; ask the kernel for its exit code.
    try:
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() != 87  # ERROR_INVALID_PARAMETER: no such process
        code = ctypes.c_ulong()
        try:
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
        finally:
            kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    except (OSError, AttributeError):
        return True


def is_abandoned(path: Path, stem: str | None = None) -> bool:
    """Whether ``path`` is a temporary (of ``stem``, if given) whose process is gone.

    Temporaries made on another host (a shared drive) are never abandoned: their process
    cannot be checked from here.
    """
    match = _TEMPORARY.match(Path(path).name)
    return (match is not None and (stem is None or match["stem"] == stem)
            and match["host"] == HOST and not process_exists(int(match["pid"])))


def remove_abandoned(folder: Path, stem: str | None = None) -> list[Path]:
    """Remove the abandoned temporaries directly in ``folder``; return what was removed."""
    if not Path(folder).is_dir():
        return []
    removed = []
    for path in sorted(Path(folder).iterdir()):
        if is_abandoned(path, stem):
            _remove(path)
            removed.append(path)
    return removed


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------
# Replacing a whole folder


SYMLINKS = os.name != "nt"  # Windows cannot rename a link over a link to a folder


@contextmanager
def replacing_directory(target: Path) -> Iterator[Path]:
    """Yield an empty staging folder; when the block ends without error it becomes ``target``.

    ``target`` is a symbolic link to a versioned folder ``.<name>.<digest>`` beside it (the
    digest of the folder's files). The new version is renamed into place complete, then a new
    link replaces the old one in one ``os.replace``, so a reader always finds a complete
    folder, old or new. Older versions are then removed.

    * A real folder at ``target`` (made by an earlier version of this code) is moved aside
      just before the first link replaces it: the only moment ``target`` is missing.
    * On Windows, and on file systems without symbolic links, ``target`` is a real folder:
      the old one is moved aside, the new one renamed in, and a run killed between the two
      renames leaves the old one to be restored by the next run.

    One run at a time holds the lock ``.<name>.lock`` beside ``target`` (released by the
    system when the process ends, so never stale). Each run first removes what a killed run
    left: staging folders of gone processes and versions that ``target`` does not point to.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target.with_name(f".{target.name}.lock")):
        remove_abandoned_versions(target)
        with temporary_directory(target.parent, f".{target.name}-staging") as staging:
            yield staging
            pause_for_tests("staged")
            _publish(staging, target)


def _versions(target: Path) -> list[Path]:
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.[0-9a-f]{{16}}$")
    return sorted(path for path in target.parent.iterdir() if pattern.match(path.name))


def current_version(target: Path) -> str | None:
    """The name of the folder ``target`` links to (None when it is not a link)."""
    return os.readlink(target) if Path(target).is_symlink() else None


def remove_abandoned_versions(target: Path) -> None:
    """Remove what killed runs left beside ``target`` (staging folders, links, any temporary
    file) and the versions ``target`` does not use.

    A folder that a killed run moved aside before its replacement arrived is put back first.
    """
    target = Path(target)
    asides = [path for path in target.parent.iterdir()
              if is_abandoned(path, f".{target.name}-previous")]
    if asides and not (target.exists() or target.is_symlink()):
        os.replace(max(asides, key=lambda path: path.stat().st_mtime), target)
    remove_abandoned(target.parent)
    current = current_version(target)
    for version in _versions(target):
        if version.name != current:
            shutil.rmtree(version, ignore_errors=True)


def remove_directory(target: Path) -> None:
    """Remove ``target`` (link or folder) and every version of it, for ``clean``."""
    target = Path(target)
    if not target.parent.is_dir():
        return
    with exclusive_lock(target.with_name(f".{target.name}.lock")):
        if target.is_symlink():
            target.unlink()
        else:
            shutil.rmtree(target, ignore_errors=True)
        remove_abandoned_versions(target)


def _publish(staging: Path, target: Path) -> None:
    files = [path for path in staging.rglob("*") if path.is_file()]
    version = target.with_name(f".{target.name}.{tree_digest(files, staging)[:16]}")
    if version.name == current_version(target):
        return  # the same content is in place already
    link = _new_link(version, target) if SYMLINKS else None
    if link is None:
        _publish_by_renames(staging, target)
        return
    shutil.rmtree(version, ignore_errors=True)  # an unused version that survived cleanup
    os.replace(staging, version)
    pause_for_tests("swap")
    legacy = None
    if target.is_dir() and not target.is_symlink():
        legacy = target.with_name(temporary_name(f".{target.name}-previous"))
        os.replace(target, legacy)
    os.replace(link, target)
    if legacy is not None:
        shutil.rmtree(legacy, ignore_errors=True)
    remove_abandoned_versions(target)


def _new_link(version: Path, target: Path) -> Path | None:
    """A link to ``version`` (relative, so the tree can be moved) under a temporary name beside
    ``target``; None on a file system without symbolic links."""
    link = target.with_name(temporary_name(f".{target.name}-link"))
    try:
        os.symlink(version.name, link, target_is_directory=True)
    except (OSError, NotImplementedError):
        return None
    return link


def _publish_by_renames(staging: Path, target: Path) -> None:
    aside = target.with_name(temporary_name(f".{target.name}-previous"))
    if target.is_symlink():
        target.unlink()
    elif target.exists():
        os.replace(target, aside)
    os.replace(staging, target)
    shutil.rmtree(aside, ignore_errors=True)
    remove_abandoned_versions(target)


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (an empty file, created if missing) for the block.

    The operating system releases it when the process ends, however it ends.
    """
    with open(path, "a+b") as handle:
        if os.name == "nt":
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
        else:
            import fcntl

            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except OSError:
                pass  # a network drive without locks: owners' pids still protect temporaries
        yield


# ----------------------------------------------------------------------------------------------
# Kill tests

PAUSE_VARIABLE = "ANALYSIS_TEST_PAUSE_AT"
PAUSE_MARKER_VARIABLE = "ANALYSIS_TEST_PAUSE_MARKER"


def pause_for_tests(point: str) -> None:
    """Stop for good at ``point`` when ``ANALYSIS_TEST_PAUSE_AT`` names it; otherwise nothing.

    Lets ``tests/test_atomic.py`` kill a run at a known point. The paused process first writes
    its pid to the file named by ``ANALYSIS_TEST_PAUSE_MARKER``.
    """
    if os.environ.get(PAUSE_VARIABLE) != point:
        return
    marker = os.environ.get(PAUSE_MARKER_VARIABLE)
    if marker:
        written = Path(f"{marker}.{os.getpid()}")
        written.write_text(f"{os.getpid()} {point}\n")
        os.replace(written, marker)
    while True:
        time.sleep(60)


# ----------------------------------------------------------------------------------------------
# Values for JSON


def json_value(value):
    """A value JSON can hold: numpy scalars as Python ones, NaN and missing values as None,
    timestamps as ISO dates."""
    import pandas as pd

    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return json_value(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def json_records(table) -> list[dict]:
    """A DataFrame's rows as JSON-ready dicts."""
    return [{key: json_value(value) for key, value in row.items()}
            for row in table.to_dict(orient="records")]
