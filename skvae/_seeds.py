"""Seeds: one drawn from a ``random_state``, and the streams derived from it."""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from sklearn.utils import check_random_state


class Stream(IntEnum):
    """Independent streams of random numbers drawn from one fit's seed.

    And, for the missing cells of generated rows, the map of their numbers
    and the likelihood's draws given ``z``, from one ``sample`` call's. The
    values are part of every seeded result: a new stream takes the next one.
    """

    TRAINING = 0
    NOISE = 1
    SPLIT = 2
    SCORING = 3
    MISSING_CELLS = 4
    PRIOR = 5
    ROW_SAMPLE = 6
    MARGINALS = 7
    LIKELIHOOD_DRAWS = 8


def seed_from(random_state) -> int:
    """A seed drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def derived_seed(seed: int, *stream: int) -> int:
    """A seed for one stream of random numbers of the fit seeded by ``seed``.

    ``stream`` is a ``Stream``, then any further numbers that tell its parts
    apart (the epoch a fit's training starts at, say). NumPy's
    ``SeedSequence`` reads trailing zeros as absent: ``(seed, stream, 0)``
    and ``(seed, stream)`` give the same seed, so two parts of a stream must
    not differ by a trailing 0 alone.

    Examples
    --------
    >>> from skvae._seeds import Stream, derived_seed
    >>> derived_seed(0, Stream.TRAINING, 0) == derived_seed(0, Stream.TRAINING, 0)
    True
    >>> derived_seed(0, Stream.TRAINING, 0) == derived_seed(0, Stream.NOISE, 0)
    False
    """
    return int(np.random.SeedSequence([seed, *map(int, stream)]).generate_state(1)[0])
