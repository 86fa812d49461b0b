"""Development and evaluation splits: decisions and the headline never share splits.

*Split k* is ``train_test_split(test_size=0.25, stratify=y, random_state=k)``
of a data set (see ``_common.protocol_split``).

- **Development splits**, seeds 0-99: where rules, defaults and portfolio
  entries are compared and decided. Every earlier result of this folder was
  measured on them (splits 0-11), so they have been looked at.
- **Evaluation splits**, seeds 100 and up: where a version's headline is
  measured once, after every decision was fixed and written down. An
  evaluation run confirms or refutes; it never chooses. Each evaluation seed
  is claimed by one autoimb commit, recorded in ``evaluation_splits.json``
  beside this file with the run and the decision record it tests, and is not
  used by another version of autoimb afterwards: the next version takes the
  next block.

New splits of the same data sets test rows that earlier splits tested, so this
shrinks the selection bias rather than removing it. Data sets never shown to us
stay the real judge.

``peers.py --seeds 100,101,102 --evaluation DECISIONS.md`` refuses to run
autoimb on evaluation seeds unless the library has no uncommitted change, the
decision record is a committed file, and no other autoimb commit claimed those
seeds; then it records the claim before the first fit. The peers (fixed
recipes, FLAML, AutoGluon) choose nothing from our results and may run on any
split.

>>> kind([0, 1, 2])
'development'
>>> kind([100, 101, 102])
'evaluation'
>>> next_block({"100": {"commit": "abc"}, "101": {"commit": "abc"}})
[102, 103, 104]
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

#: The first evaluation seed; seeds below it are development splits.
EVALUATION_START = 100

#: Where each evaluation seed's claim is recorded.
REGISTER = Path(__file__).resolve().parent / "evaluation_splits.json"


def kind(seeds) -> str:
    """``'development'`` or ``'evaluation'``; a mix of both is refused."""
    evaluation = [s >= EVALUATION_START for s in seeds]
    if all(evaluation):
        return "evaluation"
    if not any(evaluation):
        return "development"
    raise ValueError(
        f"seeds {list(seeds)} mix development splits (below {EVALUATION_START}) "
        "and evaluation splits: run them apart, decisions first.")


def read_register(path: Path = REGISTER) -> dict:
    """Seed (as text) -> its claim: commit, run, decisions, date."""
    return json.loads(path.read_text()) if path.exists() else {}


def next_block(register: dict, size: int = 3) -> list[int]:
    """The ``size`` evaluation seeds after the last claimed one."""
    last = max((int(seed) for seed in register), default=EVALUATION_START - 1)
    return list(range(last + 1, last + 1 + size))


def _git(path: Path, *args) -> str:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True,
                          text=True, timeout=10).stdout.strip()


def claim(seeds, *, autoimb_path: Path, decisions: Path, run_name: str,
          path: Path = REGISTER) -> dict:
    """Check that ``autoimb_path``'s commit may run on evaluation ``seeds``, and
    record the claim in ``path``.

    Raises
    ------
    SystemExit
        With what is wrong and the way out: uncommitted library changes, a
        decision record that is missing or not committed, or seeds another
        commit claimed.
    """
    if kind(seeds) != "evaluation":
        raise SystemExit(f"--evaluation needs evaluation seeds (>= {EVALUATION_START}); "
                         f"got {list(seeds)}.")
    dirty = _git(autoimb_path, "status", "--porcelain", "--untracked-files=no",
                 "--", "autoimb", "search_spaces")
    if dirty:
        raise SystemExit(f"{autoimb_path} has uncommitted changes to the library "
                         f"({dirty.splitlines()[0].strip()} ...): commit them first, "
                         "so that the evaluation names the code it measured.")
    decisions = decisions.resolve()
    if not decisions.is_file():
        raise SystemExit(f"--evaluation {decisions}: no such file. Write down what "
                         "was decided on development splits, and the criterion the "
                         "evaluation run judges, before the run.")
    repo = Path(__file__).resolve().parent.parent
    relative = decisions.relative_to(repo) if decisions.is_relative_to(repo) else None
    if relative is None or _git(repo, "status", "--porcelain", "--", str(relative)) \
            or not _git(repo, "ls-files", str(relative)):
        raise SystemExit(f"--evaluation {decisions} is not a committed file of this "
                         "repository: commit the decision record before the run.")
    commit = _git(autoimb_path, "rev-parse", "--short", "HEAD")
    register = read_register(path)
    taken = {s: register[str(s)]["commit"] for s in seeds
             if str(s) in register and register[str(s)]["commit"] != commit}
    if taken:
        raise SystemExit(
            f"evaluation seeds {sorted(taken)} were claimed by autoimb "
            f"{sorted(set(taken.values()))}: a version is judged on fresh splits; "
            f"take the next block, --seeds {','.join(map(str, next_block(register)))}.")
    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    for seed in seeds:
        register.setdefault(str(seed), {"commit": commit, "run": run_name,
                                        "decisions": str(relative), "date": now})
    path.write_text(json.dumps(register, indent=2, sort_keys=True) + "\n")
    return register
