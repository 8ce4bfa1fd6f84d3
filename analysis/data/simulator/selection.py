"""National take-up cut-offs found from every batch's ranking ratios, without holding them.

Take-up by the reference year chooses an exact number of persons in the nation: those with the
smallest ranking ratios (:func:`analysis.data.simulator.programs.ranking_ratios`), with first
years shared out exactly in the order of their timing draws. Each batch of counties writes its
ratios,
sorted, and the timing draws in the same order to a scratch folder (:func:`write_rankings`).
The count-th smallest ratio of the nation is then found by bisection over the bits of the
float, counting with binary searches in the memory-mapped sorted files, so only a few pages of
each are read; the timing draws of the chosen persons (a few per cent of the nation, 8 bytes
each) are then sorted to find the draws that start each year. Given these cut-offs every
batch decides its own persons' take-up, exactly as a ranking of the whole nation would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.data.simulator.layout import Batch, exact_counts
from analysis.data.simulator.programs import Cutoffs


def _path(folder: Path, batch: Batch, program: str, what: str) -> Path:
    return Path(folder) / f"{batch.name}.{program}.{what}.npy"


def write_rankings(folder: Path, batch: Batch,
                   ratios: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Each program's ranking ratios of the batch's candidates, sorted, and their timing
    draws in the same order."""
    for program, (_, ratio, timing) in ratios.items():
        order = np.argsort(ratio, kind="stable")
        np.save(_path(folder, batch, program, "ratio"), ratio[order])
        np.save(_path(folder, batch, program, "timing"), timing[order])


def _load(path: Path) -> np.ndarray:
    array = np.load(path, mmap_mode="r") if path.stat().st_size > 256 else np.load(path)
    return array  # an empty array cannot be memory-mapped


def _bits_to_float(bits: int) -> float:
    return float(np.array([bits], dtype=np.int64).view(np.float64)[0])


def kth_smallest(sorted_arrays: list[np.ndarray], k: int) -> float:
    """The ``k``-th smallest value (from 1) of the union of sorted arrays of non-negative
    floats; -inf for ``k`` 0 (nobody) and +inf when ``k`` reaches the number of values.

    The int64 view of a non-negative float orders as the float does, so a bisection over the
    bits ends on the value itself, exactly.
    """
    arrays = [array for array in sorted_arrays if len(array)]
    if k <= 0:
        return -np.inf
    if k >= sum(len(array) for array in arrays):
        return np.inf
    low = 0
    high = int(np.array([max(float(array[-1]) for array in arrays)]).view(np.int64)[0])
    while low < high:
        middle = (low + high) // 2
        value = _bits_to_float(middle)
        if sum(int(np.searchsorted(array, value, side="right")) for array in arrays) >= k:
            high = middle
        else:
            low = middle + 1
    return _bits_to_float(low)


def national_cutoffs(folder: Path, batches: list[Batch], counts: dict[str, int],
                     weights: dict[str, np.ndarray]) -> dict[str, Cutoffs]:
    """The cut-offs that choose ``counts[program]`` persons in the nation and share their first
    years out by ``weights[program]`` (largest remainders), in the order of their timing."""
    cutoffs = {}
    for program, count in counts.items():
        ratios = [_load(_path(folder, batch, program, "ratio")) for batch in batches]
        cut = kth_smallest(ratios, count)
        timing = np.sort(np.concatenate(
            [np.asarray(_load(_path(folder, batch, program, "timing"))
                        [:np.searchsorted(ratio, cut, side="right")])
             for batch, ratio in zip(batches, ratios)] + [np.empty(0)]))
        starts = np.cumsum(exact_counts(len(timing), weights[program]))[:-1]
        cutoffs[program] = Cutoffs(cut, tuple(float(timing[start]) if start < len(timing)
                                              else np.inf for start in starts))
    return cutoffs
