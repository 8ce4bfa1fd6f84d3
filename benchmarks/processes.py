"""Peak memory of the processes a benchmark starts, shared by the benchmark scripts."""

from __future__ import annotations

import psutil


class Sampler:
    """Peak RSS of a process tree (and of other watched processes), sampled every interval."""

    def __init__(self, interval: float):
        self.interval = interval
        self.peaks: dict[int, dict] = {}
        self.total_peak = 0

    def sample(self, roots: list[psutil.Process], roles: dict[int, str]) -> None:
        total = 0
        for root in roots:
            try:
                processes = [root] + root.children(recursive=True)
            except psutil.Error:
                continue
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    name = " ".join(process.cmdline()[:4])[:90]
                except psutil.Error:
                    continue
                total += rss
                role = roles.get(process.pid, f"{roles.get(root.pid, 'ingest')} child")
                entry = self.peaks.setdefault(process.pid, {
                    "pid": process.pid, "role": role, "command": name, "peak_rss_bytes": 0})
                entry["command"] = entry["command"] or name  # empty while a process starts
                entry["peak_rss_bytes"] = max(entry["peak_rss_bytes"], rss)
        self.total_peak = max(self.total_peak, total)

    def peaks_by_kind(self, kind) -> dict[str, int]:
        """The largest peak among the processes of each kind (``kind(entry)`` names it)."""
        found: dict[str, int] = {}
        for entry in self.peaks.values():
            name = kind(entry)
            found[name] = max(found.get(name, 0), entry["peak_rss_bytes"])
        return found
