"""How long ``autoimb --version`` and ``autoimb --help`` take to answer.

Each command runs ``--runs`` times (default 3) in a fresh process, the
``autoimb`` script beside this Python; the median wall time is reported. The
commands import no machine-learning library (``tests/test_cli.py`` checks
that); this measures what that buys.

Run::

    python benchmarks/cli_startup.py            # prints a Markdown table
    python benchmarks/cli_startup.py --out results/2026-12-08-cli_startup.md
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import environment, environment_line, markdown_table


def wall_times(command: list[str], runs: int) -> list[float]:
    """Seconds each of ``runs`` fresh runs of ``command`` took."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    script = str(Path(sys.executable).with_name("autoimb"))
    rows = []
    for flag in ("--version", "--help"):
        times = wall_times([script, flag], args.runs)
        rows.append([f"`autoimb {flag}`", f"{statistics.median(times):.2f}",
                     ", ".join(f"{t:.2f}" for t in times)])
    text = ("# Command-line start-up\n\n"
            + environment_line(environment()) + "\n\n"
            + markdown_table(["command", "median s", "runs (s)"], rows) + "\n")
    print(text)
    if args.out is not None:
        (Path(__file__).parent / args.out).write_text(text)


if __name__ == "__main__":
    main()
