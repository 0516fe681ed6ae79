"""The training record of an experiment's model: curves every few steps, and when to stop.

``Run.fit`` (``mmdvae.experiments.runner``) trains through ``TrainingCurves``,
the one Keras callback the experiments record with.
"""

from __future__ import annotations

import dataclasses
import math

import keras


@dataclasses.dataclass(frozen=True)
class ConvergenceRule:
    """Training has converged when ``metric`` improved by less than ``tolerance`` lately.

    At a record at step ``t >= min_steps``, the relative improvement of
    ``metric`` since the last record at or before step ``(1 - window) * t`` is
    ``(before - now) / |before|``; below ``tolerance`` training stops. With the
    defaults: a held-out loss that improved by less than 0.5 % over the last
    10 % of the steps.

    Attributes:
        metric: a key of the records (a logged quantity or one ``measure``
            returns), lower is better.
        tolerance: the relative improvement below which training has converged.
        window: the fraction of the steps so far that the improvement spans.
        min_steps: no decision before this many steps.
    """

    metric: str
    tolerance: float = 0.005
    window: float = 0.1
    min_steps: int = 1

    def converged(self, steps: list, values: list) -> bool:
        """Whether the records ``values`` at ``steps`` (ascending) meet the rule."""
        now_step, now = steps[-1], values[-1]
        if now_step < self.min_steps or now is None or not math.isfinite(now):
            return False
        earlier = [value for step, value in zip(steps[:-1], values[:-1], strict=True)
                   if step <= (1.0 - self.window) * now_step and value is not None]
        if not earlier or not math.isfinite(earlier[-1]) or earlier[-1] == 0:
            return False
        return (earlier[-1] - now) / abs(earlier[-1]) < self.tolerance

    def describe(self) -> str:
        return (f"{self.metric} improved by less than {self.tolerance:.1%} over the last "
                f"{self.window:.0%} of the steps (checked from step {self.min_steps})")


class TrainingCurves(keras.callbacks.Callback):
    """Records the logged quantities at the end of every Keras epoch, and ``measure``.

    ``Run.fit`` makes each epoch ``record_every`` steps long, so each record is
    the mean of the logged quantities over those steps; ``measure(model)``
    adds held-out measures (also before training, at step 0). With a
    ``ConvergenceRule`` training stops once it holds.
    """

    def __init__(self, measure=None, convergence: ConvergenceRule | None = None):
        super().__init__()
        self.measure = measure
        self.convergence = convergence
        self.curves = {"step": []}
        self.steps = 0
        self.converged = False
        self._steps_this_epoch = 0

    def _record(self, logs: dict) -> None:
        values = {key: float(value) for key, value in (logs or {}).items()}
        if self.measure is not None:
            values.update({key: float(value) for key, value in self.measure(self.model).items()})
        count = len(self.curves["step"])
        for key in set(values) - set(self.curves):
            self.curves[key] = [None] * count
        self.curves["step"].append(self.steps)
        for key in self.curves:
            if key != "step":
                self.curves[key].append(values.get(key))

    def on_train_begin(self, logs=None):
        if self.measure is not None and not self.curves["step"]:
            self._record({})

    def on_epoch_begin(self, epoch, logs=None):
        self._steps_this_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps_this_epoch += 1

    def on_epoch_end(self, epoch, logs=None):
        self.steps += self._steps_this_epoch
        self._record(logs)
        rule = self.convergence
        if rule is not None and rule.metric in self.curves and rule.converged(
                self.curves["step"], self.curves[rule.metric]):
            self.converged = True
            self.model.stop_training = True
