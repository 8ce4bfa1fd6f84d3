"""The demonstration panel (re-exported from analysis.data.simulator; see its docstring)."""

from analysis.data import simulator as _simulator
from analysis.data.simulator import *  # noqa: F401,F403
from analysis.data.simulator import __all__  # noqa: F401

__doc__ = _simulator.__doc__
