"""The source documents' experiments, by name, each set against the claims it tests.

``run(name, out)`` runs one experiment into the directory ``out``; the command
line's ``python -m mmdvae reproduce NAME --out DIR`` and the notebooks call the
same function. Each experiment writes ``results.json`` (every measured number
and the verdict on each claim), its figures (``figures/*.png``) and
``report.md``, a table of each claim of the paper beside what the run measured
and whether the claim held (a boolean computed from the numbers by a stated
rule). ``scale="source"`` (the default) trains as the source trained, or to a
convergence rule the experiment states where the source gives no schedule;
``scale="short"`` runs it in minutes; ``scale="quick"`` (or ``quick=True``) in
seconds, too small to decide most claims, which the report then says. A claim
whose numbers vary from seed to seed is decided over several seeds, and only
when its margin is outside their spread. An interrupted run continues with
``resume=True``, skipping the phases (models) it finished; a finished run is
never overwritten. See ``mmdvae.experiments.runner``.

Experiments (``--list`` prints each one's claim and expected time):

- ``tutorial``: the InfoVAE tutorial's MMD-VAE on MNIST;
- ``blog``: the Keras blog post's ELBO-VAE against MMD-VAE with 2-D codes;
- ``proposition1``: InfoVAE paper, section 3.1, two data points;
- ``mnist500``: InfoVAE paper, section 5.1, 500 MNIST training images;
- ``pixelcnn``: InfoVAE paper, section 5.2, a PixelCNN decoder;
- ``vimae``: VIMAE paper, section V-B, latent classification under noise;
- ``mutual``: the Mutual Autoencoder poster's two toys.

Example:

```python
from mmdvae import experiments

outcome = experiments.run("proposition1", "runs/proposition1", quick=True)
outcome.held            # {claim: True or False}
print(outcome.report)   # the text of report.md
```
"""

from __future__ import annotations

from mmdvae import checks
from mmdvae.experiments import (
    blog,
    mnist500,
    mutual,
    pixelcnn,
    proposition1,
    runner,
    tutorial,
    vimae,
)
from mmdvae.experiments.claims import Claim, Verdict
from mmdvae.experiments.report import Summary, Table
from mmdvae.experiments.runner import Experiment, ExperimentError, Outcome, Run, execute

#: The experiments by name, in the order of ``--list``.
EXPERIMENTS = {
    experiment.name: experiment
    for experiment in (
        tutorial.EXPERIMENT,
        blog.EXPERIMENT,
        proposition1.EXPERIMENT,
        mnist500.EXPERIMENT,
        pixelcnn.EXPERIMENT,
        vimae.EXPERIMENT,
        mutual.EXPERIMENT,
    )
}

__all__ = [
    "EXPERIMENTS", "Claim", "Experiment", "ExperimentError", "Outcome", "Run", "Summary",
    "Table", "Verdict", "get", "listing", "run", "sizes",
]


def get(name: str) -> Experiment:
    """The experiment named ``name``."""
    checks.check_choice("name", name, tuple(EXPERIMENTS))
    return EXPERIMENTS[name]


def sizes(name: str, quick: bool = False, scale: str | None = None) -> dict:
    """A copy of the sizes of the experiment at ``scale`` (default: source, or quick)."""
    return get(name).sizes_for(runner.resolve_scale(scale, quick))


def run(name: str, out, quick: bool = False, seed: int = 0, *, scale: str | None = None,
        resume: bool = False, overwrite: bool = False, sizes: dict | None = None,
        data_dir=None, cache_dir=None, verbose: int | None = None, phases=None) -> Outcome:
    """Runs the experiment ``name`` into the directory ``out``.

    Args:
        name: a name in ``EXPERIMENTS``.
        out: the output directory; it must be empty or missing unless
            ``resume`` or ``overwrite``. A directory holding a finished run
            (its ``results.json``) is never written again: with ``resume``
            its outcome is read back, otherwise it is refused.
        quick: run at the quick sizes (seconds; most claims undecided); the
            same as ``scale="quick"``.
        seed: the run's seed; each phase derives its own from it. Claims
            decided over seeds use ``seed``, ``seed + 1``, ...
        scale: ``"source"`` (the default: the source's training), ``"short"``
            (minutes) or ``"quick"`` (seconds).
        resume: continue the interrupted run in ``out`` (phases it finished
            are read back, not computed again; its settings must be the same),
            or start it when ``out`` is empty or missing.
        overwrite: start afresh in a non-empty ``out``: the phase results of
            an earlier run there are deleted and computed again.
        sizes: a dict changing some of the mode's sizes (see ``sizes(name)``).
        data_dir: directory of the MNIST / Fashion-MNIST IDX files (default:
            ``$MMDVAE_DATA_DIR``, else tensorflow-datasets).
        cache_dir: where the image classifier of the sample measures is cached
            (default: ``mmdvae.evaluation.DEFAULT_CACHE_DIR``).
        verbose: Keras's progress display (0, 1 or 2); default 1 on a terminal,
            else 2.
        phases: glob patterns (a string or a list) of the phases to compute;
            the other unfinished phases are left for other runs into ``out``
            (with ``resume``), and the report is written by the run that
            finds every phase finished. ``None``: every phase.

    Returns:
        An ``Outcome``: the numbers, the verdicts, the report's text and the
        figures.

    Raises:
        ExperimentError: (a ValueError) for an output directory that cannot be
            used, a resumed run with other settings, or missing data; raised
            before any training.
    """
    return execute(get(name), out, quick=quick, seed=seed, resume=resume, overwrite=overwrite,
                   sizes=sizes, data_dir=data_dir, cache_dir=cache_dir, verbose=verbose,
                   scale=scale, phases=phases)


def listing() -> str:
    """One line per experiment: its name, expected times on 2 CPU cores and claim."""
    width = max(len(name) for name in EXPERIMENTS)
    return "\n".join(
        f"{name:<{width}}  source ~{experiment.minutes['source']:g} min, short ~"
        f"{experiment.minutes['short']:g} min, quick ~{experiment.quick_seconds:g} s  "
        f"{experiment.claim}"
        for name, experiment in EXPERIMENTS.items())

