"""What every benchmark records about the machine it ran on, read from /proc (Linux)."""

from __future__ import annotations

from pathlib import Path


def cpu_model() -> str:
    """The processor's model name, or "unknown" where /proc/cpuinfo does not say."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def memory_gib() -> float:
    """Total memory in GiB, one decimal; 0.0 where /proc/meminfo cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0
