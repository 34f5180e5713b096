"""The training loop: minibatch Adam on the negative ELBO, with early stopping."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ._data import DenseRows, Rows
from ._likelihoods import map_values
from ._module import VAE


@dataclass
class TrainingConfig:
    """How to train: the estimator's parameters, resolved for one fit."""

    batch_size: int
    max_epochs: int
    learning_rate: float
    beta: float
    tol: float
    n_iter_no_change: int
    kl_warmup_epochs: int = 0
    kl_warmup_start: float = 0.0
    input_dropout: float = 0.0
    support_fraction: float = 1.0
    support_warmup_epochs: int = 0
    verbose: int = 0
    name: str = "VAE"
    """What the progress bar calls the model being trained."""

    def trims(self, epoch: int) -> bool:
        """Whether the epoch with this index trains on each batch's most likely rows."""
        return self.support_fraction < 1.0 and epoch >= self.support_warmup_epochs

    def warming_up(self, epoch: int) -> bool:
        """Whether the epoch with this index is in a warm-up that stopping waits for.

        The KL warm-up ends with the epoch that reaches ``beta``; the support
        warm-up with the last epoch that trains on every row.
        """
        untrimmed = self.support_fraction < 1.0 and not self.trims(epoch)
        return epoch + 1 < self.kl_warmup_epochs or untrimmed


@dataclass
class TrainingResult:
    """What one call of ``train`` did, epoch by epoch."""

    loss_curve: list[float] = field(default_factory=list)
    """Mean training loss (negative beta-ELBO, nats per row) of each epoch."""
    validation_scores: list[float] = field(default_factory=list)
    """Mean ELBO of the held-out rows after each epoch (early stopping only)."""
    converged: bool = False
    """Whether training stopped because it had stopped improving."""
    optimizer_state: dict | None = None
    """The optimizer's state at the end, on the CPU (see ``optimizer_state``)."""

    @property
    def n_epochs(self) -> int:
        """Number of epochs run."""
        return len(self.loss_curve)


class Plateau:
    """Counts consecutive epochs in which a score failed to beat its best by ``tol``.

    The rule of scikit-learn's ``MLPRegressor``: training stops once the count
    exceeds ``n_iter_no_change``.
    """

    def __init__(self, tol: float, patience: int):
        self.tol = tol
        self.patience = patience
        self.best = -math.inf
        self.count = 0

    def update(self, score: float) -> bool:
        """Record an epoch's score (higher is better); return if it is a new best."""
        self.count = self.count + 1 if score < self.best + self.tol else 0
        improved = score > self.best
        self.best = max(self.best, score)
        return improved

    @property
    def stalled(self) -> bool:
        """Whether the score has not improved for more than ``patience`` epochs."""
        return self.count > self.patience


def kl_weight(
    epoch: float, beta: float, warmup_epochs: int, start: float = 0.0
) -> float:
    """Weight of the KL term ``epoch`` epochs into training (fractions allowed).

    It moves linearly from ``start * beta`` to ``beta`` over the first
    ``warmup_epochs`` epochs, then stays at ``beta``. From ``start=0`` this is
    the KL annealing of Bowman et al. (2016), used by Mult-VAE and scVI. From
    ``start > 1`` training begins with a stronger KL term, which limits how
    much the code can carry while the layout of the latent space forms, as the
    capacity annealing of Burgess et al. (2018) does.
    """
    if warmup_epochs == 0:
        return beta
    progress = min(1.0, epoch / warmup_epochs)
    return beta * (start + (1.0 - start) * progress)


def make_optimizer(
    module: VAE, learning_rate: float, state: dict | None = None
) -> torch.optim.Optimizer:
    """Adam, with the fused implementation where torch has one for the device.

    ``state``, a ``state_dict`` of an earlier Adam over the same parameters
    (on any device), continues its moment estimates and step counts; the
    learning rate is ``learning_rate`` whatever ``state`` holds. ``state`` is
    copied, never changed.
    """
    optimizer = _adam(module.parameters(), learning_rate)
    if state is not None:
        # load_state_dict keeps tensors already on the right device, so without
        # the copy the steps would update the caller's state in place.
        optimizer.load_state_dict(copy.deepcopy(state))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
    return optimizer


def _adam(parameters, learning_rate: float) -> torch.optim.Adam:
    """Adam over ``parameters``, fused where torch has a fused Adam for their device."""
    parameters = list(parameters)
    fused = parameters[0].device.type in ("cpu", "cuda")
    return torch.optim.Adam(parameters, lr=learning_rate, fused=fused)


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """A copy of ``optimizer``'s ``state_dict`` with every tensor on the CPU.

    What a fitted estimator keeps between calls: it pickles, and loads on a
    machine without the training device.
    """
    state = optimizer.state_dict()
    return {
        "state": {
            index: {
                name: value.detach().to("cpu", copy=True)
                if torch.is_tensor(value)
                else value
                for name, value in moments.items()
            }
            for index, moments in state["state"].items()
        },
        "param_groups": copy.deepcopy(state["param_groups"]),
    }


# Minibatch steps of ``align_latent_means``: enough for the posterior means to
# follow the targets' layout (10 epochs of 4,000 rows in batches of 200), few
# next to the ELBO's, and the same whatever the number of rows.
ALIGNMENT_STEPS = 200


def align_latent_means(
    module: VAE,
    rows: DenseRows,
    targets: torch.Tensor,
    config: TrainingConfig,
    generator: torch.Generator,
    steps: int = ALIGNMENT_STEPS,
) -> None:
    """Train the encoder so that the posterior means of ``rows`` approach ``targets``.

    ``targets`` holds one point per row in the first ``targets.shape[1]``
    latent dimensions (for ``init='pca'``, the whitened principal component
    scores). Minibatch Adam on the squared distance, weighted by the rows'
    weights, for ``steps`` steps over passes in random orders; the decoder is
    left alone. Training the ELBO from there refines a layout that starts out
    as the targets' one, as ``TSNE(init='pca')`` does for an embedding, rather
    than one set by the random initial weights.
    """
    n_targets = targets.shape[1]
    targets = targets.to(rows.device)
    weights = rows.relative_weights()
    optimizer = _adam(module.encoder.parameters(), config.learning_rate)
    module.train()
    while steps > 0:
        order = torch.randperm(len(rows), generator=generator)
        for index in order.split(config.batch_size)[:steps]:
            on_device = index.to(rows.device)
            mean = module.posterior_mean(rows.take(index))[:, :n_targets]
            distance = (mean - targets[on_device]).square().sum(-1)
            loss = (weights[on_device] * distance).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps -= 1
    module.eval()


class TrainingDivergedError(FloatingPointError):
    """The training loss stopped being a finite number."""


def train(
    module: VAE,
    rows: Rows,
    config: TrainingConfig,
    generator: torch.Generator,
    noise_generator: torch.Generator,
    validation_rows: Rows | None = None,
    epochs_done: int = 0,
) -> TrainingResult:
    """Train ``module`` in place on ``rows``.

    ``generator`` (on the CPU) orders the batches; ``noise_generator`` (on the
    module's device) draws the reparameterisation noise and the input dropout
    masks. With ``validation_rows``, each epoch ends by scoring them, training
    stops when that score stalls, and the weights of the best epoch are
    restored; otherwise training stops when the training loss stalls. Neither
    rule applies during the KL warm-up, counted from ``epochs_done`` (epochs
    of earlier fits that this one continues).
    """
    optimizer = make_optimizer(module, config.learning_rate)
    plateau = Plateau(config.tol, config.n_iter_no_change)
    best_state = None
    result = TrainingResult()
    epochs = tqdm(
        range(epochs_done, epochs_done + config.max_epochs),
        desc=config.name,
        unit="epoch",
        disable=config.verbose <= 0,
    )
    for epoch in epochs:
        loss = train_epoch(
            module, rows, config, optimizer, generator, noise_generator, epoch
        )
        result.loss_curve.append(loss)
        if validation_rows is None:
            score = -loss
            epochs.set_postfix(loss=f"{loss:.4g}")
        else:
            score = _mean_elbo(
                module, validation_rows, config.batch_size, noise_generator
            )
            result.validation_scores.append(score)
            epochs.set_postfix(loss=f"{loss:.4g}", validation_elbo=f"{score:.4g}")
        if config.warming_up(epoch):
            continue
        if plateau.update(score) and validation_rows is not None:
            best_state = copy.deepcopy(module.state_dict())
        if plateau.stalled:
            result.converged = True
            break
    if best_state is not None:
        module.load_state_dict(best_state)
    result.optimizer_state = optimizer_state(optimizer)
    return result


def train_epoch(
    module: VAE,
    rows: Rows,
    config: TrainingConfig,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    noise_generator: torch.Generator,
    epoch: int,
) -> float:
    """One pass over ``rows`` in a random order; the mean weighted loss per row.

    ``epoch`` counts the epochs before this one, including those of earlier
    fits that this one continues: it places the pass in the KL warm-up.

    Raises
    ------
    TrainingDivergedError
        If the loss is not a finite number.
    """
    loss = _run_epoch(
        module, rows, config, optimizer, generator, noise_generator, epoch
    )
    if not math.isfinite(loss):
        raise TrainingDivergedError(
            f"Training diverged: the loss became {loss} in epoch {epoch + 1}. "
            f"Try a smaller learning_rate (now {config.learning_rate:g}), a "
            "smaller beta, or check X for extreme values."
        )
    module.eval()
    return loss


def _run_epoch(
    module, rows, config, optimizer, generator, noise_generator, epoch
) -> float:
    """The minibatch steps of ``train_epoch``; the loss, not yet checked."""
    module.train()
    order = torch.randperm(len(rows), generator=generator)
    batches = order.split(config.batch_size)
    # Equal weights become exactly 1, which the loop then skips.
    weights = rows.relative_weights()
    uniform = bool((weights == 1.0).all())
    trimming = config.trims(epoch)
    # Which rows a trimmed step may choose (weight > 0), kept on the host so
    # that counting them in a batch does not wait for the device.
    supported = (weights > 0).cpu() if trimming and not uniform else None
    total = torch.zeros((), device=rows.device)
    n_trained = 0
    for step, index in enumerate(batches):
        x = rows.take(index)
        batch_weights = None if uniform else weights[index.to(rows.device)]
        noise = _latent_noise(x, module, noise_generator)
        encoder_x = _drop_inputs(x, config.input_dropout, noise_generator)
        beta = kl_weight(
            epoch + step / len(batches),
            config.beta,
            config.kl_warmup_epochs,
            config.kl_warmup_start,
        )
        elbo = module.elbo_terms(x, noise, encoder_x).elbo(beta)
        elbo, size = _trained_terms(
            elbo,
            batch_weights,
            config.support_fraction if trimming else 1.0,
            None if supported is None else int(supported[index].sum()),
        )
        summed_loss = -elbo.sum()
        optimizer.zero_grad(set_to_none=True)
        (summed_loss / size).backward()
        optimizer.step()
        total += summed_loss.detach()
        n_trained += size
    # Like the checks on the weights above, once per epoch: no step waits.
    return total.item() / float(n_trained)


def _trained_terms(elbo, weights, support_fraction: float, n_supported=None):
    """The weighted ELBOs a step trains on, and the size of the mean they form.

    With ``support_fraction=1``, every row's, and the size is the number of
    rows: the weights average 1 over all the rows, so each step's mean is an
    unbiased estimate of the weighted mean. Trimmed, those of the rows that
    ``most_likely_rows`` picks, and the size is their total weight: the
    weighted mean over the rows trained on. ``n_supported`` is passed on to
    ``most_likely_rows``.
    """
    if support_fraction == 1.0:
        return (elbo if weights is None else elbo * weights), len(elbo)
    trained = most_likely_rows(elbo, weights, support_fraction, n_supported)
    if weights is None:
        return elbo[trained], len(trained)
    weights = weights[trained]
    # A batch of rows of weight 0 only trains on none: a zero loss, as untrimmed.
    return elbo[trained] * weights, weights.sum().clamp(min=1e-12)


def most_likely_rows(
    elbo: torch.Tensor,
    weights: torch.Tensor | None,
    support_fraction: float,
    n_supported: int | None = None,
) -> torch.Tensor:
    """Indices of the ``ceil(support_fraction * n)`` rows of highest ``elbo``.

    The rows a trimmed step trains on, as in the maximum trimmed likelihood
    estimator (Hadi & Luceno, 1997): the rest of the batch, the rows the
    model finds least likely, do not pull the model towards themselves. With
    ``weights``, ``n`` counts the rows of weight > 0, and rows of weight 0
    are never chosen. A caller that knows that count passes it as
    ``n_supported``; otherwise it is counted here, which waits for the device.
    """
    ranked = elbo.detach()
    if weights is not None:
        supported = weights > 0
        ranked = ranked.masked_fill(~supported, -math.inf)
        if n_supported is None:
            n_supported = int(supported.sum())  # a host synchronisation
    elif n_supported is None:
        n_supported = len(ranked)
    return ranked.topk(math.ceil(support_fraction * n_supported)).indices


def _drop_inputs(x, rate: float, generator) -> torch.Tensor | None:
    """``x`` with each value zeroed with probability ``rate``, the rest scaled up.

    Inverted dropout on the encoder's input, the denoising of Mult-VAE; the
    masks come from ``generator``. ``None`` when ``rate`` is 0. Zeros stay
    zero whatever the mask, so masks are drawn for the nonzero values only, in
    row-major order: a dense batch and the same batch stored sparse lose the
    same values.
    """
    if rate == 0.0:
        return None

    def drop(values):
        keep = torch.rand(values.shape, generator=generator, device=values.device)
        return values * (keep >= rate) / (1.0 - rate)

    if x.is_sparse:
        return map_values(x, drop)
    nonzero = x != 0
    dropped = torch.zeros_like(x)
    dropped[nonzero] = drop(x[nonzero])
    return dropped


def _mean_elbo(module, rows, batch_size, noise_generator) -> float:
    """Weighted mean ELBO (beta = 1) of ``rows``, one reparameterised draw per row."""
    module.eval()
    total = torch.zeros((), device=rows.device)
    with torch.inference_mode():
        for x, w in zip(
            rows.batches(batch_size), rows.weights.split(batch_size), strict=True
        ):
            noise = _latent_noise(x, module, noise_generator)
            total += (w * module.elbo_terms(x, noise).elbo()).sum()
    return total.item() / rows.weights.sum().item()


def _latent_noise(x, module, generator) -> torch.Tensor:
    """Standard Normal draws, one latent vector per row of ``x``."""
    shape = (x.shape[0], module.latent_dim)
    return torch.randn(shape, generator=generator, device=x.device)
