"""Where ingest's parts run: one after another in this process, or on a Dask cluster.

Ingest splits its work into tasks that each read and write their own files (one extract file,
one province) and return small summaries; the caller combines the summaries. A runner maps a
function over such items:

* :class:`LocalRunner` runs them one after another, so memory holds one task's data at a time;
* :class:`DaskRunner` submits them to an existing cluster (``distributed.Client(address)``).
  Workers must share the file system with this process (the scratch and staging folders) and
  have this environment installed; results are gathered in the order of the items, so the
  outcome is the same as the local one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


class LocalRunner:
    """Tasks one after another in this process."""

    def map(self, function: Callable, items: list, **shared) -> list:
        return [function(item, **shared) for item in items]


class DaskRunner:
    """Tasks on a Dask cluster; ``shared`` arguments are sent to every worker once."""

    def __init__(self, client):
        self.client = client

    def map(self, function: Callable, items: list, **shared) -> list:
        if not items:
            return []
        sent = {name: self._scattered(value) for name, value in shared.items()}
        futures = self.client.map(function, items, **sent, pure=False)
        return self.client.gather(futures)

    def _scattered(self, value):
        if isinstance(value, (str, int, float, bool, type(None))):
            return value
        # A list around the value, so that a dict is sent as one object, not one per key.
        [future] = self.client.scatter([value], broadcast=True, hash=False)
        return future


@contextmanager
def runner_for(scheduler: str | None) -> Iterator[LocalRunner | DaskRunner]:
    """A local runner, or one on the Dask scheduler at ``scheduler`` (closed afterwards)."""
    if not scheduler:
        yield LocalRunner()
        return
    from distributed import Client

    with Client(scheduler, set_as_default=False) as client:
        yield DaskRunner(client)

