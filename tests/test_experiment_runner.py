"""The experiment runner: verdicts over seeds, the convergence rule, the training record."""

import os

import numpy as np
import pytest
import tensorflow as tf
from tiny import compile_model, tiny_images, tiny_model

from mmdvae.experiments import claims, report, runner
from mmdvae.experiments.training import ConvergenceRule

CLAIM = claims.Claim("a claim", "somewhere", "margin = x")


@pytest.mark.parametrize("margins, state, reason", [
    ((0.30, 0.25, 0.35), "held", ""),
    ((-0.30, -0.25, -0.35), "not held", ""),
    # All positive, but the mean 0.1 is within 2 standard errors (s.e. 0.0577) of 0.
    ((0.01, 0.01, 0.28), "not decided", "inside the seed-to-seed spread"),
    ((0.3, -0.1, 0.4), "not decided", "inside the seed-to-seed spread"),
    ((0.5, 0.6), "not decided", "2 seed(s); at least 3 decide"),
])
def test_a_claim_is_decided_only_outside_the_seed_to_seed_spread(margins, state, reason):
    verdict = CLAIM.decide(margins, "numbers", quick=False)
    assert verdict.state == state and reason in verdict.reason
    assert verdict.seeds == len(margins) and verdict.margins == tuple(margins)
    mean = np.mean(margins)
    error = np.std(margins, ddof=1) / np.sqrt(len(margins))
    assert f"margin {mean:+.4g}" in verdict.measured and f"s.e. {error:.2g}" in verdict.measured
    assert verdict.as_dict()["state"] == state


def test_the_quick_size_decides_nothing_unless_the_claim_says_so():
    assert CLAIM.decide((1.0, 1.0, 1.1), "", quick=True).state == "not decided"
    decisive = claims.Claim("c", "s", "r", quick_decides=True)
    assert decisive.decide((1.0, 1.0, 1.1), "", quick=True).state == "held"


def test_mean_and_error_against_numpy():
    values = [1.0, 2.0, 4.0, 7.0]
    mean, error = claims.mean_and_error(values)
    assert mean == 3.5 and error == pytest.approx(np.std(values, ddof=1) / 2.0, rel=1e-15)
    assert claims.mean_and_error([2.5]) == (2.5, 0.0)


@pytest.mark.parametrize("values, converged", [
    # Step 100 against the last record at or before step 90: (1.0 - 0.996) / 1.0 < 0.005.
    ([2.0, 1.5, 1.2, 1.1, 1.05, 1.02, 1.01, 1.005, 1.002, 1.0, 0.996], True),
    ([2.0, 1.5, 1.2, 1.1, 1.05, 1.02, 1.01, 1.005, 1.002, 1.0, 0.99], False),
    ([2.0, 1.5, 1.2, 1.1, 1.05, 1.02, 1.01, 1.005, 1.002, 1.0, None], False),
])
def test_convergence_rule_reads_the_last_tenth_of_the_steps(values, converged):
    steps = list(range(0, 101, 10))
    assert ConvergenceRule("loss").converged(steps, values) is converged
    assert ConvergenceRule("loss", min_steps=101).converged(steps, values) is False


def test_run_fit_records_steps_curves_and_the_fraction_of_the_source(tmp_path):
    experiment = runner.Experiment("toy", "t", "s", "c", {"quick": {}}, {}, 1.0, (), None)
    run = runner.Run(experiment, tmp_path, {}, 0, "quick", verbose=0)
    model = compile_model(tiny_model("mmd"))
    dataset = tf.data.Dataset.from_tensor_slices(tiny_images(64)).batch(16).repeat()
    measured = []

    def measure(model):
        measured.append(1)
        return {"measured": float(len(measured))}

    record = run.fit(model, dataset, steps=12, source_steps=48, record_every=5,
                     measure=measure)
    # ceil(12 / 5) = 3 epochs of 5 steps: records at 0 (measure only), 5, 10, 15.
    assert record["steps"] == 15 and record["fraction_of_source_training"] == 15 / 48
    assert record["stopped_by"] == "schedule"
    # CPU time over all threads: positive, at most the wall time on every core.
    assert 0 < record["cpu_seconds"] <= record["seconds"] * (os.cpu_count() or 1) + 0.1
    curves = record["curves"]
    assert curves["step"] == [0, 5, 10, 15] and curves["measured"] == [1.0, 2.0, 3.0, 4.0]
    assert curves["loss"][0] is None and all(np.isfinite(curves["loss"][1:]))


def test_run_fit_stops_when_the_convergence_rule_holds(tmp_path):
    experiment = runner.Experiment("toy", "t", "s", "c", {"quick": {}}, {}, 1.0, (), None)
    run = runner.Run(experiment, tmp_path, {}, 0, "quick", verbose=0)
    model = compile_model(tiny_model("mmd"))
    dataset = tf.data.Dataset.from_tensor_slices(tiny_images(64)).batch(16).repeat()
    # A measure that stops improving from the fourth record on.
    values = iter([5.0, 4.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    record = run.fit(model, dataset, steps=50, source_steps=None, record_every=5,
                     measure=lambda model: {"held_out": next(values)},
                     convergence=ConvergenceRule("held_out", min_steps=1, window=0.3))
    # Records at 0, 5, 10, 15, 20: at 20 the value at or before step 14 is 3.0 -> 2.0
    # (improving); at 25, the value at or before 17.5 (2.0 at 15) -> 2.0: converged.
    assert record["stopped_by"] == "convergence" and record["steps"] == 25
    assert record["fraction_of_source_training"] is None


def test_scale_is_checked_and_quick_is_its_shorthand():
    assert runner.resolve_scale(None) == "source"
    assert runner.resolve_scale(None, quick=True) == "quick"
    assert runner.resolve_scale("short") == "short"
    with pytest.raises(ValueError, match="scale"):
        runner.resolve_scale("full")
    with pytest.raises(ValueError, match="contradicts quick=True"):
        runner.resolve_scale("source", quick=True)


def test_stored_images_round_trip_within_half_a_level():
    images = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype(np.float32)
    stored = report.stored_images(images)
    assert stored.dtype == np.uint8
    assert np.max(np.abs(report.shown_images(stored) - images)) <= 0.5 / 255 + 1e-7


def _page_script():
    import runpy
    from pathlib import Path

    return runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts"
                              / "reproduction_page.py"))


def test_the_committed_reproduction_page_is_generated_from_the_committed_runs():
    page = _page_script()
    assert page["PAGE"].read_text() == page["build_page"]()


def test_the_reproduction_page_lists_each_claim_with_its_verdict_seeds_and_fraction(tmp_path):
    import json

    page = _page_script()
    finished = tmp_path / "tutorial"
    (finished / "figures").mkdir(parents=True)
    verdicts = [claims.Claim("fast", "intro", "m").decide((0.2, 0.3, 0.25), "x", False),
                claims.Claim("clusters", "fig", "m").decide((0.1, -0.1, 0.05), "x", False)]
    (finished / "results.json").write_text(json.dumps({
        "scale": "source", "claims": [claim.as_dict() for claim in verdicts],
        "training": {"z20_seed0": {"z20": {"fraction_of_source_training": 1.0}},
                     "z2_seed0": {"z2": {"fraction_of_source_training": 0.5}}}}))
    (finished / "report.md").write_text("# Title\n\n![training](figures/training.png)\n")
    started = tmp_path / "pixelcnn"
    (started / "phases").mkdir(parents=True)
    (started / "run.json").write_text(json.dumps({"scale": "source", "seed": 0,
                                                  "sizes": {"seeds": 3}}))
    (started / "phases" / "elbo_z2_seed0.json").write_text(json.dumps({"training": {
        "elbo_z2_seed0": {"steps": 1250, "fraction_of_source_training": None,
                          "stopped_by": "convergence", "seconds": 749.4}}}))
    (started / "phases" / "aae_z2_seed0.json").write_text(json.dumps({"training": {
        "aae": {"steps": 2000, "fraction_of_source_training": None,
                "stopped_by": "schedule", "seconds": 828.6, "cpu_seconds": 1502.2}}}))
    text = page["build_page"](tmp_path)
    assert "### `pixelcnn`: the phases finished so far" in text
    assert "| elbo_z2_seed0 |  | 1,250 | no schedule | convergence | 749 | - |" in text
    assert ("| aae_z2_seed0 | aae | 2,000 | no schedule | the step limit | 829 | 1502 |"
            in text)
    assert "| `tutorial` | fast | **held** | 3 | source | 50%-100% |" in text
    assert ("| `tutorial` | clusters | **not decided** (the margin is inside the "
            "seed-to-seed spread) | 3 | source | 50%-100% |") in text
    assert "- `pixelcnn` (source scale, seeds 0-2): in progress, 2 phase(s) finished" in text
    assert "- `mutual`: not yet run at the source scale." in text
    assert "## Title" in text and "](results/tutorial/figures/training.png)" in text


def _first_steps_script():
    import runpy
    from pathlib import Path

    return runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts"
                              / "pixelcnn_first_steps.py"))


@pytest.mark.parametrize("arguments, message", [
    (["--steps", "0"], "argument --steps: must be a positive integer; received 0"),
    (["--every", "ten"], "argument --every: must be a positive integer; received ten"),
    (["--latent-dim", "-2"], "argument --latent-dim: must be a positive integer; received -2"),
    (["--seed", "-1"], "argument --seed: must be an integer >= 0; received -1"),
    (["--models", "vae"], "argument --models: invalid choice: 'vae'"),
])
def test_the_first_steps_script_refuses_bad_arguments_in_one_line(tmp_path, capsys, arguments,
                                                                   message):
    with pytest.raises(SystemExit) as exit_info:
        _first_steps_script()["main"]([*arguments, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_first_steps_script_refuses_a_file_as_its_output_directory(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("kept")
    with pytest.raises(SystemExit):
        _first_steps_script()["main"](["--out", str(path)])
    assert f"argument --out: {path} is a file" in capsys.readouterr().err
    assert path.read_text() == "kept"


def test_the_first_steps_script_takes_each_terms_gradient_on_the_encoder_alone():
    """``scripts/pixelcnn_first_steps.py``: the ELBO's regulariser is the analytic KL."""
    script = _first_steps_script()
    model = tiny_model("elbo", seed=3)
    batches = [tiny_images(16, seed=1), tiny_images(16, seed=2)]
    weights = model.encoder.trainable_weights
    expected = []
    for images in batches:
        with tf.GradientTape() as tape:
            _, z_mean, z_log_var = model.posterior(images, training=True)
            kl = tf.reduce_mean(0.5 * tf.reduce_sum(
                tf.exp(z_log_var) + tf.square(z_mean) - 1.0 - z_log_var, axis=-1))
        expected.append(tape.gradient(kl, weights))
    norms = [float(tf.linalg.global_norm(gradients)) for gradients in expected]
    mean = [(first + second) / 2 for first, second in zip(*expected, strict=True)]
    gradients = script["gradient_norms"](model, batches)
    np.testing.assert_allclose(gradients["regularization_loss"], np.mean(norms), rtol=1e-5)
    np.testing.assert_allclose(gradients["regularization_loss_coherence"],
                               float(tf.linalg.global_norm(mean)) / np.mean(norms), rtol=1e-5)
    assert 0 < gradients["regularization_loss_coherence"] < 1
    # The same batch twice: every batch pulls the same way.
    same = script["gradient_norms"](model, [batches[0], batches[0]])
    np.testing.assert_allclose(same["regularization_loss_coherence"], 1.0, rtol=1e-6)
    assert gradients["reconstruction_loss"] > 0


def test_the_first_steps_script_trains_as_the_experiment_records_it(tmp_path):
    """Recording every step leaves training as the experiment's records every 2 do."""
    from mmdvae.experiments import pixelcnn

    script = _first_steps_script()
    experiment = runner.Experiment("toy", "t", "s", "c", {"quick": {}}, {}, 1.0, (), None)
    run = runner.Run(experiment, tmp_path, {}, 0, "quick", verbose=0)
    test_images = tiny_images(2 * pixelcnn.BATCH_SIZE, seed=5)

    def curves(every, measure):
        model = compile_model(tiny_model("elbo", seed=4))
        dataset = tf.data.Dataset.from_tensor_slices(tiny_images(64)).batch(16).repeat()
        record = run.fit(model, dataset, steps=4, source_steps=None, record_every=every,
                         measure=measure)
        return record["curves"], model.get_weights()

    coarse, coarse_weights = curves(2, lambda model: pixelcnn.latent_use(model, test_images, 0))
    close, close_weights = curves(
        1, lambda model: script["measure"](model, test_images, 0, experiment_every=2))
    assert close["step"] == [0, 1, 2, 3, 4] and coarse["step"] == [0, 2, 4]
    for key in ("test_loss", "mutual_information", "mmd"):
        assert close[key][::2] == coarse[key], key
    for close_weight, coarse_weight in zip(close_weights, coarse_weights, strict=True):
        np.testing.assert_array_equal(close_weight, coarse_weight)
    # Without restoring the generator the extra records would change what training draws.
    unrestored, _ = curves(1, lambda model: pixelcnn.latent_use(model, test_images, 0))
    assert unrestored["test_loss"][2] != coarse["test_loss"][1]


# === Runs of some phases ===


def _phased_experiment(reads_first_in="summary"):
    """Three phases of seeded random numbers; ``b_seed0`` reads ``a_seed0`` in its
    computation (``reads_first_in="phase"``), between the phases (``"between"``) or only
    the summary does."""
    from mmdvae.experiments.report import Summary

    def draw():
        return {"value": float(np.random.random())}

    def perform(run):
        first = run.phase("a_seed0", draw)
        offset = first["value"] if reads_first_in == "between" else 0.0

        def second():
            base = first["value"] if reads_first_in == "phase" else offset
            return {"value": base + float(np.random.random())}
        others = [run.phase("b_seed0", second), run.phase("b_seed1", draw)]
        total = first["value"] + sum(other["value"] for other in others)
        return Summary({"total": total}, [CLAIM.decide((total,) * 3, "sum", quick=True)], [],
                       {})
    return runner.Experiment("toy", "t", "s", "c", {"quick": {}}, {}, 1.0, (), perform)


def test_runs_of_disjoint_phases_share_a_directory_and_give_the_whole_run(tmp_path):
    experiment = _phased_experiment()
    whole = runner.execute(experiment, tmp_path / "whole", quick=True, verbose=0)
    split = tmp_path / "split"
    part = runner.execute(experiment, split, quick=True, verbose=0, phases="b_*")
    assert part.phases_left == ("a_seed0",) and part.verdicts == [] and part.results == {}
    # What stands in for a left phase's results refuses every read, not only [].
    left = runner.PhaseNotRun("a_seed0")
    for read in (lambda: left["value"], lambda: len(left), lambda: list(left.items()),
                 lambda: "value" in left, lambda: left.get("value")):
        with pytest.raises(runner.PhaseNotRunError, match="phase a_seed0 was not run here"):
            read()
    assert sorted(path.name for path in (split / "phases").iterdir()) == [
        "b_seed0.json", "b_seed1.json"]
    assert not (split / "results.json").exists() and not (split / "report.md").exists()
    # The run that finds every phase finished writes the report: the whole run's numbers,
    # since each phase's seed comes from its name, not from the phases run before it.
    last = runner.execute(experiment, split, quick=True, verbose=0, resume=True,
                          phases=["a_*"])
    assert last.phases_left == () and (split / "results.json").exists()
    assert last.results == whole.results
    for name in ("a_seed0", "b_seed0", "b_seed1"):
        assert (runner._read_json(split / "phases" / f"{name}.json")["value"]
                == runner._read_json(tmp_path / "whole" / "phases" / f"{name}.json")["value"])


def test_a_phase_that_needs_a_phase_left_to_another_run_is_refused(tmp_path):
    with pytest.raises(runner.ExperimentError,
                       match=r"selects phase b_seed0, which needs the results of phase a_seed0"):
        runner.execute(_phased_experiment("phase"), tmp_path / "a", quick=True, verbose=0,
                       phases="b_seed0")
    assert not (tmp_path / "a" / "phases" / "b_seed0.json").exists()
    # Read between the phases: the run stops there and says which phase to select.
    with pytest.raises(runner.ExperimentError, match=r"\(b_\* matched nothing\); its phases "
                       r"up to its reading of phase a_seed0, which is unfinished \(select it "
                       r"too if yours come later\): a_seed0$"):
        runner.execute(_phased_experiment("between"), tmp_path / "b", quick=True, verbose=0,
                       phases="b_*")


def test_phases_that_match_nothing_or_are_not_patterns_are_refused(tmp_path):
    with pytest.raises(runner.ExperimentError, match=r"matches no phase of toy \(c_\* matched "
                       r"nothing\); its phases: a_seed0, b_seed0, b_seed1$"):
        runner.execute(_phased_experiment(), tmp_path / "a", quick=True, verbose=0,
                       phases=["a_seed0", "b_*", "c_*"])
    for phases in (3, ["a_*", None], {"a_*"}):
        with pytest.raises(TypeError, match=r"Argument `phases` must be None, a glob pattern"):
            runner.execute(_phased_experiment(), tmp_path / "b", quick=True, verbose=0,
                           phases=phases)
    for phases in ([], [""], ""):
        with pytest.raises(ValueError, match=r"Argument `phases` must hold at least one"):
            runner.execute(_phased_experiment(), tmp_path / "b", quick=True, verbose=0,
                           phases=phases)
    assert not (tmp_path / "b").exists()
