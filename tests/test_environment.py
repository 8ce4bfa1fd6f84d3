"""environment.yml (conda) must pin exactly what requirements.lock (pip) pins."""

import re

import yaml

from analysis import config

ROOT = config.PROJECT_ROOT


def _lock_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", line)
        if match:
            pins[match[1].lower().replace("_", "-")] = match[2]
    return pins


def _direct_requirements() -> list[str]:
    names = []
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.append(re.split(r"[<>=!\[ ]", line)[0].lower().replace("_", "-"))
    return names


def _environment_pins() -> dict[str, str]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for entry in environment["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            name, _, version = re.match(r"^([^=<>]+)(==|=)?(.*)$", item).groups()
            pins[name.strip().lower()] = version.strip()
    return pins


def test_every_direct_requirement_is_in_environment_yml_at_the_locked_version():
    lock, environment = _lock_pins(), _environment_pins()
    mismatches = {name: (environment.get(name), lock.get(name))
                  for name in _direct_requirements() if environment.get(name) != lock.get(name)}
    assert not mismatches, (
        "environment.yml and requirements.lock disagree (environment.yml, lock): "
        f"{mismatches}. Update environment.yml to the lock file's versions.")


def test_environment_yml_lists_nothing_beyond_the_requirements():
    extra = set(_environment_pins()) - set(_direct_requirements()) - {"python", "pip"}
    assert not extra, f"environment.yml has packages not in requirements.in: {sorted(extra)}"


def test_environment_yml_python_matches_the_lock_target():
    assert _environment_pins()["python"] == "3.11"
    assert "--python-version 3.11" in (ROOT / "requirements.lock").read_text()
