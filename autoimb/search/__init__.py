"""The search itself: one study searched, its final model chosen.

The core of autoimb. :class:`~autoimb.search.run.SearchRun` (``run``) takes the
checked data and the :class:`~autoimb.search.settings.SearchSettings`, opens the
study, runs trials (``trials``: the shared context, one trial's steps, the
stopping rules; ``processes``: trials in worker processes beside it) within the
time budget (``budget``), on the folds (``folds``) of the search space
(``spaces``, ``portfolio``), stores each trial's out-of-fold scores with the
study (``scores``) and chooses the final model from them (``selection``,
``ensemble``, ``choice``). ``job`` is what a study records so that workers can
join it; ``memory`` what a trial is expected to hold. It may import
``autoimb.pipeline``, ``autoimb.storage``, ``autoimb._validation`` and the base
modules; never the estimator, the workers, the explaining layer (which observes
it through :class:`~autoimb.search.trials.SearchObserver`) or deployment.
"""
