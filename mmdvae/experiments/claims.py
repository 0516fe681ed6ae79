"""Claims of the source documents and the verdicts runs give them.

A ``Claim`` states the paper's words, where it makes them, and the rule that
decides them from measured numbers, fixed before the run. ``Claim.decide``
turns one margin per seed into a ``Verdict``: held or not held only when every
seed agrees and the mean margin is more than ``SPREAD_FACTOR`` standard errors
from 0, over at least ``MIN_SEEDS`` seeds; otherwise not decided.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim of a paper and the rule that decides it from measured numbers.

    Attributes:
        text: the claim, in the paper's words where they survive.
        source: where the paper makes it (section, figure, table).
        rule: how the measured numbers decide it, stated for the report.
        quick_decides: whether the quick sizes are large enough to decide it.
    """

    text: str
    source: str
    rule: str
    quick_decides: bool = False

    def judge(self, held: bool, measured: str, quick: bool) -> Verdict:
        """The verdict of one run: ``held`` computed by the rule from ``measured``.

        For a claim decided by an exact computation or by one run; a claim whose
        numbers vary from seed to seed is decided by ``decide``.
        """
        return Verdict(self, measured, bool(held), decided=self.quick_decides or not quick,
                       seeds=1, reason="" if self.quick_decides or not quick else
                       "the quick size cannot decide it")

    def decide(self, margins, measured: str, quick: bool) -> Verdict:
        """The verdict over seeds from each seed's ``margin`` (``> 0``: the rule held).

        Held (or not held) when every seed agrees and the mean margin is more than
        ``SPREAD_FACTOR`` standard errors of the mean from 0; otherwise not
        decided: the margin is inside the seed-to-seed spread. Fewer than
        ``MIN_SEEDS`` seeds decide nothing.
        """
        margins = [float(margin) for margin in margins]
        mean = float(np.mean(margins))
        error = standard_error(margins)
        held = mean > 0
        summary = (f"margin {mean:+.4g} (s.e. {error:.2g}; seeds: "
                   + ", ".join(f"{margin:+.4g}" for margin in margins) + ")")
        if quick and not self.quick_decides:
            reason = "the quick size cannot decide it"
        elif len(margins) < MIN_SEEDS:
            reason = f"{len(margins)} seed(s); at least {MIN_SEEDS} decide"
        elif len({margin > 0 for margin in margins}) > 1 or abs(mean) <= SPREAD_FACTOR * error:
            reason = "the margin is inside the seed-to-seed spread"
        else:
            reason = ""
        return Verdict(self, f"{measured}; {summary}", held, decided=not reason,
                       seeds=len(margins), reason=reason, margins=tuple(margins))


#: Seeds a claim decided over seeds needs.
MIN_SEEDS = 3
#: A mean margin within this many standard errors of 0 decides nothing.
SPREAD_FACTOR = 2.0


def standard_error(values) -> float:
    """The standard error of the mean of ``values`` (0 for fewer than two)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < 2:
        return 0.0
    return float(np.std(values, ddof=1) / np.sqrt(values.size))


def mean_and_error(values) -> tuple[float, float]:
    """``(mean, standard error of the mean)`` of ``values``."""
    return float(np.mean(values)), standard_error(values)


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether a claim held; ``decided`` is False when the run cannot decide it (``reason``)."""

    claim: Claim
    measured: str
    held: bool
    decided: bool = True
    seeds: int = 1
    reason: str = ""
    margins: tuple = ()

    @property
    def state(self) -> str:
        """``"held"``, ``"not held"`` or ``"not decided"``."""
        if not self.decided:
            return "not decided"
        return "held" if self.held else "not held"

    @property
    def reading(self) -> str:
        if self.decided:
            return self.state
        return f"not decided: {self.reason} (rule: {'held' if self.held else 'not held'})"

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self.claim), "measured": self.measured,
                "held": self.held, "decided": self.decided, "state": self.state,
                "seeds": self.seeds, "reason": self.reason, "margins": list(self.margins)}
