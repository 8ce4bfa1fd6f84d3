"""What a build's worker processes import once, before their first unit.

The forkserver imports this module and every worker it forks starts with the result
(:data:`analysis.fleet.platform.FORKSERVER_PRELOAD`); with ``spawn`` (the portable mode) each
worker imports these modules itself as it first needs them.
"""

import sys

# jsonschema (which nbformat, and so papermill and nbconvert, import) imports rfc3987_syntax if it
# can, and that module compiles some 35 Earley parsers at import: 0.8 s of the 1.8 s a worker
# took to import everything below. It serves one thing, the "iri" and "iri-reference" string
# formats, which the notebook schemas never use (python-jsonschema/jsonschema#1428). A module
# set to None in sys.modules fails to import, and jsonschema then goes without those two
# checkers, as it does where rfc3987_syntax is not installed. Only the build's workers do this.
sys.modules.setdefault("rfc3987_syntax", None)

import nbconvert  # noqa: E402,F401
import papermill  # noqa: E402,F401

import analysis.fleet.build  # noqa: E402,F401
import analysis.fleet.kernels  # noqa: E402,F401
