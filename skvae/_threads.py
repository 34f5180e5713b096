"""How many threads PyTorch's CPU kernels use while a model trains or infers.

PyTorch's OpenMP threads wait for each other at the end of every kernel. When
another process holds a core, the thread that shares it with that process is
descheduled for whole time slices, and every kernel waits for it: a fit beside
one busy process then takes several times as long as on a quiet machine. So a
fit, or an inference call (``transform``, ``score_samples``, ...), runs on no
more threads than the cores that other processes leave idle, re-measured as it
runs. The global setting (``torch.get_num_threads``) is the ceiling and is
restored when the call returns.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator

import torch

MIN_WINDOW_SECONDS = 0.25
"""The shortest interval over which the cores' load is re-measured: at the
kernel's 100 ticks a second, shorter ones are too coarse to tell a busy core."""


@contextlib.contextmanager
def torch_threads() -> Iterator[None]:
    """Restore torch's thread count on exit, whatever the block set."""
    previous = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def set_threads(n_threads: int) -> None:
    """``torch.set_num_threads``, only when it changes something."""
    if torch.get_num_threads() != n_threads:
        torch.set_num_threads(n_threads)


def _usable_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _busy_ticks(cpus: list[int]) -> int | None:
    """Ticks the given CPUs spent busy since boot, from ``/proc/stat`` (Linux)."""
    try:
        with open("/proc/stat") as stat:
            lines = stat.read().splitlines()
    except OSError:
        return None
    wanted = {f"cpu{cpu}" for cpu in cpus}
    busy = 0
    for line in lines:
        name, *fields = line.split()
        if name in wanted:
            # user, nice, system, idle, iowait, irq, softirq, steal, ...
            user, nice, system, _, _, irq, softirq = (int(f) for f in fields[:7])
            busy += user + nice + system + irq + softirq
    return busy


class CoreLoad:
    """Cores kept busy by other processes, measured between calls.

    Compares the ticks the usable CPUs spent busy with this process's own CPU
    time over the same interval; the difference is other processes' work.
    One instance serves the whole process, so that consecutive calls (a
    ``partial_fit`` loop, the folds of a search) continue each other's
    measurement instead of waiting to take their own.
    """

    def __init__(self):
        self.cpus = _usable_cpus()
        self.ticks_per_second = (
            os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        )
        # Until a first window is measured, every core counts as busy: a call
        # starts on one thread, which costs little on an idle machine and
        # nothing on a busy one. The first window opens here, when skvae is
        # imported, so that a first fit that starts a quarter second later
        # or more (after its data are loaded) is sized by the load since,
        # as later calls are.
        self.others_busy: float = float(len(self.cpus))
        self._last: tuple[float, float, int] | None = self._reading()

    def _reading(self) -> tuple[float, float, int] | None:
        ticks = _busy_ticks(self.cpus)
        if ticks is None:
            return None
        return time.monotonic(), time.process_time(), ticks

    def update(self) -> float | None:
        """Busy cores of others since the last update; None off Linux.

        Intervals shorter than ``MIN_WINDOW_SECONDS`` keep the previous
        estimate; before the first window (from the instance's creation),
        all cores count as busy.
        """
        if (
            self._last is not None
            and time.monotonic() - self._last[0] < MIN_WINDOW_SECONDS
        ):
            return self.others_busy  # without reading /proc/stat (~70 us)
        now = self._reading()
        if now is None:
            return None
        if self._last is None:
            self._last = now
            return self.others_busy
        wall = now[0] - self._last[0]
        busy = (now[2] - self._last[2]) / self.ticks_per_second
        own = now[1] - self._last[1]
        self.others_busy = max(0.0, (busy - own) / wall)
        self._last = now
        return self.others_busy


_CORE_LOAD = CoreLoad()


class ThreadPolicy:
    """The threads of each training step, or of each batch of an inference call.

    Parameters
    ----------
    n_threads : int or None
        A fixed count, or None for the policy: at most the global
        ``torch.get_num_threads()``, and at most the usable cores that other
        processes leave idle, re-measured every ``MIN_WINDOW_SECONDS``.
    core_load : CoreLoad, optional
        Where the load of the cores is read; the process's by default.
    """

    def __init__(self, n_threads: int | None, core_load: CoreLoad | None = None):
        self.core_load = _CORE_LOAD if core_load is None else core_load
        self.adapts = n_threads is None
        # int(): True, an Integral that torch refuses, is 1
        self.ceiling = torch.get_num_threads() if n_threads is None else int(n_threads)
        self._checked = -math.inf

    def threads(self) -> int:
        """The threads for the next steps, from the latest load of the cores."""
        if not self.adapts or self.ceiling == 1:
            return self.ceiling
        others_busy = self.core_load.update()
        if others_busy is None:
            return self.ceiling
        idle = len(self.core_load.cpus) - round(others_busy)
        return max(1, min(self.ceiling, idle))

    def adjust(self) -> None:
        """Set torch's threads before a step or batch; cheap between measurements."""
        now = time.monotonic()
        if now - self._checked >= MIN_WINDOW_SECONDS:
            self._checked = now
            set_threads(self.threads())
