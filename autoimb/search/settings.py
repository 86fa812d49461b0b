"""The settings of a search, apart from the estimator that holds them.

:class:`SearchSettings` is what a search run (:mod:`autoimb.search.run`) needs to
know: ``AutoImbClassifier`` makes one from its parameters, ``autoimb worker``
and ``autoimb export`` from the job a study records (:mod:`autoimb.search.job`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

__all__ = ["DEFAULT_PARALLEL", "SearchSettings"]

#: How ``n_jobs > 1`` trials run when ``parallel=None``: "threads" or "processes".
#: Processes: on a quiet 2-core machine they ran 180 and 104 trials in 60 s where
#: threads ran 92 and 64 (yeast_me2, mammography; benchmarks/results/parallel.md).
#: Here, in a module that imports nothing heavy: the command line reads it for
#: its help.
DEFAULT_PARALLEL = "processes"


@dataclass(frozen=True)
class SearchSettings:
    """The parameters of :class:`~autoimb.AutoImbClassifier`, as a search
    reads them (see that class for each one's meaning).

    Examples
    --------
    >>> settings = SearchSettings("fast", n_trials=3, storage="memory")
    >>> settings.n_trials_wanted, settings.with_changes(timeout=10.0).n_trials_wanted
    (3, 3)
    >>> SearchSettings().n_trials_wanted  # neither: 50 trials
    50
    """

    search_space: object = "default"
    objective: str = "cost"
    fp_cost: float | None = None
    fn_cost: float | None = None
    n_trials: int | None = None
    timeout: float | None = None
    cv: object = None
    storage: object = None
    study_name: str | None = None
    random_state: object = None
    n_jobs: int | None = None
    parallel: str | None = None
    pos_label: object = None
    ensemble_size: int = 5
    show_progress_bar: bool = True
    dashboard: bool = False
    data_location: str | os.PathLike | None = None

    @classmethod
    def of(cls, estimator) -> SearchSettings:
        """The settings of an ``AutoImbClassifier`` (its parameters)."""
        params = estimator.get_params(deep=False)
        return cls(**{f.name: params[f.name] for f in fields(cls)})

    def with_changes(self, **changes) -> SearchSettings:
        """A copy with some settings changed."""
        return replace(self, **changes)

    @property
    def n_trials_wanted(self) -> int | None:
        """Finished trials wanted in the study: ``n_trials``, or 50 when
        neither ``n_trials`` nor ``timeout`` is given (``None``: as many as the
        timeout allows)."""
        if self.n_trials is None and self.timeout is None:
            return 50
        return self.n_trials
