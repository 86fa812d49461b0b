"""Warnings that point at the user's line, not at autoimb's or scikit-learn's.

``fit`` runs under scikit-learn's ``_fit_context`` wrapper and calls through
several of our own modules, so a fixed ``stacklevel`` points into
``sklearn/base.py`` or into autoimb. :func:`warn` walks the stack to the first
frame outside both packages.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

import sklearn

from autoimb.exceptions import AutoImbWarning

__all__ = ["warn"]

_INTERNAL = tuple(os.path.dirname(os.path.abspath(path)) + os.sep for path in (
    __file__, sklearn.__file__, contextlib.__file__))


def _stacklevel() -> int:
    """The ``stacklevel`` of the first caller outside autoimb and scikit-learn,
    counted from :func:`warn`'s caller's call to :func:`warnings.warn`."""
    frame, level = sys._getframe(2), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


def warn(message: str, category: type[Warning] = AutoImbWarning) -> None:
    """Warn, attributing the warning to the user's code that called autoimb."""
    warnings.warn(message, category, stacklevel=_stacklevel())
