"""The training loop: minibatch Adam on the negative ELBO, and when to stop."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from ._data import Rows
from ._likelihoods import map_values
from ._module import VAE
from ._ranking import RankingValidation
from ._sparse_log_prob import reusing_step_memory
from ._threads import ThreadPolicy


@dataclass
class TrainingConfig:
    """How to train: the estimator's parameters, resolved for one call."""

    batch_size: int
    max_epochs: int
    learning_rate: float
    beta: float
    tol: float
    n_iter_no_change: int
    n_learning_rate_drops: int = 0
    """How many times the stopping rule divides the learning rate by
    ``LEARNING_RATE_DROP`` and lets training go on, before it ends training."""
    stops: bool = True
    """Whether the stopping rule applies (``fit``) or every epoch runs
    (``partial_fit``)."""
    kl_warmup_epochs: int = 0
    kl_warmup_start: float = 0.0
    input_dropout: float = 0.0
    n_training_draws: int = 1
    """Posterior draws per row in each step: 1 trains on the ELBO, more on
    the importance-weighted bound."""
    support_fraction: float = 1.0
    support_warmup_epochs: int = 0
    rows_seen: int | None = None
    """The rows the likelihood's priors are weighed against: each step adds
    the gradient of their log-density divided by this to that of the batch's
    mean ELBO. None leaves the priors out."""
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
    """Mean training loss of each epoch, in nats per row: the negative
    beta-ELBO, or the importance-weighted bound with ``n_training_draws >
    1``, over the rows trained on (the kept ones, when trimming)."""
    validation_scores: list[float] = field(default_factory=list)
    """The held-out score after each epoch (early stopping only)."""
    kept_validation_score: float | None = None
    """The held-out score of the weights training ended with: the best judged
    epoch's, whose weights were restored, or else the last epoch's."""
    converged: bool = False
    """Whether the stopping rule ended training."""
    still_improving: bool = False
    """Whether the score was still improving when ``max_epochs`` ended training."""
    ended_in_warmup: bool = False
    """Whether ``max_epochs`` ended training within a warm-up, before any score
    was judged."""
    interrupted: bool = False
    """Whether a ``KeyboardInterrupt`` ended training."""
    optimizer_state: dict | None = None
    """The optimizer's state at the end, on the CPU (see ``optimizer_state``)."""


# What each of ``n_learning_rate_drops`` divides the learning rate by, as
# scikit-learn's MLP does with ``learning_rate='adaptive'``.
LEARNING_RATE_DROP = 5.0


def _mean(scores: list[float]) -> float:
    return sum(scores) / len(scores)


class Stopping:
    """Whether a score has stopped improving: its recent gain is small next to the rest.

    Scores come once per epoch (higher is better) and are compared as means
    over windows of ``window`` epochs, which averages out the noise of
    minibatches and draws. The score has stopped improving once the mean of
    the last window beats the mean of the window before it by no more than
    ``tol`` times its gain over the second window. The first window is left
    out of that reference: in it the network moves away from its start far
    faster than it will again. Both gains are in the score's own units, so the
    rule reads the same whatever the units of ``X`` (which shift a density's
    logarithm), its scale or its number of features: ``tol=0.05`` stops once
    the last window gained less than 5% of what training has gained since the
    second window.
    """

    def __init__(self, tol: float, window: int):
        self.tol = tol
        self.window = window
        self.scores: list[float] = []
        self.held_from = self.held_until = 0

    def hold(self) -> None:
        """Judge nothing until a whole window of new scores has come.

        After the learning rate drops, the next judgement then compares a
        window trained wholly at the new rate with the window before.
        """
        self.held_from = len(self.scores)
        self.held_until = self.held_from + self.window

    def update(self, score: float) -> None:
        """Record an epoch's score."""
        self.scores.append(score)

    def _gains(self, w: int) -> tuple[float, float] | None:
        """The last window's gain on the one before, and on the second window.

        ``w`` is the number of scores in a window. None while too few scores
        have come, or while the rule waits after ``hold``.
        """
        if w < 1 or len(self.scores) < max(3 * w, self.held_until):
            return None
        recent = _mean(self.scores[-w:])
        previous = _mean(self.scores[-2 * w : -w])
        second = _mean(self.scores[w : 2 * w])
        return recent - previous, recent - second

    @property
    def stalled(self) -> bool:
        """Whether the last window gained less than ``tol`` of the reference gain."""
        return self._stalled(self.window)

    def _stalled(self, window: int) -> bool:
        """``stalled``, judged on windows of ``window`` scores."""
        gains = self._gains(window)
        if gains is None:
            return False
        recent_gain, total_gain = gains
        if self.tol == 0:
            return recent_gain < 0.0  # only a fall stops
        # <=: a score that stays exactly level has stopped improving too
        return recent_gain <= self.tol * max(total_gain, 0.0)

    @property
    def improving(self) -> bool:
        """Whether the score was still improving by the rule's standard.

        Scores of fewer than three windows are judged on windows of a third of
        them: a short fit whose score has levelled off (a continued fit of a
        converged model, say) is not improving. Fewer than three scores cannot
        show it stopped. In the wait after ``hold``, the score is improving if
        the scores since then beat, on average, the window that stalled.
        """
        if len(self.scores) < self.held_until:
            since = self.scores[self.held_from :]
            stalled = self.scores[self.held_from - self.window : self.held_from]
            return bool(since) and _mean(since) > _mean(stalled)
        return not self._stalled(min(self.window, len(self.scores) // 3))


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


def adam(parameters, learning_rate: float) -> torch.optim.Adam:
    """Adam over ``parameters``, fused where torch has a fused Adam for their device."""
    parameters = list(parameters)
    fused = parameters[0].device.type in ("cpu", "cuda")
    return torch.optim.Adam(parameters, lr=learning_rate, fused=fused)


def make_optimizer(
    module: VAE, learning_rate: float, state: dict | None = None
) -> torch.optim.Optimizer:
    """Adam over ``module``'s parameters, continuing ``state`` if given.

    ``state``, a ``state_dict`` of an earlier Adam over the same parameters
    (on any device), continues its moment estimates and step counts; the
    learning rate is ``learning_rate`` whatever ``state`` holds. ``state`` is
    copied, never changed.
    """
    optimizer = adam(module.parameters(), learning_rate)
    if state is not None:
        # load_state_dict keeps tensors already on the right device, so without
        # the copy the steps would update the caller's state in place.
        optimizer.load_state_dict(_copied_optimizer_state(state))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
    return optimizer


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict:
    """A copy of ``optimizer``'s ``state_dict`` with every tensor on the CPU.

    What a fitted estimator keeps between calls: it pickles, and loads on a
    machine without the training device.
    """
    return _copied_optimizer_state(optimizer.state_dict(), "cpu")


def _copied_optimizer_state(state: dict, device=None) -> dict:
    """A copy of an optimizer's ``state_dict``, its tensors on ``device`` if given.

    Each tensor is cloned, which costs a tenth of ``copy.deepcopy``'s time
    per tensor.
    """
    return {
        "state": {
            index: {
                name: value.detach().to(device or value.device, copy=True)
                if torch.is_tensor(value)
                else value
                for name, value in moments.items()
            }
            for index, moments in state["state"].items()
        },
        "param_groups": copy.deepcopy(state["param_groups"]),
    }


class TrainingDivergedError(FloatingPointError):
    """Training stopped giving finite numbers.

    The loss, the weights, the held-out rows' score after an epoch's last
    step, or (without held-out rows) the training rows' ELBO after the last
    step of training became infinite or NaN. Raised by ``fit`` and
    ``partial_fit``, which then leave the estimator as it was before the
    call. A smaller ``learning_rate`` or ``beta``, or a look at ``X`` for
    extreme values, usually helps.
    """


class Validation:
    """Held-out rows, scored by their mean ELBO with the same draws every time.

    Fixed draws make the score a function of the network alone, so early
    stopping follows the model's improvement, not the noise of the draws.
    """

    def __init__(self, rows: Rows, batch_size: int, seed: int):
        self.rows = rows
        self.batch_size = batch_size
        self.seed = seed

    def score(self, module: VAE) -> float:
        """Weighted mean ELBO (beta = 1) of the rows, one fixed draw per row."""
        module.eval()
        generator = torch.Generator(self.rows.device).manual_seed(self.seed)
        total = torch.zeros((), device=self.rows.device)
        with torch.inference_mode():
            for x, w in self.rows.weighted_batches(self.batch_size):
                noise = _latent_noise(x, module, generator)
                terms = module.elbo_terms(x, noise, maybe_missing=self.rows.has_missing)
                total += (w * terms.elbo()).sum()
        return total.item() / self.rows.weights.sum().item()


@dataclass
class TrainingRun:
    """A network in training, with what its steps change and draw from.

    ``generator`` (on the CPU) orders the batches; ``noise_generator`` (on the
    module's device) draws the reparameterisation noise and the input dropout
    masks. ``threads`` sets torch's thread count as training goes; the
    caller restores it.
    """

    module: VAE
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    noise_generator: torch.Generator
    threads: ThreadPolicy | None = None


def train(
    run: TrainingRun,
    rows: Rows,
    config: TrainingConfig,
    validation: Validation | RankingValidation | None = None,
    first_epoch: int = 0,
) -> TrainingResult:
    """Train ``run.module`` in place on ``rows`` for up to ``config.max_epochs`` epochs.

    ``first_epoch`` counts the epochs of earlier calls that this one
    continues: it places the epochs in the KL warm-up.

    With ``config.stops``, training stops when ``Stopping`` says the score has
    stopped improving: the held-out score of ``validation``, whose best epoch's
    weights are then restored, or else the negative training loss. Epochs of
    a warm-up do not count. Each of ``config.n_learning_rate_drops`` turns
    the first such stops into a drop of the learning rate, after which the
    rule waits a whole window before it judges again. A
    ``KeyboardInterrupt`` ends training (``result.interrupted``): the
    records hold the epochs completed so far, the network the steps taken,
    those of an epoch in progress included. One that comes before the first
    epoch is complete propagates.
    """
    module, optimizer = run.module, run.optimizer
    stopping = Stopping(config.tol, config.n_iter_no_change)
    drops_left = config.n_learning_rate_drops
    best_score = -math.inf
    best_state = None
    result = TrainingResult()
    epochs = tqdm(
        range(first_epoch, first_epoch + config.max_epochs),
        # given, not read from len(range), which overflows past 2**63 epochs
        total=config.max_epochs,
        desc=config.name,
        unit="epoch",
        disable=config.verbose <= 0,
    )
    try:
        for epoch in epochs:
            loss = train_epoch(run, rows, config, epoch)
            score = -loss
            postfix = {"loss": f"{loss:.4g}"}
            if validation is not None:
                score = validation.score(module)
                postfix["validation"] = f"{score:.4g}"
                # the network's outputs, after the last step: NaN, or -inf
                # where they overflow
                if not math.isfinite(score):
                    raise divergence(
                        f"the held-out rows' score became {score} in epoch {epoch + 1}",
                        _step_now(optimizer, config),
                    )
            # recorded together, so that an interrupt while scoring leaves
            # neither record an epoch ahead of the other
            result.loss_curve.append(loss)
            if validation is not None:
                result.validation_scores.append(score)
            epochs.set_postfix(postfix)
            if not config.stops or config.warming_up(epoch):
                continue
            stopping.update(score)
            if validation is not None and score >= best_score:
                best_score = score
                best_state = _copied_state(module)
                result.kept_validation_score = score
            if stopping.stalled:
                if drops_left > 0:
                    drops_left -= 1
                    _drop_learning_rate(optimizer)
                    stopping.hold()
                    continue
                result.converged = True
                break
        if validation is None and result.loss_curve:
            _check_last_step(run, rows, config, epoch)
    except KeyboardInterrupt:
        if not result.loss_curve:
            raise
        result.interrupted = True
    finally:
        epochs.close()
        module.eval()
    ended_early = config.stops and not result.converged and not result.interrupted
    judged = bool(stopping.scores)
    result.still_improving = ended_early and judged and stopping.improving
    result.ended_in_warmup = ended_early and not judged and bool(result.loss_curve)
    if best_state is not None:
        module.load_state_dict(best_state)
    elif result.validation_scores:  # no epoch judged: the last one's weights stay
        result.kept_validation_score = result.validation_scores[-1]
    result.optimizer_state = optimizer_state(optimizer)
    return result


def _check_last_step(
    run: TrainingRun, rows: Rows, config: TrainingConfig, epoch: int
) -> None:
    """Raise ``TrainingDivergedError`` if the last step broke the network.

    Each epoch's loss is computed before its steps, so the last step of the
    last epoch is checked here: the ELBO of a batch of the training rows,
    after it, must be finite. Its weights may all be finite and the network
    still overflow on every row. With held-out rows, their score after each
    epoch checks it.
    """
    first_batch = rows.split(torch.arange(min(len(rows), config.batch_size)))
    score = Validation(first_batch, config.batch_size, seed=0).score(run.module)
    if not math.isfinite(score):
        raise divergence(
            f"the training rows' ELBO became {score} after the last step of "
            f"epoch {epoch + 1}",
            _step_now(run.optimizer, config),
        )


def _copied_state(module: VAE) -> dict[str, torch.Tensor]:
    """A copy of ``module``'s weights and buffers, to restore the best epoch's."""
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


def _drop_learning_rate(optimizer: torch.optim.Optimizer) -> None:
    for group in optimizer.param_groups:
        group["lr"] /= LEARNING_RATE_DROP


def train_epoch(
    run: TrainingRun, rows: Rows, config: TrainingConfig, epoch: int
) -> float:
    """One pass over ``rows`` in a random order; the mean weighted loss per row.

    ``epoch`` counts the epochs before this one, including those of earlier
    calls that this one continues: it places the pass in the KL warm-up.

    Raises
    ------
    TrainingDivergedError
        If the loss is not a finite number, or the weights are not after the
        epoch's last step (whose loss was computed before it).
    """
    with reusing_step_memory():
        loss = _run_epoch(run, rows, config, epoch)
    if not math.isfinite(loss):
        became = f"the loss became {loss}"
    elif not torch.stack([p.isfinite().all() for p in run.module.parameters()]).all():
        became = "the weights became infinite or NaN"
    else:
        return loss
    raise divergence(f"{became} in epoch {epoch + 1}", _step_now(run.optimizer, config))


def divergence(became: str, step_now: str = "") -> TrainingDivergedError:
    """The error of a fit in which ``became`` (what stopped being finite).

    ``step_now`` says what the learning rate was, where training knows it.
    """
    return TrainingDivergedError(
        f"Training diverged: {became}. Try a smaller learning_rate{step_now}, "
        "a smaller beta, or check X for extreme values."
    )


def _step_now(optimizer: torch.optim.Optimizer, config: TrainingConfig) -> str:
    """`` (now ...)``: the learning rate, and what the drops had made of it."""
    step = optimizer.param_groups[0]["lr"]
    drops = (
        ""
        if step == config.learning_rate
        else f"; the stopping rule's drops had made the step {step:g}"
    )
    return f" (now {config.learning_rate:g}{drops})"


def _run_epoch(
    run: TrainingRun, rows: Rows, config: TrainingConfig, epoch: int
) -> float:
    """The minibatch steps of ``train_epoch``; the loss, not yet checked."""
    module, optimizer, noise_generator = run.module, run.optimizer, run.noise_generator
    module.train()
    order = torch.randperm(len(rows), generator=run.generator)
    batches = order.split(config.batch_size)
    # Equal weights become exactly 1, which the loop then skips.
    weights = rows.relative_weights()
    uniform = bool((weights == 1.0).all())
    trimming = config.trims(epoch)
    total = torch.zeros((), device=rows.device)
    n_trained = 0
    for step, index in enumerate(batches):
        if run.threads is not None:
            run.threads.adjust()
        x = rows.take(index)
        batch_weights = None if uniform else weights[index.to(rows.device)]
        noise = _latent_noise(x, module, noise_generator, config.n_training_draws)
        encoder_x = _drop_inputs(
            x, config.input_dropout, noise_generator, module.n_conditions
        )
        beta = kl_weight(
            epoch + step / len(batches),
            config.beta,
            config.kl_warmup_epochs,
            config.kl_warmup_start,
        )
        elbo = _training_bound(
            module, x, noise, encoder_x, beta, config.n_training_draws, rows.has_missing
        )
        elbo, size = _trained_terms(
            elbo, batch_weights, config.support_fraction if trimming else 1.0
        )
        summed_loss = -elbo.sum()
        optimizer.zero_grad(set_to_none=True)
        (summed_loss / size).backward()
        if config.rows_seen is not None:
            module.likelihood.add_prior_gradient(1.0 / config.rows_seen)
        optimizer.step()
        total += summed_loss.detach()
        n_trained += size
    # Like the checks on the weights above, once per epoch: no step waits.
    return total.item() / float(n_trained)


def _trained_terms(elbo, weights, support_fraction: float):
    """The weighted ELBOs a step trains on, and the size of the mean they form.

    The rows have positive weights (or none). With ``support_fraction=1``,
    every row's, and the size is the number of rows: the weights average 1
    over all the rows, so each step's mean is an unbiased estimate of the
    weighted mean. Trimmed, those of the rows that ``most_likely_rows``
    picks, and the size is their number; with weights, the rows of highest
    ELBO up to ``support_fraction`` of the batch's weight (the row that
    crosses it by the part of its weight within it), so a row of weight
    ``w`` trims as ``w`` copies of it would, and the size is
    ``support_fraction`` of the number of rows, as the untrimmed step's: a
    batch of little weight pulls little, and one of weight 0 adds 0.
    """
    if support_fraction == 1.0:
        return (elbo if weights is None else elbo * weights), len(elbo)
    if weights is None:
        trained = most_likely_rows(elbo, support_fraction)
        return elbo[trained], len(trained)
    order = elbo.detach().argsort(descending=True)
    weights = weights[order]
    before = weights.cumsum(0) - weights
    kept = (support_fraction * weights.sum() - before).clamp(min=0.0)
    kept = torch.minimum(kept, weights)
    return elbo[order] * kept, support_fraction * len(elbo)


def most_likely_rows(elbo: torch.Tensor, support_fraction: float) -> torch.Tensor:
    """Indices of the ``ceil(support_fraction * len(elbo))`` rows of highest ``elbo``.

    The rows a trimmed step trains on, as in the maximum trimmed likelihood
    estimator (Hadi & Luceno, 1997): the rest of the batch, the rows the
    model finds least likely, do not pull the model towards themselves.
    """
    n_trained = math.ceil(support_fraction * len(elbo))
    return elbo.detach().topk(n_trained).indices


def _drop_inputs(x, rate: float, generator, n_kept: int = 0) -> torch.Tensor | None:
    """``x`` with each value zeroed with probability ``rate``, the rest scaled up.

    Inverted dropout on the encoder's input, the denoising of Mult-VAE; the
    masks come from ``generator``. ``None`` when ``rate`` is 0. Zeros stay
    zero whatever the mask, so masks are drawn for the nonzero values only, in
    row-major order: a dense batch and the same batch stored sparse lose the
    same values. The last ``n_kept`` columns (a conditional model's
    conditions) are kept whole.
    """
    if rate == 0.0:
        return None
    if n_kept:
        modelled, kept = x[:, :-n_kept], x[:, -n_kept:]
        dropped_modelled = _drop_inputs(modelled, rate, generator)
        assert dropped_modelled is not None  # the rate is above 0
        return torch.cat([dropped_modelled, kept], 1)

    def drop(values):
        keep = torch.rand(values.shape, generator=generator, device=values.device)
        return values * (keep >= rate) / (1.0 - rate)

    def drop_nonzero(values):
        nonzero = values != 0
        dropped = torch.zeros_like(values)
        dropped[nonzero] = drop(values[nonzero])
        return dropped

    # a sparse batch's stored zeros draw no mask either
    return map_values(x, drop_nonzero) if x.is_sparse else drop_nonzero(x)


def _training_bound(
    module, x, noise, encoder_x, beta: float, n_draws: int, maybe_missing: bool = True
) -> torch.Tensor:
    """Each row's objective: the ELBO for one draw, else the importance-weighted one.

    ``maybe_missing`` as for ``VAE.elbo_terms``; the importance-weighted bound
    masks missing cells whatever it says.
    """
    if n_draws == 1:
        return module.elbo_terms(x, noise, encoder_x, maybe_missing).elbo(beta)
    return module.importance_weighted_bound(x, noise, encoder_x, beta)


def _latent_noise(x, module, generator, n_draws: int = 1) -> torch.Tensor:
    """Standard Normal draws: one latent vector per row of ``x``, or ``n_draws``.

    With one draw the shape is ``(n_rows, latent_dim)``; with more,
    ``(n_draws, n_rows, latent_dim)``.
    """
    shape: tuple[int, ...] = (x.shape[0], module.latent_dim)
    if n_draws > 1:
        shape = (n_draws, *shape)
    return torch.randn(shape, generator=generator, device=x.device)
