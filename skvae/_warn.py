"""Warnings attributed to the user's line, however deep the call that raised them."""

import inspect
import os
import warnings

import sklearn

# Frames in these folders are skvae's or scikit-learn's (its fit wrappers,
# Pipeline, GridSearchCV), not the user's.
_INTERNAL = (
    os.path.dirname(__file__) + os.sep,
    os.path.dirname(sklearn.__file__) + os.sep,
)


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` pointing at the first caller outside skvae and scikit-learn.

    A fixed ``stacklevel`` points at the right line from one entry point only:
    ``fit``, ``partial_fit``, ``fit_transform`` and a ``Pipeline`` reach the
    same warning through different numbers of frames. pandas finds its level
    the same way.
    """
    frame = inspect.currentframe()
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
