"""Warnings attributed to the user's line, however deep the call that raised them."""

import inspect
import os
import warnings

import joblib
import sklearn

# Frames in these folders are skvae's, scikit-learn's (its fit wrappers,
# Pipeline, GridSearchCV) or joblib's (through which a Pipeline's steps and
# cross-validation's fits run), not the user's.
_INTERNAL = tuple(
    os.path.dirname(module.__file__) + os.sep for module in (sklearn, joblib)
) + (os.path.dirname(__file__) + os.sep,)


def warn_user(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` pointing at the first caller outside skvae and its libraries.

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
