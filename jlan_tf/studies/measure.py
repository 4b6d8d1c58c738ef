"""Measuring a stage of the scale check: resident memory sampled in a thread (this process and
its children), sizes on disk, and the machine's description for a results file."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for p in pids:
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    pids.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return pids


class MemorySampler:
    """Samples this process's resident set (and its process tree's sum) every ``interval`` s;
    ``window()`` opens a named window whose peaks are kept."""

    def __init__(self, interval: float = 0.05):
        self.interval, self.peaks, self._open = interval, {}, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self):
        own = _rss_kb(os.getpid())
        tree = sum(_rss_kb(p) for p in _tree(os.getpid()))
        for name in ["all", *self._open]:
            old = self.peaks.get(name, (0, 0))
            self.peaks[name] = (max(old[0], own), max(old[1], tree))

    def start(self, name: str):
        self.sample()
        self._open.append(name)

    def stop(self, name: str) -> tuple[float, float]:
        """(peak MB of this process, peak MB of its tree) within the window."""
        self.sample()
        self._open.remove(name)
        own, tree = self.peaks.get(name, (0, 0))
        return own / 1024, tree / 1024

    def close(self):
        self._stop.set()


def machine() -> str:
    """The CPU model, its cores and the memory, for the results file."""
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        total = int(f.readline().split()[1]) / 1024 ** 2
    return f"{model}, {len(os.sched_getaffinity(0))} cores, {total:.0f} GB"


def disk_mb(path: Path) -> float:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
