"""The shared runner of the experiments: one output directory, phases that resume, a report.

An experiment is a function of a ``Run``. It trains and measures in *phases*
(usually one model each) through ``run.phase(name, compute)`` and returns a
``Summary``: the measured numbers, a ``Verdict`` on each of the paper's
``Claim``s, tables and figures. The runner writes into the output directory:

- ``run.json``: the experiment, its sizes and seed, written first; a resumed
  run must repeat them;
- ``phases/NAME.json`` (and ``phases/NAME.npz`` for arrays): a phase's results,
  written when the phase finishes; with ``resume=True`` a finished phase is
  read back instead of computed again;
- ``figures/*.png``: the figures, drawn from the phases' results with
  ``mmdvae.plotting`` and written atomically (``mmdvae.files``);
- ``results.json``: every number and verdict, written last: it marks a
  finished run, which is never overwritten;
- ``report.md``: the paper's claims beside what the run measured.

With ``phases`` (glob patterns of phase names) a run computes only the
unfinished phases they match and writes no report: several processes can
share one output directory, each with its own phases, and the run that finds
every phase finished reads them all back and writes the report.

A claim's verdict is a boolean computed from the measured numbers by the rule
its ``Claim`` states. At the quick sizes most claims cannot be decided; their
verdicts are still computed, and the report says the size cannot decide them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmdvae import checks, files, outputs
from mmdvae.experiments.report import FIGURE_DIRECTORY, render_report, save_figure

RUN_FILE = outputs.RUN_FILE
#: The numbers of a training record that ``results.json`` lists per phase.
TRAINING_SUMMARY_KEYS = ("steps", "source_steps", "fraction_of_source_training",
                         "stopped_by", "seconds", "cpu_seconds")
RESULTS_FILE = "results.json"
REPORT_FILE = "report.md"
PHASE_DIRECTORY = "phases"


class ExperimentError(ValueError):
    """A mistake in an experiment's arguments, data or output directory.

    ``str(error)`` names the Python argument; ``command_line()`` gives the same
    message with the command line's flag, for one ``error:`` line.
    """

    def __init__(self, problem: str, argument: str | None = None, value=None):
        self.problem, self.argument, self.value = problem, argument, value
        if argument is None:
            super().__init__(problem)
        else:
            super().__init__(f"Argument `{argument}` ({argument}={value!r}) {problem}")

    def command_line(self) -> str:
        if self.argument is None:
            return self.problem
        return f"--{self.argument.replace('_', '-')} {self.value} {self.problem}"


# === Claims and what a run returns ===


#: The sizes an experiment runs at: its source's training, today's shortened runs
#: of minutes, and seconds for the tests.
SCALES = ("source", "short", "quick")


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named experiment of the registry.

    Attributes:
        name: its name on the command line.
        title: a title for its report.
        source: the document and section it reproduces.
        claim: the claim in one line (``--list``).
        sizes: ``{"source": {...}, "short": {...}, "quick": {...}}``: the sizes
            of each scale (``SCALES``). ``source`` trains as the source trained
            (or to the convergence rule the module states where the source gives
            no schedule); ``short`` is a run of minutes; ``quick`` of seconds.
        minutes: expected minutes on 2 CPU cores, ``{"source": ..., "short": ...}``.
        quick_seconds: expected seconds of the quick run on 2 CPU cores.
        datasets: the named datasets it reads (checked before any work).
        run: ``run(Run) -> Summary``.
    """

    name: str
    title: str
    source: str
    claim: str
    sizes: dict
    minutes: dict
    quick_seconds: float
    datasets: tuple
    run: Callable

    def sizes_for(self, scale: str) -> dict:
        """A copy of the sizes of ``scale`` (one of ``SCALES``)."""
        checks.check_choice("scale", scale, SCALES)
        return dict(self.sizes[scale])


@dataclasses.dataclass
class Outcome:
    """A finished run: its numbers, verdicts, report and figures.

    Attributes:
        name: the experiment's name.
        directory: the output directory.
        settings: what ``run.json`` holds (quick, seed, sizes).
        results: the measured numbers.
        verdicts: one ``Verdict`` per claim.
        report: the text of ``report.md``.
        figures: file stem -> matplotlib Figure (show with ``display(figure)``).
        seconds: the time of every phase and the summary, on this machine.
        phases_left: the unfinished phases a run with ``phases`` did not
            select; when there are any, the run wrote no report and
            ``results``, ``verdicts``, ``report`` and ``figures`` are empty.
    """

    name: str
    directory: Path
    settings: dict
    results: dict
    verdicts: list
    report: str
    figures: dict
    seconds: float
    phases_left: tuple = ()

    @property
    def held(self) -> dict:
        """Claim text -> whether it held."""
        return {verdict.claim.text: verdict.held for verdict in self.verdicts}


# === Sizes ===


def check_sizes(experiment: Experiment, sizes, scale: str) -> dict:
    """The experiment's sizes at ``scale`` with ``sizes`` (a dict) applied."""
    chosen = experiment.sizes_for(scale)
    if sizes is None:
        return chosen
    if not isinstance(sizes, dict):
        raise TypeError(
            f"Argument `sizes` must be a dict of sizes of the experiment "
            f"{experiment.name!r} (keys {sorted(chosen)}); received sizes of type "
            f"{type(sizes).__name__}.")
    unknown = sorted(set(sizes) - set(chosen))
    if unknown:
        raise ValueError(
            f"Argument `sizes` names sizes the experiment {experiment.name!r} does not "
            f"have: {unknown}; it has {sorted(chosen)}.")
    for key, value in sizes.items():
        chosen[key] = _checked_size(key, value, chosen[key])
    return chosen


def _checked_size(key, value, default):
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise TypeError(f"Size `{key}` must be True or False; received {key}={value!r}.")
        return value
    if isinstance(default, int):
        return checks.check_positive_int(key, value)
    if isinstance(default, float):
        return checks.check_number(key, value, minimum=0.0, strict_minimum=True)
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple) or not value:
            raise TypeError(
                f"Size `{key}` must be a non-empty tuple like {default!r}; received "
                f"{key}={value!r}.")
        return tuple(_checked_size(key, item, default[0]) for item in value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError(f"Size `{key}` must be a string; received {key}={value!r}.")
        return value
    return value


# === The output directory ===


def _json_value(value):
    return json.loads(json.dumps(value))


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ExperimentError(
            f"{path} is corrupt (not readable JSON: {error}); start again in another "
            f"directory or with --overwrite") from None


def _output_state(out: Path, settings: dict, resume: bool, overwrite: bool) -> str:
    """What ``out`` holds (``mmdvae.outputs``), checked without writing."""
    try:
        return outputs.check(out, settings, resume=resume, overwrite=overwrite,
                             finished_file=RESULTS_FILE, start_if_missing=True)
    except outputs.OutputError as error:
        raise ExperimentError(error.problem, "out" if error.directory else None,
                              None if error.directory is None else str(error.directory)
                              ) from None


# === A run ===


class PhaseNotRunError(ExperimentError):
    """The results of a phase that a run with ``phases`` left were read."""

    def __init__(self, phase: str):
        self.phase = phase
        super().__init__(f"phase {phase} was not run here: it is outside `phases` and "
                         f"not finished")


class PhaseNotRun:
    """In place of the results of a phase a run with ``phases`` left: any use raises."""

    def __init__(self, phase: str):
        self.phase = phase

    def _unavailable(self, *args, **kwargs):
        raise PhaseNotRunError(self.phase)

    __getitem__ = __iter__ = __len__ = __contains__ = _unavailable

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._unavailable()


class Run:
    """The context an experiment runs in: its sizes, seed, phases, data and output.

    Attributes:
        experiment: the ``Experiment``.
        directory: the output directory.
        sizes: the sizes of this run (a dict).
        seed: the run's seed; ``seed_for(phase)`` derives each phase's.
        scale: ``"source"``, ``"short"`` or ``"quick"`` (``SCALES``).
        quick: whether this is the quick run.
        seeds: the seeds of the models each claim is decided over: ``seed``,
            ``seed + 1``, ... (``sizes["seeds"]`` of them, else one).
        verbose: Keras's ``verbose`` for ``fit`` (1: a progress bar, 2: a line
            per epoch).
        phases: glob patterns of the phases to compute, or ``None`` for all; an
            unfinished phase they do not match is left (``phases_left``) and
            ``phase`` returns a ``PhaseNotRun`` in place of its results.
        jit_compile: ``compile``'s ``jit_compile``: ``"auto"`` (XLA where it is
            the faster step, ``default_jit_compile``), ``False`` in quick runs,
            whose few steps take less time than XLA's compilation.
    """

    def __init__(self, experiment, directory, sizes, seed, scale, resume=False,
                 data_dir=None, cache_dir=None, verbose=None, write=True, phases=None):
        self.experiment = experiment
        self.directory = Path(directory)
        self.sizes = sizes
        self.seed = seed
        self.scale = scale
        self.quick = scale == "quick"
        self.seeds = tuple(seed + index for index in range(sizes.get("seeds", 1)))
        self.resume = resume
        self.data_dir = data_dir
        self.cache_dir = cache_dir
        self.verbose = (1 if sys.stdout.isatty() else 2) if verbose is None else verbose
        self.write = write
        self.jit_compile = False if self.quick else "auto"
        self.phase_seconds = {}
        self.computed_seconds = {}
        self.phase_training = {}
        self.phases = phases
        self.phases_left = []
        self.phase_names = []

    # --- Phases --------------------------------------------------------------

    def seed_for(self, phase: str) -> int:
        """A seed of ``phase`` that does not depend on the phases run before it."""
        return (self.seed * 1_000_003 + zlib.crc32(phase.encode())) % checks.MAX_SEED

    def phase_paths(self, name: str) -> tuple[Path, Path]:
        directory = self.directory / PHASE_DIRECTORY
        return directory / f"{name}.json", directory / f"{name}.npz"

    def phase(self, name: str, compute: Callable[[], dict]) -> dict:
        """Runs ``compute()`` once; returns its results, read back when resumed.

        ``compute`` returns a dict; its NumPy arrays go to ``phases/NAME.npz``,
        everything else to ``phases/NAME.json`` (written last: a phase whose
        JSON file exists is finished). Before ``compute`` runs, Python, NumPy and
        TensorFlow are seeded with ``seed_for(name)``.
        """
        import keras

        json_path, arrays_path = self.phase_paths(name)
        self.phase_names.append(name)
        if self.resume and json_path.exists():
            values = _read_json(json_path)
            if arrays_path.exists():
                with np.load(arrays_path) as arrays:
                    values.update({key: arrays[key] for key in arrays.files})
            self.phase_seconds[name] = values.get("seconds", 0.0)
            self._note_training(name, values)
            self.log(f"phase {name}: finished earlier, read from {json_path}")
            return values
        if not self.selects(name):
            self.phases_left.append(name)
            self.log(f"phase {name}: left for another run (outside `phases`)")
            return PhaseNotRun(name)
        self.log(f"phase {name}: running")
        keras.utils.set_random_seed(self.seed_for(name))
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            values = dict(compute())
        except PhaseNotRunError as error:
            raise ExperimentError(
                f"selects phase {name}, which needs the results of phase {error.phase}; "
                f"select {error.phase} too, or run it first", "phases", " ".join(self.phases)
            ) from None
        values["seconds"] = time.perf_counter() - start
        values["cpu_seconds"] = time.process_time() - cpu_start
        self.phase_seconds[name] = self.computed_seconds[name] = values["seconds"]
        self._note_training(name, values)
        arrays = {key: np.asarray(value) for key, value in values.items()
                  if isinstance(value, np.ndarray)}
        numbers = {key: value for key, value in values.items() if key not in arrays}
        if self.write:
            if arrays:
                files.write_atomically(
                    arrays_path, lambda temporary: np.savez_compressed(temporary, **arrays),
                    suffix=".npz")
            files.write_json(json_path, numbers)
        self.log(f"phase {name}: done in {values['seconds']:.1f} s")
        return values

    def selects(self, name: str) -> bool:
        """Whether this run computes the phase ``name`` (``phases``)."""
        return self.phases is None or _matches(name, self.phases)

    def _note_training(self, name: str, values: dict) -> None:
        trainings = values.get("training", {})
        if trainings:
            self.phase_training[name] = {
                model: {key: record[key] for key in TRAINING_SUMMARY_KEYS if key in record}
                for model, record in trainings.items()}

    def log(self, message: str) -> None:
        print(f"[{self.experiment.name}] {message}", flush=True)

    # --- Training --------------------------------------------------------------

    def fit(self, model, dataset, *, steps: int, source_steps: int | None,
            record_every: int, measure: Callable | None = None,
            convergence=None, **fit_arguments) -> dict:
        """Trains ``model`` for ``steps`` optimizer steps; returns the training record.

        ``dataset`` must repeat (it is read ``record_every`` steps per Keras
        epoch). Every ``record_every`` steps (and before the first) the mean of
        each logged quantity over those steps is recorded, with ``measure(model)``
        (a dict of numbers) when given. With ``convergence`` (a
        ``mmdvae.experiments.training.ConvergenceRule``), training stops early
        once its rule holds.

        Returns a JSON-ready dict: ``steps`` trained, ``source_steps`` (the
        source's schedule, or ``None`` where it gives none),
        ``fraction_of_source_training``, ``stopped_by`` (``"schedule"`` or
        ``"convergence"``), ``seconds`` of training (wall time), ``cpu_seconds``
        (this process's CPU time over all its threads: unlike the wall time, not
        lengthened by other jobs or by the process being paused) and ``curves``
        (``step`` and one list per quantity).
        """
        import keras

        from mmdvae.experiments.training import TrainingCurves

        record_every = max(1, min(record_every, steps))
        curves = TrainingCurves(measure, convergence)
        start, cpu_start = time.perf_counter(), time.process_time()
        model.fit(dataset, epochs=max(1, math.ceil(steps / record_every)),
                  steps_per_epoch=record_every, verbose=self.verbose,
                  callbacks=[curves, keras.callbacks.TerminateOnNaN()], **fit_arguments)
        trained = curves.steps
        return {
            "steps": trained,
            "source_steps": source_steps,
            "fraction_of_source_training": (trained / source_steps) if source_steps else None,
            "stopped_by": "convergence" if curves.converged else "schedule",
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu_start,
            "curves": curves.curves,
        }

    # --- Data ------------------------------------------------------------------

    def load(self, dataset: str, split: str, train_size: int | None = None):
        """``(images, labels)`` of a split, float32 in [0, 1]; errors in one line."""
        from mmdvae import data

        try:
            return data.load_arrays(dataset, split, data_dir=self.data_dir,
                                    train_size=train_size, with_labels=True)
        except (TypeError, ValueError) as error:
            raise ExperimentError(" ".join(str(error).split())) from None

    def image_classifier(self, dataset: str, epochs: int, train_size: int | None):
        """The cached classifier of ``mmdvae.evaluation.train_image_classifier``."""
        from mmdvae import evaluation

        return evaluation.train_image_classifier(
            dataset, data_dir=self.data_dir, cache_dir=self.cache_dir, epochs=epochs,
            train_size=train_size, seed=0)

    def sample_quality(self, model, dataset: str, test_images, test_labels,
                       num_samples: int, classifier_epochs: int,
                       classifier_images: int | None, seed: int = 0) -> dict:
        """Prior samples judged by a classifier of the real images (InfoVAE paper, 5.2).

        Returns, for ``num_samples`` images decoded from prior draws: the class
        cross-entropy ``H(p_real, p_gen)`` and the real labels' entropy (its
        minimum), their difference ``excess_cross_entropy``, the classifier
        Frechet distance to ``test_images`` (the FID formula in the classifier's
        feature space, not Inception's) and ``mean_top_probability``, the mean
        of the classifier's largest class probability (near 1 for images it
        reads as clear digits).
        """
        from mmdvae import evaluation

        classifier, info = self.image_classifier(dataset, classifier_epochs, classifier_images)
        samples = evaluation.generate(model, num_samples, seed=seed)
        real_features, _ = evaluation.classifier_outputs(classifier, test_images)
        features, probabilities = evaluation.classifier_outputs(classifier, samples)
        entropies = evaluation.class_cross_entropy(test_labels, probabilities)
        return {
            "class_cross_entropy": entropies["cross_entropy"],
            "real_entropy": entropies["real_entropy"],
            "excess_cross_entropy": entropies["cross_entropy"] - entropies["real_entropy"],
            "classifier_frechet_distance": evaluation.classifier_frechet_distance(
                real_features, features),
            "mean_top_probability": float(np.mean(np.max(probabilities, axis=1))),
            "classifier_test_accuracy": info["test_accuracy"],
        }


# === Executing an experiment ===


def execute(experiment: Experiment, out, quick=False, seed=0, resume=False, overwrite=False,
            sizes=None, data_dir=None, cache_dir=None, verbose=None, scale=None,
            phases=None) -> Outcome:
    """Runs ``experiment`` into the directory ``out``; see ``mmdvae.experiments.run``."""
    quick = _check_flag("quick", quick)
    scale = resolve_scale(scale, quick)
    quick = scale == "quick"
    resume = _check_flag("resume", resume)
    overwrite = _check_flag("overwrite", overwrite)
    seed = checks.check_positive_int("seed", seed, maximum=checks.MAX_SEED, minimum=0)
    if verbose is not None:
        checks.check_choice("verbose", verbose, (0, 1, 2))
    chosen = check_sizes(experiment, sizes, scale)
    phases = check_phases(phases)
    out = Path(out)
    settings = _json_value({"experiment": experiment.name, "scale": scale, "quick": quick,
                            "seed": seed, "sizes": chosen})
    state = _output_state(out, settings, resume, overwrite)
    finished = state == outputs.FINISHED
    if not finished:
        # Missing data is reported before anything is written.
        for dataset in experiment.datasets:
            Run(experiment, out, chosen, seed, scale, data_dir=data_dir).load(
                dataset, "test", train_size=1)
    if state == outputs.NEW:
        # Phases of an earlier run here (--overwrite) must not be read back by a later --resume.
        outputs.prepare(out, settings, remove=(PHASE_DIRECTORY,))
    run = Run(experiment, out, chosen, seed, scale, resume=resume, data_dir=data_dir,
              cache_dir=cache_dir, verbose=verbose, write=not finished, phases=phases)
    if finished:
        run.log(f"nothing left to run: {out} holds the finished run; reading it back")
    start = time.perf_counter()
    stopped_at = None
    try:
        summary = experiment.run(run)
    except PhaseNotRunError as error:
        if not run.phases_left:
            raise
        stopped_at = error.phase
    if phases is not None:
        _check_phases_matched(experiment, phases, run.phase_names, stopped_at)
    if run.phases_left:
        run.log(f"{len(run.computed_seconds)} phase(s) computed; {len(run.phases_left)} "
                f"unfinished phase(s) outside `phases` ({', '.join(run.phases_left)}); "
                f"the report is written by a run of them all"
                + (f"; the phases after {stopped_at} were not reached: the experiment needs its "
                   "results first" if stopped_at else ""))
        return Outcome(experiment.name, out, settings, {}, [], "", {},
                       sum(run.computed_seconds.values()), tuple(run.phases_left))
    # This call's time, with the phases read back counted at the time they took.
    seconds = (time.perf_counter() - start - sum(run.computed_seconds.values())
               + sum(run.phase_seconds.values()))
    if finished:
        seconds = _read_json(out / RESULTS_FILE).get("seconds", seconds)
    report = render_report(experiment, settings, summary, seconds)
    figures = {stem: figure for stem, (figure, _) in summary.figures.items()}
    if not finished:
        for stem, figure in figures.items():
            save_figure(out / FIGURE_DIRECTORY / f"{stem}.png", figure)
        files.write_text(out / REPORT_FILE, report)
        files.write_json(out / RESULTS_FILE, {
            **settings, "title": experiment.title, "source": experiment.source,
            "seconds": seconds, "phase_seconds": run.phase_seconds,
            "seeds": list(run.seeds), "training": run.phase_training,
            "claims": [verdict.as_dict() for verdict in summary.verdicts],
            "results": summary.results,
        })
        run.log(f"wrote {out / REPORT_FILE} and {out / RESULTS_FILE} ({seconds:.0f} s)")
    for verdict in summary.verdicts:
        run.log(f"{verdict.claim.text}: {verdict.reading}")
    return Outcome(experiment.name, out, settings, summary.results, summary.verdicts, report,
                   figures, seconds)


def check_phases(phases) -> tuple | None:
    """``phases`` as a tuple of glob patterns: ``None``, a string, or a list of strings."""
    if phases is None:
        return None
    patterns = (phases,) if isinstance(phases, str) else phases
    if (not isinstance(patterns, (list, tuple))
            or not all(isinstance(pattern, str) for pattern in patterns)):
        raise TypeError("Argument `phases` must be None, a glob pattern or a list of them "
                        f"(strings); received phases={phases!r}.")
    if not patterns or not all(patterns):
        raise ValueError("Argument `phases` must hold at least one non-empty pattern; "
                         f"received phases={phases!r}.")
    return tuple(patterns)


def _matches(name: str, patterns) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _check_phases_matched(experiment, phases, names, stopped_at) -> None:
    """Each pattern of ``phases`` matched a phase the run reached."""
    unmatched = [pattern for pattern in phases
                 if not any(_matches(name, (pattern,)) for name in names)]
    if unmatched:
        reached = (f" up to its reading of phase {stopped_at}, which is unfinished (select "
                   f"it too if yours come later)" if stopped_at else "")
        raise ExperimentError(f"matches no phase of {experiment.name} ({', '.join(unmatched)} "
                              f"matched nothing); its phases{reached}: {', '.join(names)}",
                              "phases", " ".join(phases))


def resolve_scale(scale, quick: bool = False) -> str:
    """``scale`` checked (``SCALES``); ``None``: ``"quick"`` with ``quick``, else ``"source"``."""
    if scale is None:
        return "quick" if quick else "source"
    checks.check_choice("scale", scale, SCALES)
    if quick and scale != "quick":
        raise ExperimentError("contradicts quick=True (the quick scale); pass one of them",
                              "scale", scale)
    return scale


def _check_flag(argument, value):
    if not isinstance(value, bool):
        raise TypeError(f"Argument `{argument}` must be True or False; received "
                        f"{argument}={value!r}.")
    return value


