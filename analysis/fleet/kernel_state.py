"""What a warm kernel remembers of the ``analysis`` package between units (runs in the kernel).

A unit that changes the package's state (rebinds a module constant, changes a dict, list or
set constant in place, or imports another module of the package) would change the next unit's
numbers. :func:`take` records, for every imported module of the package outside the fleet,
which object each module-level name is bound to and the contents of its container constants;
:func:`changed` compares. The warm kernel drops and re-imports the package only when
something changed, so the units that change nothing do not pay for re-importing it.
"""

from __future__ import annotations

import sys

snapshot: dict[str, dict] = {}


def _modules() -> dict:
    # The fleet's own modules (this one included) are not the notebooks' state.
    return {name: module for name, module in list(sys.modules.items())
            if (name == "analysis" or name.startswith("analysis."))
            and not name.startswith("analysis.fleet")}


def _fingerprint(module) -> dict:
    return {key: (id(value), repr(value)) if isinstance(value, (dict, list, set)) else id(value)
            for key, value in list(vars(module).items())}


def take() -> None:
    """Record the state of every imported module of the package."""
    snapshot.clear()
    snapshot.update({name: _fingerprint(module) for name, module in _modules().items()})


def changed() -> bool:
    """Whether any module was imported, rebound a name or changed a container since
    :func:`take`."""
    modules = _modules()
    return set(modules) != set(snapshot) or any(
        _fingerprint(module) != snapshot[name] for name, module in modules.items())
