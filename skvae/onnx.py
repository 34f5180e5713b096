"""ONNX export: skl2onnx converters for skvae's estimators.

Importing this module registers converters with `skl2onnx
<https://onnx.ai/sklearn-onnx/>`_, so that :func:`skl2onnx.to_onnx` converts
pipelines that hold a fitted :class:`~skvae.VAETransformer` or
:class:`~skvae.VAEOutlierDetector` beside scikit-learn's own steps. The graphs
are built from the fitted weights and run in ONNX Runtime without PyTorch:

- ``VAETransformer``: ``transform``, the posterior means, with the input
  standardisation and the encoder's input transforms, for every family whose
  encoder reads one value per column, with missing cells (NaN) read as
  ``transform`` reads them. Models with columns read one-hot (categorical,
  inflated) or fitted with ``condition_on`` raise a ``NotImplementedError``.
- ``VAEOutlierDetector``: ``predict`` (the ``label`` output, +1 or -1) and
  ``decision_function`` (the ``scores`` output, of shape ``(n, 1)``), as
  skl2onnx converts :class:`~sklearn.ensemble.IsolationForest`. The score is
  the same importance-weighted estimate as ``score_samples``, with the same
  fixed draws, so the graph is deterministic. It is written for the
  real-valued likelihoods (Gaussian and Laplace, every variance) and the
  Bernoulli; the other families' log-probabilities need ``lgamma`` or the
  continuous Bernoulli's normaliser, which ONNX lacks, and their conversion
  raises a ``NotImplementedError``, as does a detector's with a mixture
  ``latent_prior``.
- ``VAEImputer`` has no converter: its conversion raises a
  ``NotImplementedError``.

The graphs compute in float32, as the estimators do; they take float32 or
float64 input, give outputs of the input's type (so that the steps after them
in a pipeline read what skl2onnx expects), and need ONNX opset 18 or later
(skl2onnx's default is later).
They read one input of all the columns: convert a model fitted on a DataFrame
with an array of its rows (``to_onnx`` given a DataFrame makes one input per
column, which is refused).

Examples
--------
>>> import numpy as np
>>> import onnxruntime
>>> from skl2onnx import to_onnx
>>> from sklearn.datasets import load_iris
>>> from skvae import VAETransformer
>>> import skvae.onnx  # registers the converters
>>> X = load_iris().data.astype(np.float32)
>>> vae = VAETransformer(latent_dim=2, random_state=0).fit(X)
>>> onx = to_onnx(vae, X[:1])
>>> session = onnxruntime.InferenceSession(onx.SerializeToString())
>>> latents = session.run(None, {"X": X})[0]
>>> bool(np.abs(latents - vae.transform(X)).max() < 1e-5)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
    )
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skvae.onnx needs skl2onnx and onnx: pip install 'skvae[onnx]'."
    ) from error

from ._estimator import VAETransformer
from ._imputer import VAEImputer
from ._likelihoods import BernoulliFamily, RealValued, _log1p
from ._module import ACTIVATIONS, MIN_POSTERIOR_SCALE, InputLayer
from ._outlier import VAEOutlierDetector

__all__ = ["register_converters"]

MIN_OPSET = 18
"""Reductions take their axes as an input from this opset on."""

_ONNX_ACTIVATIONS = {
    ACTIVATIONS["logistic"]: "Sigmoid",
    ACTIVATIONS["tanh"]: "Tanh",
    ACTIVATIONS["relu"]: "Relu",
}


class _Graph:
    """Adds nodes and constants to a skl2onnx container, with unique names."""

    def __init__(self, scope, container):
        if container.target_opset < MIN_OPSET:
            raise ValueError(
                f"skvae's ONNX converters need target_opset >= {MIN_OPSET}, "
                f"got {container.target_opset}."
            )
        self.scope, self.container = scope, container

    def constant(self, value, name: str = "constant") -> str:
        """A float32 (or, for integer arrays, int64) constant."""
        value = np.asarray(value)
        integer = np.issubdtype(value.dtype, np.integer)
        value = value.astype(np.int64 if integer else np.float32)
        unique = self.scope.get_unique_variable_name(name)
        kind = TensorProto.INT64 if integer else TensorProto.FLOAT
        self.container.add_initializer(unique, kind, list(value.shape), value.ravel())
        return unique

    def tensor(self, tensor: torch.Tensor, name: str) -> str:
        """A constant holding a torch tensor's values."""
        return self.constant(tensor.detach().cpu().numpy(), name)

    def op(self, op_type: str, *inputs: str, output: str | None = None, **attrs):
        """One node; returns the name of its output."""
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        self.container.add_node(
            op_type,
            list(inputs),
            [output],
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )
        return output

    def columns(self, x: str, start: int, stop: int) -> str:
        """``x[..., start:stop]``."""
        ends = (self.constant([start]), self.constant([stop]), self.constant([-1]))
        return self.op("Slice", x, *ends)

    def reduce(self, op_type: str, x: str, axis: int, keepdims: bool = False) -> str:
        return self.op(op_type, x, self.constant([axis]), keepdims=int(keepdims))

    def float_input(self, variable) -> str:
        """The operator's input as float32."""
        if isinstance(variable.type, FloatTensorType):
            return variable.onnx_name
        return self.op("Cast", variable.onnx_name, to=TensorProto.FLOAT)

    def output(self, value: str, variable) -> None:
        """Write the float32 ``value`` to the output ``variable``, in its type."""
        if isinstance(variable.type, DoubleTensorType):
            self.op("Cast", value, to=TensorProto.DOUBLE, output=variable.full_name)
        else:
            self.op("Identity", value, output=variable.full_name)


def _layers(graph: _Graph, hidden: str, layers, keep_outputs: int | None = None):
    """An MLP (:class:`torch.nn.Sequential`) applied to ``hidden``.

    Rows may carry a leading axis (one per posterior draw): the products are
    ``MatMul`` and ``Add``, which broadcast. ``keep_outputs`` keeps only the
    first outputs of the last linear layer.
    """
    linear_layers = [
        layer for layer in layers if isinstance(layer, InputLayer | nn.Linear)
    ]
    for layer in layers:
        if isinstance(layer, nn.Identity):
            continue
        if isinstance(layer, InputLayer | nn.Linear):
            weight: torch.Tensor = layer.weight
            bias: torch.Tensor = layer.bias
            if isinstance(layer, nn.Linear):
                weight = weight.t()
            if layer is linear_layers[-1] and keep_outputs is not None:
                weight, bias = weight[:, :keep_outputs], bias[:keep_outputs]
            product = graph.op("MatMul", hidden, graph.tensor(weight, "weight"))
            hidden = graph.op("Add", product, graph.tensor(bias, "bias"))
        else:
            hidden = graph.op(_ONNX_ACTIVATIONS[type(layer)], hidden)
    return hidden


def _encoder_input(graph: _Graph, x: str, likelihood) -> str:
    """The rows as the encoder's first layer sees them (``encoder_input``).

    A missing cell (NaN) is read as its column's training mean, 0 once
    standardised, and, for a model fitted on rows with missing cells,
    flagged in the indicators that follow the values; a value standardised
    beyond float32's range as the range's end.
    """
    parts = []
    for columns, family in zip(likelihood.columns, likelihood.families, strict=True):
        values = x
        if not likelihood.whole_rows:
            values = graph.op("Gather", x, graph.constant(columns), axis=1)
        if type(family).encoder_values is _log1p:
            values = graph.op("Log", graph.op("Add", values, graph.constant(1.0)))
        standardisation = family.input_standardisation()
        if standardisation is not None:
            shift, scale = (graph.tensor(t, "standardisation") for t in standardisation)
            values = graph.op("Div", graph.op("Sub", values, shift), scale)
        # as torch's nan_to_num: a value standardised beyond float32's range
        # is its limit
        limit = float(np.finfo(np.float32).max)
        finite = graph.op("Clip", values, graph.constant(-limit), graph.constant(limit))
        parts.append(_where_nan(graph, values, finite, 0.0))
    if likelihood.missing_indicators:
        parts.append(graph.op("Cast", graph.op("IsNaN", x), to=TensorProto.FLOAT))
    return parts[0] if len(parts) == 1 else graph.op("Concat", *parts, axis=1)


def _where_nan(graph: _Graph, cells: str, values: str, fill: float) -> str:
    """``values``, with ``fill`` where ``cells`` (of the same shape) is NaN."""
    return graph.op("Where", graph.op("IsNaN", cells), graph.constant(fill), values)


def _encoder(graph: _Graph, x: str, module, keep_outputs: int | None = None) -> str:
    hidden = _encoder_input(graph, x, module.likelihood)
    return _layers(graph, hidden, list(module.encoder), keep_outputs)


# ----------------------------------------------------------------- transformer


def _refuse_unconvertible(model) -> None:
    """Raise ``NotImplementedError`` for a model no graph is written for.

    The encoder is written for modelled columns read one value each, and a
    detector's score for the real-valued and Bernoulli likelihoods under the
    ``N(0, I)`` prior.
    """
    module = model.module_
    if getattr(module, "n_conditions", 0):
        raise NotImplementedError(
            "The ONNX converter writes encoders of modelled columns only; this "
            "model was fitted with condition_on, and its encoder also reads the "
            "encoded conditions."
        )
    families = module.likelihood.families
    for family in families:
        if family.n_outputs != family.n_features:
            raise NotImplementedError(
                f"The ONNX converter writes encoders that read one value per "
                f"column; this model's {family.describe()!r} columns are read "
                "one-hot."
            )
    if not isinstance(model, VAEOutlierDetector):
        return
    if module.has_prior_mixture:
        raise NotImplementedError(
            "The ONNX converter writes the score under the N(0, I) prior; this "
            f"detector has latent_prior={model.latent_prior!r}."
        )
    for family in families:
        if type(family) not in _LOG_PROBS:
            raise NotImplementedError(
                f"The ONNX converter writes the score of the real-valued and "
                f"Bernoulli likelihoods; this model's {family.describe()!r} is "
                f"not among them."
            )


def _rows_of_one_input(operator):
    """The number of rows of the operator's one input of every column, or None.

    ``to_onnx`` given a DataFrame makes one input per column; the graph reads
    one matrix, and would read the first column alone.
    """
    model = operator.raw_operator
    check_is_fitted(model)  # NotFittedError, not an AttributeError below
    _refuse_unconvertible(model)  # whatever the input, before its checks
    name, n_features = type(model).__name__, model.n_features_in_
    if len(operator.inputs) != 1:
        raise ValueError(
            f"{name}'s ONNX graph reads one input of all {n_features} columns, "
            f"but it was given {len(operator.inputs)} inputs (to_onnx makes one "
            "per column of a DataFrame). Convert with a NumPy array, such as "
            "to_onnx(model, X.to_numpy(np.float32)[:1])."
        )
    shape = operator.inputs[0].type.shape  # [] where the rank is not given
    if shape and len(shape) != 2:
        raise ValueError(
            f"{name}'s ONNX graph reads rows of {n_features} columns, a 2-D "
            f"input of shape [None, {n_features}], but its input has shape "
            f"{list(shape)}."
        )
    width = operator.inputs[0].get_second_dimension()
    if width is not None and width != n_features:
        raise ValueError(
            f"{name}'s ONNX graph reads {n_features} columns, but its input "
            f"has {width}."
        )
    return operator.inputs[0].get_first_dimension()


def _output_type(operator):
    """float64 for float64 input, as the steps after it in a pipeline expect."""
    if isinstance(operator.inputs[0].type, DoubleTensorType):
        return DoubleTensorType
    return FloatTensorType


def _transformer_shape(operator) -> None:
    n_rows = _rows_of_one_input(operator)
    latent_dim = operator.raw_operator.module_.latent_dim
    operator.outputs[0].type = _output_type(operator)([n_rows, latent_dim])


def _transformer_converter(scope, operator, container) -> None:
    """``transform``: the posterior means, the encoder's first half of outputs."""
    graph = _Graph(scope, container)
    module = operator.raw_operator.module_
    x = graph.float_input(operator.inputs[0])
    means = _encoder(graph, x, module, keep_outputs=module.latent_dim)
    graph.output(means, operator.outputs[0])


# ------------------------------------------------------------ outlier detector


def _real_valued_log_prob(graph: _Graph, family: RealValued, output, x) -> str:
    """``RealValued.log_prob`` with the per-column constants folded in."""
    scale, variance = family.scale, family.standardised_variance()
    if family.variance_kind == "unit":  # in the units of x, as log_prob
        mean = graph.op(
            "Add",
            graph.tensor(family.offset, "offset"),
            graph.op("Mul", graph.tensor(scale, "scale"), output),
        )
        residual = graph.op("Sub", x, mean)
        return graph.op(
            "Add",
            graph.op("Mul", graph.op("Mul", residual, residual), graph.constant(-0.5)),
            graph.constant(-0.5 * math.log(2 * math.pi)),
        )
    standardised = graph.op(
        "Div",
        graph.op("Sub", x, graph.tensor(family.offset, "offset")),
        graph.tensor(scale, "scale"),
    )
    residual = graph.op("Sub", standardised, output)
    if family.noise == "laplace":
        spread = (variance / 2.0).sqrt()
        distance = graph.op("Div", graph.op("Abs", residual), graph.tensor(spread, "b"))
        laplace_normaliser = (2.0 * spread).log() + scale.log()
        return graph.op(
            "Neg",
            graph.op("Add", distance, graph.tensor(laplace_normaliser, "normaliser")),
        )
    # (r * r) / v, then times -1/2, in PyTorch's order: near float32's limit
    # r * r / v and r * r * (-0.5 / v) overflow at different r.
    squared = graph.op(
        "Div", graph.op("Mul", residual, residual), graph.tensor(variance, "variance")
    )
    normaliser = -0.5 * (variance.log() + 2.0 * scale.log() + math.log(2 * math.pi))
    return graph.op(
        "Add",
        graph.op("Mul", squared, graph.constant(-0.5)),
        graph.tensor(normaliser, "normaliser"),
    )


def _bernoulli_log_prob(graph: _Graph, family: BernoulliFamily, output, x) -> str:
    """``x l - softplus(l)``, with ``l`` the logits."""
    logits = graph.op("Add", output, graph.tensor(family.offset, "offset"))
    return graph.op("Sub", graph.op("Mul", x, logits), graph.op("Softplus", logits))


_LOG_PROBS: dict[type, Callable[..., str]] = {
    RealValued: _real_valued_log_prob,
    BernoulliFamily: _bernoulli_log_prob,
}


def _log_likelihood(graph: _Graph, likelihood, output: str, x: str) -> str:
    """``log p(x | z)`` of each row and draw: the blocks' sums, added up."""
    rows: str | None = None
    start = 0
    for columns, family in zip(likelihood.columns, likelihood.families, strict=True):
        stop = start + family.n_outputs
        block_output = graph.columns(output, start, stop)
        block_x = x
        if not likelihood.whole_rows:
            block_x = graph.op("Gather", x, graph.constant(columns), axis=1)
        per_value = _LOG_PROBS[type(family)](graph, family, block_output, block_x)
        # a missing cell is marginalised: its term is left out
        observed_terms = _where_nan(graph, block_x, per_value, 0.0)
        block = graph.reduce("ReduceSum", observed_terms, axis=-1)
        rows = block if rows is None else graph.op("Add", rows, block)
        start = stop
    assert rows is not None  # a likelihood has at least one block
    return rows


def _score_samples(graph: _Graph, x: str, detector) -> str:
    """``VAE.log_marginal`` with the detector's fixed draws, ``(n_rows,)``."""
    module = detector.module_
    latent_dim = module.latent_dim
    noise = detector._scoring_noise().cpu()  # (n_draws, latent_dim)
    encoded = _encoder(graph, x, module)
    loc = graph.columns(encoded, 0, latent_dim)
    raw_scale = graph.columns(encoded, latent_dim, 2 * latent_dim)
    scale = graph.op(
        "Add", graph.op("Softplus", raw_scale), graph.constant(MIN_POSTERIOR_SCALE)
    )
    # z = loc + scale * noise, with a leading axis of draws: (n_draws, n_rows, L)
    z = graph.op(
        "Add",
        graph.op("Mul", scale, graph.tensor(noise[:, None, :], "noise")),
        loc,
    )
    output = _layers(graph, z, module.decoder)
    # log p(z) - log q(z | x): the 2 pi terms cancel, and (z - loc) / scale is
    # the noise itself.
    prior = graph.op(
        "Mul",
        graph.reduce("ReduceSum", graph.op("Mul", z, z), axis=-1),
        graph.constant(-0.5),
    )
    posterior_constant = graph.tensor(
        -0.5 * noise.square().sum(-1, keepdim=True), "log_q_noise"
    )
    log_scale = graph.reduce("ReduceSum", graph.op("Log", scale), axis=-1)
    log_weights = graph.op(
        "Add",
        graph.op("Add", _log_likelihood(graph, module.likelihood, output, x), prior),
        graph.op("Sub", log_scale, posterior_constant),
    )
    # As VAE._importance_draws: NaN where a row made the network overflow is
    # probability 0.
    log_weights = _where_nan(graph, log_weights, log_weights, -math.inf)
    log_mean = _log_sum_exp_of_draws(graph, log_weights)
    return graph.op("Sub", log_mean, graph.constant(math.log(len(noise))))


def _log_sum_exp_of_draws(graph: _Graph, log_weights: str) -> str:
    """``torch.logsumexp(log_weights, 0)``: finite beside draws of ``-inf``.

    ONNX Runtime's ``ReduceLogSumExp`` gives ``-inf`` for ``[-inf, -1001]``
    (and loses precision below about -87), so the maximum is taken out by
    hand, 0 in its place where every draw is ``-inf``.
    """
    largest = graph.reduce("ReduceMax", log_weights, axis=0, keepdims=True)
    shift = graph.op("Where", graph.op("IsInf", largest), graph.constant(0.0), largest)
    total = graph.reduce(
        "ReduceSum", graph.op("Exp", graph.op("Sub", log_weights, shift)), axis=0
    )
    return graph.op(
        "Add", graph.op("Log", total), graph.op("Squeeze", shift, graph.constant([0]))
    )


def _detector_shape(operator) -> None:
    n_rows = _rows_of_one_input(operator)
    operator.outputs[0].type = Int64TensorType([n_rows])
    operator.outputs[1].type = _output_type(operator)([n_rows, 1])


def _detector_converter(scope, operator, container) -> None:
    """``predict`` (labels) and ``decision_function`` (scores, ``(n, 1)``)."""
    graph = _Graph(scope, container)
    detector = operator.raw_operator
    detector._warn_of_a_changed_draw_count()
    x = graph.float_input(operator.inputs[0])
    decision = graph.op(
        "Sub", _score_samples(graph, x, detector), graph.constant(detector.offset_)
    )
    # a NaN decision is an outlier, as in predict
    outlier = graph.op("Not", graph.op("GreaterOrEqual", decision, graph.constant(0.0)))
    labels, scores = operator.outputs
    graph.op(
        "Where",
        outlier,
        graph.constant(np.array(-1)),
        graph.constant(np.array(1)),
        output=labels.full_name,
    )
    graph.output(graph.op("Unsqueeze", decision, graph.constant([1])), scores)


def _refuse_imputer(operator) -> None:
    """The shape calculator of ``VAEImputer``: a refusal by name."""
    raise NotImplementedError(
        "skvae.onnx has no converter for VAEImputer: its fills are decoder "
        "means weighted over importance draws, for which no graph is written. "
        "Fill the rows before they reach the exported steps."
    )


def _imputer_converter(scope, operator, container) -> None:
    """Unreached: skl2onnx runs the shape calculator, which refuses, first."""
    _refuse_imputer(operator)


def register_converters() -> None:
    """Register skvae's converters with skl2onnx (done on import of this module)."""
    update_registered_converter(
        VAETransformer,
        "SkvaeVAETransformer",
        _transformer_shape,
        _transformer_converter,
    )
    update_registered_converter(
        VAEOutlierDetector,
        "SkvaeVAEOutlierDetector",
        _detector_shape,
        _detector_converter,
    )
    # without this, skl2onnx asks the user to register a converter
    update_registered_converter(
        VAEImputer, "SkvaeVAEImputer", _refuse_imputer, _imputer_converter
    )


register_converters()
