"""Reproducible policy analysis of China's employment-based poverty alleviation.

Stages (one module each): ``ledger`` (published figures), ``ingest`` (raw -> validated
processed tables), ``simulate`` (demonstration panel), ``effects`` (estimators), ``plots``,
``build`` (the papermill report fleet) and ``site`` (HTML). ``python -m analysis --help``
lists the commands.
"""

__version__ = "0.1.0"
