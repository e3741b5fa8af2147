"""py-spy (the `bench` extra of pyproject.toml) on one HTTP worker during a scenario's product
run: `py-spy record --gil` (samples only the thread holding the GIL, i.e. where the worker's
Python time goes), aggregated by function, in py-spy's `raw` (collapsed stacks, summarised
here) or `speedscope` format, into bench/results/. `--nonblocking`: the worker is not paused
for a sample (its figures stay close to an unprofiled run's; a rare sample may be torn)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE = 100  # samples per second
TOP = 15


def executable() -> str:
    found = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if found is None:
        raise SystemExit('py-spy is not installed: pip install -e ".[bench]"')
    return found


class Profiler:
    """Records `pid` for `seconds` into `output` from construction until `finish()`."""

    def __init__(self, pid: int, seconds: float, output: Path, fmt: str = "raw") -> None:
        self.pid, self.output, self.format = pid, output, fmt
        output.parent.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                executable(), "record", "--pid", str(pid), "--gil", "--function",
                "--rate", str(RATE), "--duration", str(max(1, round(seconds))),
                "--format", fmt, "--output", str(output), "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def finish(self) -> dict[str, Any]:
        try:
            _, stderr = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        result: dict[str, Any] = {"pid": self.pid, "format": self.format, "path": str(self.output)}
        if self.process.returncode != 0 or not self.output.exists():
            result["error"] = stderr.strip()[-500:]
        elif self.format == "raw":
            result.update(summarize(self.output))
        return result


PRODUCT = re.compile(r"\((apps|inventory_site)/")
FRAME = re.compile(r"^(?P<name>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame(text: str) -> str:
    """`function (path/to/module.py:12)` -> `function (module path from the package root)`."""
    match = FRAME.match(text)
    if not match:
        return text
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    path = re.sub(r"^.*?/(apps|inventory_site|bench)/", r"\1/", path)
    return f"{match['name']} ({path})"


def summarize(path: Path) -> dict[str, Any]:
    """Shares of the samples: by function at the top of the stack (self), and by the
    product's own functions (apps/, inventory_site/) anywhere on it (inclusive)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        samples = int(count)
        total += samples
        for frame in set(frames):
            if PRODUCT.search(frame):
                inclusive[frame] += samples
        if frames:
            own[frames[-1]] += samples
    share: dict[str, Any] = {"samples": total}
    for name, counter in (("self", own), ("product code, inclusive", inclusive)):
        share[name] = [
            [frame, round(100 * samples / total, 1)] for frame, samples in counter.most_common(TOP)
        ] if total else []  # fmt: skip
    return share
