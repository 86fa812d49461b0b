"""``autoimb export``: the final model of a study, whoever ran its trials.

The study's job (see :mod:`autoimb.search.job`) says how it was made; the search
core (:class:`autoimb.search.run.SearchRun`) joins it and chooses the final model
among its completed trials exactly as ``fit`` chooses after its search
(:mod:`autoimb.search.choice`), from the out-of-fold scores stored with the study,
so that ``fit`` and an export of the same trials return the same model.
"""

from __future__ import annotations

from optuna.trial import TrialState

from autoimb._classifier import fitted_classifier, remember_ids
from autoimb._validation import check_training_data
from autoimb.explain.explainer import Explainer
from autoimb.search.budget import Budget
from autoimb.search.run import SearchRun
from autoimb.storage.location import StorageLocation
from autoimb.workers.worker import (
    Speaker,
    count_trials,
    read_job_data,
    refuse_memory,
    settings_of_job,
    wait_for_study,
    warn_if_unfinished,
)

__all__ = ["export_study"]


def export_study(storage, study_name: str, path=None, *, data=None,
                 target: str | None = None, format: str | None = None,
                 search_space=None, show_progress_bar: bool = False):
    """Build the final model from a study's trials and write the model file.

    The candidates are the study's best trials, whoever ran them, with the
    out-of-fold scores stored with the study: the final model is chosen as
    ``fit`` chooses it (the same choice on the same trials), refitted on all
    rows, and the study's note names it.

    Parameters
    ----------
    storage : str or optuna storage
        Where the study lives (see :func:`run_worker`).
    study_name : str
    path : str or path-like, default=None
        The model file to write (see :meth:`AutoImbClassifier.export`);
        ``None`` writes nothing.
    data, target, search_space
        As for :func:`run_worker`.
    format : {"joblib", "skops"}, default=None
        ``None``: skops if ``path`` ends in ``.skops``, else joblib.
    show_progress_bar : bool, default=False
        Say which study is read (on stderr).

    Returns
    -------
    AutoImbClassifier
        Fitted, as ``fit`` returns it.

    Raises
    ------
    AutoImbError
        If ``storage`` is a journal or SQLite file that does not exist
        (``No such file: PATH``, with the study files of its folder: nothing is
        created), or the study is not in it.

    Examples
    --------
    >>> import os, tempfile, autoimb
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> folder = tempfile.mkdtemp()
    >>> journal = os.path.join(folder, "study.journal")
    >>> _ = autoimb.fit(X, y, search_space="fast", n_trials=2, cv=3, storage=journal,
    ...                 study_name="demo", show_progress_bar=False)
    >>> model = autoimb.export_study(journal, "demo", os.path.join(folder, "m.joblib"),
    ...                              data=(X, y))
    >>> autoimb.load(os.path.join(folder, "m.joblib")).predict(X[:3]).shape
    (3,)
    """
    say = Speaker(show_progress_bar, "autoimb export")
    location = StorageLocation.parse(storage)
    refuse_memory(location, "export")
    job, budget_attrs = wait_for_study(location, study_name, 0.0, say,
                                       reading=True)
    X, y, data_file, left_out = read_job_data(job, data, target, study_name)
    settings = settings_of_job(job, storage, study_name, search_space=search_space,
                               n_trials=budget_attrs.get("n_trials"), timeout=None,
                               show_progress_bar=False, data_file=data_file)
    data_checked = check_training_data(X, y, settings.pos_label)
    run = SearchRun(settings, data_checked, join=True, budget=Budget(None),
                    observers=[Explainer()]).prepare()
    warn_if_unfinished(run.study, budget_attrs.get("n_trials"))
    say(f"building the model of study {study_name!r} in {location.shown} from "
        f"{count_trials(run.study, (TrialState.COMPLETE,))} completed trials")
    # The same choice as fit's on the same trials; one core per model, as in
    # the search (a trial without stored scores is scored again as it was).
    result = run.finish()
    model = fitted_classifier(settings, X, data_checked, result, run.times)
    if isinstance(data, tuple):
        name = getattr(data[1], "name", None)
        if isinstance(name, str):
            model.target_name_ = name
    else:
        model.target_name_ = str(target or job["data"]["target"])
        if left_out is not None:  # the --id given to `autoimb fit`
            remember_ids(model, left_out)
    if path is not None:
        fmt = format or ("skops" if str(path).lower().endswith(".skops") else "joblib")
        model.export(path, format=fmt)
    return model

