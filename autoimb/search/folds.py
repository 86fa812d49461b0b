"""How candidates are validated: stratified folds, or a holdout, by data size.

Every trial of a study is scored on the same splits. With ``cv=None`` (the
default) the splits depend on the data's size and the time budget, as FLAML
decides between cross-validation and a holdout (Wang et al., "FLAML: a fast and
lightweight AutoML library", MLSys 2021; ``rows x columns / 0.9`` against
``1e7 x budget / 3600``):

- **5 stratified folds** when the data is small for the budget: every row is
  scored, which matters most when positives are few;
- **5 stratified folds, repeated** (shuffled anew each time) when the data is
  so small that a repeated trial still costs no more than FLAML's capacity, and
  its smaller class has fewer than 1,000 rows (fewer than 200 per fold: the
  floor below which a holdout is refused, see below). Each row's score is the
  average of its out-of-fold scores over the repeats. With few positives one
  partition's value is noisy, and a search that picks the best of many noisy
  values picks noise: repeats make each value steadier and leave fewer,
  better-measured candidates to choose among. Up to a minute's budget a trial
  repeats its folds at most 3 times; each further minute allows 3 more, up to
  10 (the "10 x 10-fold" of Bouckaert and Frank, PAKDD 2004). So a larger
  budget buys steadier values for about as many candidates, rather than more
  candidates to pick noise among: with a fixed cap of 3, doubling the budget to
  120 s ran 40 % more trials on six small sets and held out worse; with
  repeats that grow, 120 s holds out level with 60 s within noise
  (``benchmarks/results/2026-12-search.md``, 2026-12-02 at ``072b9f1``). The
  cap counts core-minutes: a search that runs
  k trials at once (one per core) runs about k times as many trials, so its
  folds may repeat k times as often, within the same cost per trial (FLAML's
  capacity, which is per core). Repeats need a time budget (``timeout``); a
  search bounded by a trial count alone keeps one partition. Data of 100,000
  rows or more is never repeated: on few columns its cells look small, but a
  tree's cost grows with the rows (kddcup_http, 212,000 rows and 3 columns,
  repeated twice at 600 s, ran trials of a minute and a half);
- **3 stratified folds** when 5 would leave too few trials;
- **a stratified 20% holdout** when the data is large for the budget (or has
  100,000 rows or more), provided the holdout keeps at least 200 rows of the
  smaller class; post-processing is then cross-fitted over three groups of the
  holdout rows.

The rule was set from FLAML's published one and the 200-positive floor, not
tuned on the shared benchmark data sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit, check_cv

from autoimb.exceptions import AutoImbError

__all__ = ["Validation", "check_folds", "choose_validation", "first_partition",
           "make_folds"]

_CELLS_PER_HOUR = 1e7 / 0.9
_LARGE_ROWS = 100_000
_HOLDOUT = 0.2
_MIN_HOLDOUT_MINORITY = 200
_DEFAULT_BUDGET = 3600.0
_REPEATS_PER_MINUTE = 3
_MAX_REPEATS = 10
_REPEAT_BELOW_MINORITY = 5 * _MIN_HOLDOUT_MINORITY


@dataclass(frozen=True)
class Validation:
    """The splits of a study: ``n_splits`` stratified folds, or a holdout.

    Attributes
    ----------
    kind : {"kfold", "holdout", "given"}
    n_splits : int
        Folds (``"kfold"``), or 1.
    test_fraction : float
        Share of rows held out (``"holdout"``), or ``1 / n_splits``.
    n_repeats : int, default=1
        How many partitions into ``n_splits`` folds (``"kfold"``).
    """

    kind: str
    n_splits: int
    test_fraction: float
    n_repeats: int = 1

    def describe(self) -> str:
        if self.kind == "given":
            return f"{self.n_splits} given splits"
        if self.kind == "holdout":
            return f"a stratified {self.test_fraction:.0%} holdout"
        if self.n_repeats > 1:
            return f"{self.n_splits} stratified folds, repeated {self.n_repeats} times"
        return f"{self.n_splits} stratified folds"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "n_splits": self.n_splits,
                "test_fraction": self.test_fraction, "n_repeats": self.n_repeats}


def choose_validation(n_rows: int, n_columns: int, n_minority: int,
                      timeout: float | None, trials_at_once: int = 1) -> Validation:
    """The splits for data of this size and a budget of ``timeout`` seconds.

    ``trials_at_once`` is how many trials the search runs at once (one per
    core): it raises the cap on repeats, not the cost allowed for one trial.

    Examples
    --------
    >>> choose_validation(2_000, 10, 1_500, timeout=60).describe()
    '5 stratified folds'
    >>> choose_validation(20_000, 16, 550, timeout=60).describe()
    '3 stratified folds'
    >>> choose_validation(280_000, 10, 2_000, timeout=60).describe()
    'a stratified 20% holdout'
    >>> choose_validation(1_000, 8, 40, timeout=60).describe()
    '5 stratified folds, repeated 3 times'
    >>> choose_validation(1_000, 8, 40, timeout=150).describe()
    '5 stratified folds, repeated 7 times'
    >>> choose_validation(1_000, 8, 40, timeout=60, trials_at_once=2).describe()
    '5 stratified folds, repeated 6 times'
    >>> choose_validation(3_600, 11, 140, timeout=60, trials_at_once=2).describe()
    '5 stratified folds, repeated 4 times'
    >>> choose_validation(1_000, 8, 40, timeout=None).describe()
    '5 stratified folds'
    """
    capacity = _CELLS_PER_HOUR * (timeout or _DEFAULT_BUDGET) / 3600.0
    cells = n_rows * n_columns
    holdout_ok = _HOLDOUT * n_minority >= _MIN_HOLDOUT_MINORITY
    if holdout_ok and (n_rows >= _LARGE_ROWS or cells > 4 * capacity):
        return Validation("holdout", 1, _HOLDOUT)
    n_splits = 3 if cells > capacity else 5
    n_repeats = 1
    if timeout is not None and n_splits == 5 and n_minority < _REPEAT_BELOW_MINORITY \
            and n_rows < _LARGE_ROWS:
        minutes = timeout * max(1, trials_at_once) / 60
        most = min(_MAX_REPEATS, max(_REPEATS_PER_MINUTE,
                                     int(_REPEATS_PER_MINUTE * minutes)))
        n_repeats = int(min(most, max(1, capacity // max(cells, 1))))
    return Validation("kfold", n_splits, 1.0 / n_splits, n_repeats)


def make_folds(validation: Validation, y01, seed: int) -> list:
    """The (train, test) index pairs of ``validation`` for these labels."""
    y01 = np.asarray(y01)
    rows = np.zeros(len(y01))
    if validation.kind == "holdout":
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=validation.test_fraction, random_state=seed)
        return list(splitter.split(rows, y01))
    # Repeat r shuffles with seed + r: the first repeat is the unrepeated folds.
    return [fold for r in range(validation.n_repeats)
            for fold in StratifiedKFold(n_splits=validation.n_splits, shuffle=True,
                                        random_state=seed + r).split(rows, y01)]


def first_partition(folds) -> list:
    """The leading folds that hold out each row at most once (of repeated folds,
    the first repetition)."""
    seen = set()
    for k, (_, test) in enumerate(folds):
        rows = set(np.asarray(test).tolist())
        if seen & rows:
            return list(folds[:k])
        seen |= rows
    return list(folds)


def user_folds(cv, X, y01) -> list:
    """The splits of a user's splitter or list of (train, test) pairs, checked."""
    if cv is None or isinstance(cv, Integral):
        raise TypeError("user_folds takes a splitter or an iterable of splits")
    splitter = check_cv(cv, y01, classifier=True)
    folds = [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(X, y01)]
    return check_folds(folds, y01, cv)


def check_folds(folds, y01, cv) -> list:
    """Check that a splitter's test parts can score every row at most once.

    Each row must be held out by at most one split (rows held out by none are
    not scored), at least one row must be held out, and every training part
    must hold both classes.
    """
    n = len(y01)
    times = np.zeros(n, dtype=int)
    for _, test in folds:
        times[test] += 1
    if not folds or times.max() == 0:
        raise AutoImbError(
            f"cv={cv!r} holds out no row, so nothing can be scored. Pass an int "
            "(the number of stratified folds) or a splitter such as StratifiedKFold.")
    if times.max() > 1:
        raise AutoImbError(
            f"cv={cv!r} holds out {int((times > 1).sum())} row(s) in more than one "
            "split; autoimb scores every row once, from a model that never saw it. "
            "Pass a splitter whose test parts do not overlap, such as "
            "StratifiedKFold (not ShuffleSplit with n_splits > 1).")
    for k, (train, _) in enumerate(folds):
        if len(np.unique(np.asarray(y01)[train])) < 2:
            raise AutoImbError(
                f"Split {k} of cv={cv!r} trains on one class only. Pass a "
                "stratified splitter (StratifiedKFold) or fewer splits.")
    return folds
