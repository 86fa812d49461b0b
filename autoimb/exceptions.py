"""Exceptions and warnings raised by autoimb."""

from __future__ import annotations

__all__ = [
    "AutoImbError",
    "AutoImbWarning",
    "ModelFileError",
    "NoCompletedTrialError",
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
