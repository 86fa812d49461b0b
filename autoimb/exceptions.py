"""Exceptions and warnings raised by autoimb."""

from __future__ import annotations

__all__ = [
    "AutoImbError",
    "AutoImbWarning",
    "ModelFileError",
    "NoCompletedTrialError",
    "SearchTerminated",
    "StorageUnavailableError",
    "StudyMismatchError",
]


class AutoImbError(ValueError):
    """Base class of the errors autoimb raises about its input.

    It derives from :class:`ValueError` so that code written for scikit-learn
    estimators, which expect ``ValueError`` on bad input, keeps working.
    """


class NoCompletedTrialError(AutoImbError):
    """No trial of the search completed; ``__cause__`` holds the first failure."""


class StudyMismatchError(AutoImbError):
    """An existing study was made for other data or another configuration."""


class ModelFileError(AutoImbError):
    """A model file is not an autoimb model, or it is corrupted or truncated."""


class AutoImbWarning(UserWarning):
    """Warnings about data or settings that autoimb can work with, but should tell."""


class StorageUnavailableError(ConnectionError):
    """The study's database stayed unreachable longer than autoimb retries.

    Finished trials are safe in the database; run the same search again, once the
    database answers, to resume the study.
    """


class SearchTerminated(SystemExit):
    """The search stopped because the process received SIGTERM.

    The running trial was stopped (its outcome "stopped", FAIL in Optuna)
    and queued again, so the study loses
    nothing; run the same search again to resume it. As a :class:`SystemExit`,
    it ends a script that does not catch it with status 143 (128 + SIGTERM),
    as SIGTERM would have.
    """

    def __init__(self, message: str):
        super().__init__(message)
        self.code = 143
