"""The machine a benchmark ran on, as docs/BENCHMARKS.md names it (scripts/bench_load.py and
scripts/lighthouse.py)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def describe() -> str:
    """CPU model, CPU count, kernel and Python, e.g. "Intel(R) Xeon(R) Processor, 2 CPUs, Linux
    6.18, Python 3.11.7"."""
    cpu = platform.processor() or platform.machine() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
