"""Generating rows: codes drawn from ``p(z)``, decoded, as the training rows' kind."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from ._containers import _is_dataframe, as_polars
from ._data import map_batches, seeded_global_rng
from ._marginals import MapsByCondition, MarginalMap, real_valued_columns
from ._missing import MissingPatterns
from ._module import VAE
from ._seeds import Stream, derived_seed

# Rows per batch when generating: fixed, so that a seeded ``sample`` draws the
# same rows whatever the memory settings.
_SAMPLE_ROWS = 256
# Rows per batch of the draws that fit ``sample``'s quantile map, whose
# distribution alone counts: larger batches, fewer calls.
_MAP_DRAW_ROWS = 2048


def _conditioned(decode, latent_dim: int):
    """``decode(z, conditions)`` as a function of batches of codes.

    Each row of a batch is a latent point followed by its row's encoded
    conditions, as ``_decoded_draws`` makes them.
    """

    def decode_batch(batch):
        return decode(batch[:, :latent_dim], batch[:, latent_dim:])

    return decode_batch


class GenerationMixin:
    """What ``sample`` and the fills of ``VAEImputer`` share: rows drawn and decoded.

    A mixin of ``BaseVAE`` only, for a fitted model: it reads the network
    and what ``fit`` sets, and writes ``_marginal_map``.
    """

    _maps_sampled_numbers = False
    """Whether ``fit`` prepares the map that makes ``sample``'s numbers follow
    each column's training distribution (see ``_marginals``)."""

    # The estimator's fitted attributes and methods that generating uses.
    module_: VAE
    device_: torch.device
    _missing_patterns: MissingPatterns
    _modelled: Callable
    _thread_policy: Callable

    def _fit_marginal_map(self, X, weights, seed: int) -> None:
        """Fit the map of generated numbers to the training rows' distributions.

        For estimators whose ``sample`` maps numbers
        (``_maps_sampled_numbers``): each real-valued column's quantiles in
        ``X`` (training rows as ``_fit_latent_prior`` takes them) and among
        the model's draws; with ``condition_on``, for each value of the
        conditions that enough rows hold (``MapsByCondition``). See
        ``_marginals``.
        """
        self._marginal_map: MarginalMap | MapsByCondition | None = None
        if not self._maps_sampled_numbers:
            return
        columns = real_valued_columns(self.module_.likelihood)
        if not columns.size:
            return
        draw = partial(self._drawn_columns, seed=derived_seed(seed, Stream.MARGINALS))
        conditions = getattr(self, "_conditions", None)
        if conditions is None:
            self._marginal_map = MarginalMap.fit(X, weights, columns, draw)
            return

        def draw_under(value: np.ndarray):
            return partial(draw, encoded=value)

        self._marginal_map = MapsByCondition.fit(
            self._modelled(X),
            X[:, -conditions.n_features :],
            weights,
            columns,
            draw_under,
        )

    def _drawn_columns(
        self, n_rows: int, columns: np.ndarray, seed: int, encoded=None
    ) -> np.ndarray:
        """``columns`` of ``n_rows`` rows drawn as ``sample`` draws them.

        Drawn before any map, in batches of ``_MAP_DRAW_ROWS`` rows, and only
        those columns are kept in memory; a conditional model's rows under
        the ``encoded`` conditions (one encoded row, for every row drawn).
        """
        index = torch.as_tensor(columns, device=self.device_)

        def decode(z, conditions=None):
            return self.module_.decode_sample(z, conditions)[:, index]

        if encoded is None:
            return self._decoded_draws(n_rows, seed, decode, batch_rows=_MAP_DRAW_ROWS)
        return self._decoded_draws(
            n_rows,
            seed,
            _conditioned(decode, self.module_.latent_dim),
            np.repeat(encoded[None], n_rows, axis=0),
            batch_rows=_MAP_DRAW_ROWS,
        )

    def _decoded_draws(
        self, n_rows: int, seed: int, decode, encoded=None, batch_rows=_SAMPLE_ROWS
    ):
        """``n_rows`` rows decoded by ``decode`` from ``z ~ p(z)``, seeded by ``seed``.

        ``decode`` maps a batch of codes to rows (the module's
        ``decode_mean`` or ``decode_sample``, or some columns of them);
        a conditional model's ``decode`` and ``encoded`` conditions are those
        of ``_latent_decoder``. The rows are as the network gives them,
        before ``_as_rows``, decoded ``batch_rows`` at a time.
        """
        generator = torch.Generator(self.device_).manual_seed(seed)
        z = self.module_.draw_prior(n_rows, generator)
        if encoded is not None:
            encoded = torch.as_tensor(encoded, dtype=z.dtype, device=z.device)
            z = torch.cat([z, encoded], 1)
        with self._likelihood_draws_seeded(seed):
            return map_batches(
                decode,
                z.split(batch_rows),
                n_rows,
                pad=False,
                threads=self._thread_policy(),
            )

    def _likelihood_draws_seeded(self, seed: int):
        """A block in which ``p(x | z)`` draws from a stream of ``seed``'s own.

        The likelihood draws through :mod:`torch.distributions`, from torch's
        global generator: seeded for the block from a stream derived from
        ``seed`` (seeded with ``seed`` itself, its draws would be those of the
        codes drawn from ``seed``'s generator, again), and put back as it was
        afterwards.
        """
        return seeded_global_rng(
            derived_seed(seed, Stream.LIKELIHOOD_DRAWS), self.device_
        )

    def _leave_cells_missing(self, rows: np.ndarray, seed: int) -> np.ndarray:
        """``rows`` with missing cells in patterns drawn from the training rows'."""
        rng = np.random.default_rng(derived_seed(seed, Stream.MISSING_CELLS))
        return np.where(self._missing_patterns.draw(len(rows), rng), np.nan, rows)

    def _latent_decoder(self, decode, conditions, n_rows: int):
        """``decode`` (a module's ``decode_mean`` or ``decode_sample``) for batches.

        Returns the function of a batch and the encoded conditions of the
        ``n_rows`` rows (None for a model without ``condition_on``), which a
        batch holds after its latent points.
        """
        model_conditions = getattr(self, "_conditions", None)
        if model_conditions is None:
            if conditions is not None:
                raise ValueError(
                    "conditions are for a model fitted with condition_on; this "
                    "one has none."
                )
            return decode, None
        typed_rows = getattr(self, "_table_layout", None) is not None
        encoded = model_conditions.encode(conditions, n_rows, typed_rows)
        return _conditioned(decode, self.module_.latent_dim), encoded

    def _as_rows(self, decoded: np.ndarray, conditions):
        """Decoded rows as ``X``'s rows: ``_as_table``, conditions put back.

        A table of rows takes the index of ``conditions`` given as a DataFrame,
        a row per generated row; it is a polars DataFrame, without an index,
        for a model fitted on one.
        """
        rows = self._as_table(decoded)
        model_conditions = getattr(self, "_conditions", None)
        if model_conditions is not None:
            rows = model_conditions.assemble(rows, conditions, len(decoded))
            one_per_row = _is_dataframe(conditions) and len(conditions) == len(rows)
            if _is_dataframe(rows) and one_per_row:
                rows.index = conditions.index
        enums = getattr(self, "_polars_enum_columns", None)  # None in older pickles
        if enums is not None and _is_dataframe(rows):
            return as_polars(rows, enums)
        return rows

    def _as_table(self, values: np.ndarray):
        """Decoded rows as the training table's kind: levels, dtypes, names.

        Unchanged for a model with one family for every column.
        """
        layout = getattr(self, "_table_layout", None)
        return values if layout is None else layout.decode(values)
