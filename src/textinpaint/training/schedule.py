"""The learning-rate decay both training loops share."""

from __future__ import annotations

from ..errors import UserError


def check_decay_start(decay_start: float) -> None:
    """Raise :class:`UserError` unless ``train.lr_decay_start`` is in [0, 1]."""
    if not 0.0 <= decay_start <= 1.0:
        raise UserError(f"train.lr_decay_start must be in [0, 1], got {decay_start}")


def linear_decay(step: float, max_steps: float, decay_start: float) -> float:
    """pix2pix's schedule as a factor of the learning rate: 1 until ``decay_start`` ×
    ``max_steps``, then a straight line to 0 at ``max_steps``. A pure function of the step
    (or of any other clock, such as seconds of training), so a resumed run needs no
    scheduler state.

    Raises:
        UserError: ``decay_start`` (``train.lr_decay_start``) outside [0, 1].
    """
    check_decay_start(decay_start)
    start = decay_start * max_steps
    if step < start:
        return 1.0
    return max(0.0, (max_steps - step) / max(max_steps - start, 1.0))


def check_decay_clock(clock: str, max_minutes: float) -> None:
    """Raise :class:`UserError` unless ``train.lr_decay_over`` names a clock that can run."""
    if clock not in ("steps", "minutes"):
        raise UserError(f"train.lr_decay_over must be 'steps' or 'minutes', got '{clock}'")
    if clock == "minutes" and max_minutes <= 0:
        raise UserError("train.lr_decay_over=minutes needs a time budget: set "
                        "train.max_minutes (the schedule ends there)")


def decay_clock(clock: str, step: int, max_steps: int, seconds: float, max_minutes: float
                ) -> tuple[float, float]:
    """Where the decay stands and where it ends on ``train.lr_decay_over``'s clock:
    ``(step, max_steps)`` for "steps", ``(seconds, 60 × max_minutes)`` for "minutes"."""
    return (seconds, 60 * max_minutes) if clock == "minutes" else (step, max_steps)
