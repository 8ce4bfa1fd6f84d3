"""Content keys for report units: a unit is rebuilt exactly when something it depends on changed.

A unit's key is the sha256 of: its notebook's bytes, its parameters, the bytes of every processed
table it reads, every file of the ``analysis`` package (code and templates), and the lock file.
Keys and outcomes are kept in ``reports/.cache/<unit>.json``; a unit whose key is unchanged, whose
last run succeeded and whose outputs are all present is skipped.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from analysis import config
from analysis.files import sha256_file, tree_digest

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # the whole analysis package


@lru_cache(maxsize=4)
def code_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """Digest of every source and template file of the package (not caches)."""
    files = [path for path in package_dir.rglob("*")
             if path.is_file() and "__pycache__" not in path.parts]
    return tree_digest(files, package_dir)


def environment_digest(lock_file: Path = config.PROJECT_ROOT / "requirements.lock") -> str:
    return sha256_file(lock_file) if lock_file.exists() else "no lock file"


def unit_inputs(scope: str, processed_dir: Path) -> list[Path]:
    """Processed files a unit reads.

    Tables at the top of ``processed_dir`` are shared by every unit. Tables in a subfolder are
    partitioned by province (``panel/53.parquet``): the national unit reads every partition, a
    province unit only its own.
    """
    shared, partitions = _processed_files(Path(processed_dir))
    if scope != config.NATIONAL_UNIT:
        partitions = [path for path in partitions if path.stem == scope]
    return sorted(shared + partitions)


def _processed_files(processed_dir: Path) -> tuple[list[Path], list[Path]]:
    """The top-level tables and the partitions, listed once per state of the folders (a file
    added or removed changes its folder's modification time)."""
    folders = [processed_dir, *sorted(p for p in processed_dir.iterdir() if p.is_dir())]
    state = tuple((str(folder), folder.stat().st_mtime_ns) for folder in folders)
    if state not in _LISTINGS:
        _LISTINGS.clear()
        _LISTINGS[state] = (sorted(processed_dir.glob("*.parquet")),
                            sorted(processed_dir.glob("*/*.parquet")))
    return _LISTINGS[state]


_LISTINGS: dict[tuple, tuple] = {}


@dataclass(frozen=True)
class KeyParts:
    """What a unit's key is made of, kept so a rebuild can say why it happened."""

    notebook: str
    parameters: str
    inputs: str
    code: str
    environment: str

    @property
    def key(self) -> str:
        joined = "|".join([self.notebook, self.parameters, self.inputs, self.code,
                           self.environment])
        return hashlib.sha256(joined.encode()).hexdigest()


def unit_key(notebook: Path, parameters: dict, scope: str, processed_dir: Path,
             extra_inputs: list[Path] = ()) -> KeyParts:
    """The key of one unit of ``scope`` (a province code, ``national``, or a site-wide unit's
    id); ``extra_inputs`` are files it reads outside ``processed_dir``."""
    extra = hashlib.sha256("".join(
        f"{path.name}:{sha256_file(path) if path.exists() else 'missing'}"
        for path in sorted(extra_inputs)).encode()).hexdigest()
    return KeyParts(
        notebook=sha256_file(notebook),
        parameters=hashlib.sha256(json.dumps(parameters, sort_keys=True).encode()).hexdigest(),
        inputs=tree_digest(unit_inputs(scope, processed_dir), processed_dir) + extra,
        code=code_digest(),
        environment=environment_digest(),
    )


def record_path(cache_dir: Path, unit_id: str) -> Path:
    return cache_dir / f"{unit_id}.json"


def read_record(cache_dir: Path, unit_id: str) -> dict | None:
    path = record_path(cache_dir, unit_id)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None  # a damaged record only costs a rebuild


def changed_parts(record: dict | None, parts: KeyParts) -> list[str]:
    """Names of the key parts that differ from the last recorded run (all when none)."""
    if record is None or "parts" not in record:
        return ["no previous run"]
    return [name for name, value in parts.__dict__.items() if record["parts"].get(name) != value]
