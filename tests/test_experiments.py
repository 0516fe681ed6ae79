"""The experiments of the source documents: their measures, quick runs, command line and notebooks.

Each experiment's quick run executes once per module (``quick_runs``) and its
test asserts the direction of the claims the quick size can decide; the
command-line, resume and notebook tests reuse those runs' directories.
"""

import argparse
import json
import math
import shutil

import numpy as np
import pytest
from PIL import Image

from mmdvae import data, experiments
from mmdvae.experiments import blog, mutual, proposition1, runner


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory, data_dir):
    """``get(name)``: the outcome of the experiment's quick run, run once per module."""
    outcomes = {}
    cache_dir = tmp_path_factory.mktemp("classifiers")

    def get(name):
        if name not in outcomes:
            out = tmp_path_factory.mktemp(name) / "run"
            outcomes[name] = experiments.run(name, out, quick=True, seed=0, data_dir=data_dir,
                                             cache_dir=cache_dir, verbose=0)
        return outcomes[name]

    return get


def check_written(outcome):
    """results.json, report.md and the figures are written and agree with the outcome."""
    results = json.loads((outcome.directory / "results.json").read_text())
    assert results["experiment"] == outcome.name and results["quick"] is True
    assert [claim["held"] for claim in results["claims"]] == [
        verdict.held for verdict in outcome.verdicts]
    report = (outcome.directory / "report.md").read_text()
    assert report == outcome.report
    assert "| the paper's claim | where | rule | this run measured | held |" in report
    for verdict in outcome.verdicts:
        assert verdict.claim.text.replace("|", "\\|") in report
        assert (verdict.reading in report) and (verdict.decided or "undecided" in report)
    assert outcome.figures
    for stem in outcome.figures:
        with Image.open(outcome.directory / "figures" / f"{stem}.png") as image:
            assert image.format == "PNG" and min(image.size) > 100
    return results


def verdicts(outcome, module) -> dict:
    """The outcome's verdicts by the key of their claim in ``module.CLAIMS``."""
    keys = {claim: key for key, claim in module.CLAIMS.items()}
    return {keys[verdict.claim]: verdict for verdict in outcome.verdicts}


# === Measures against analytic values ===


def test_aggregate_variance_equals_the_mixture_variance_by_quadrature():
    means, widths = np.array([-1.3, 0.8]), np.array([0.2, 0.5])
    grid = np.linspace(-6, 6, 200_001)
    density = np.mean([np.exp(-0.5 * ((grid - m) / w) ** 2) / (w * np.sqrt(2 * np.pi))
                       for m, w in zip(means, widths, strict=True)], axis=0)
    first = np.trapezoid(grid * density, grid)
    variance = np.trapezoid(grid**2 * density, grid) - first**2
    assert proposition1.aggregate_variance(means, widths) == pytest.approx(variance, rel=1e-6)


def test_two_point_information_is_log_2_when_separated_and_0_when_equal():
    assert proposition1.information([-10.0, 10.0], [1.0, 1.0]) == pytest.approx(math.log(2))
    assert proposition1.information([0.3, 0.3], [0.7, 0.7]) == pytest.approx(0.0, abs=1e-9)
    # Partly overlapping posteriors: a Monte Carlo float64 reference.
    means, widths = np.array([-0.5, 0.5]), np.array([0.6, 0.4])
    rng = np.random.default_rng(0)
    point = rng.integers(0, 2, 400_000)
    z = means[point] + widths[point] * rng.standard_normal(len(point))
    log_densities = -0.5 * ((z[:, None] - means) / widths) ** 2 - np.log(widths)
    reference = np.mean(log_densities[np.arange(len(z)), point]
                        - np.log(np.mean(np.exp(log_densities), axis=1)))
    assert proposition1.information(means, widths) == pytest.approx(reference, abs=0.005)


def test_mutual_information_quadratures_match_closed_forms():
    # x = a z + s e: I(z, x) = log(1 + a^2 / s^2) / 2.
    slope, noise = 1.0, 0.5
    estimate = mutual.gaussian_information(
        lambda z: (slope * z, np.full_like(z, noise, dtype=np.float64)))
    assert estimate == pytest.approx(0.5 * math.log(1 + slope**2 / noise**2), abs=0.02)
    # x = the sign of z: one bit; a decoder ignoring z: nothing.
    assert mutual.categorical_information(
        lambda z: np.stack([z < 0, z >= 0], axis=1).astype(float)) == pytest.approx(
        math.log(2), abs=1e-3)
    assert mutual.categorical_information(
        lambda z: np.full((len(z), 10), 0.1)) == pytest.approx(0.0, abs=1e-12)


def test_holes_of_prior_draws_vanish_and_an_empty_half_disc_leaves_its_mass():
    draws = np.random.default_rng(0).standard_normal((10_000, 2))
    share, radius, _, _ = blog.hole_share(draws)
    assert radius == pytest.approx(0.25) and share < 0.005
    # No code left of the axis: that half of the disc is a hole, but for a band near the axis.
    right_half = np.c_[np.abs(draws[:, 0]), draws[:, 1]]
    share, radius, centres, is_hole = blog.hole_share(right_half)
    nearest = np.concatenate([
        np.sqrt(np.min(np.sum((centres[start:start + 500, None] - right_half) ** 2, axis=-1),
                       axis=1)) for start in range(0, len(centres), 500)])
    weights = np.exp(-0.5 * np.sum(centres**2, axis=1))
    np.testing.assert_array_equal(is_hole, nearest > radius)
    assert share == pytest.approx(weights[nearest > radius].sum() / weights.sum())
    assert np.all(is_hole[centres[:, 0] < -radius]) and not np.any(is_hole[centres[:, 0] > 0])
    assert 0.35 < share < 0.5


def test_morph_smoothness_of_a_ramp():
    rows = blog.GRID_ROWS
    steps = np.add.outer(np.arange(rows), np.arange(rows)).ravel() / 100.0
    images = np.broadcast_to(steps[:, None, None, None], (rows * rows, 4, 4, 1))
    measured = blog.morph_smoothness(images, seed=3)
    assert measured["neighbour_change"] == pytest.approx(0.01)
    pairs = np.random.default_rng(3).integers(0, rows * rows, size=(2000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    reference = np.mean(np.abs(steps[pairs[:, 0]] - steps[pairs[:, 1]]))
    assert measured["random_pair_change"] == pytest.approx(reference)
    assert measured["relative_change"] == pytest.approx(0.01 / reference)


def test_sizes_are_checked_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"`sizes` names sizes .* \['step'\]"):
        experiments.run("proposition1", tmp_path / "a", sizes={"step": 10})
    with pytest.raises(TypeError, match=r"Argument `steps` must be an integer"):
        experiments.run("proposition1", tmp_path / "a", sizes={"steps": 2.5})
    with pytest.raises(ValueError, match=r"Argument `name` must be one of"):
        experiments.run("proposition2", tmp_path / "a")
    with pytest.raises(TypeError, match=r"Argument `seed` must be an integer"):
        experiments.run("proposition1", tmp_path / "a", seed=None)
    assert not (tmp_path / "a").exists()


def test_missing_data_is_reported_before_anything_is_written(tmp_path, capsys):
    arguments = ("tutorial", "--out", str(tmp_path / "run"), "--quick", "--data-dir",
                 str(tmp_path / "nowhere"))
    with pytest.raises(SystemExit) as stop:
        experiments.reproduce(parse(*arguments))
    assert str(stop.value).startswith("error: ") and "nowhere" in str(stop.value)
    assert "\n" not in str(stop.value) and not (tmp_path / "run").exists()


def test_report_cells_escape_table_bars():
    lines = runner.markdown_table(["a|b", "n"], [["x | y", 0.123456], [True, 3]])
    assert lines == ["| a\\|b | n |", "|---|---|", "| x \\| y | 0.1235 |", "| yes | 3 |"]


# === Quick runs: the direction of each claim the quick size can decide ===


def test_proposition1_quick(quick_runs):
    outcome = quick_runs("proposition1")
    results = check_written(outcome)["results"]
    found = verdicts(outcome, proposition1)
    assert found["widths"].decided and found["widths"].held
    assert not found["inflated"].decided and not found["stable"].decided
    # The direction of the claim: ELBO's q(z) wider than InfoVAE's.
    assert results["elbo"]["final_variance"] > results["infovae"]["final_variance"]
    for record in results.values():
        assert record["final_variance"] == pytest.approx(proposition1.aggregate_variance(
            record["final_means"], record["final_widths"]))


def test_mutual_quick(quick_runs):
    outcome = quick_runs("mutual")
    results = check_written(outcome)["results"]
    found = verdicts(outcome, mutual)
    for toy in mutual.TOYS:
        assert found["vae", toy].decided and found["vae", toy].held
        assert not found["mae", toy].decided
        # The direction: the MutualAE's decoder carries information the VAE's drops.
        assert (results[f"{toy}/mae_1"]["information"]
                > results[f"{toy}/vae"]["information"] + mutual.TOLERANCE)


def test_tutorial_quick(quick_runs, data_dir):
    outcome = quick_runs("tutorial")
    results = check_written(outcome)["results"]
    fast, samples, clusters = outcome.verdicts
    assert fast.decided and fast.held
    assert not samples.decided and not clusters.decided
    assert results["z20"]["final_squared_error"] < results["z20"]["untrained_squared_error"]
    labels = data.load_arrays("mnist", "test", data_dir=data_dir, with_labels=True,
                              train_size=experiments.sizes("tutorial", quick=True)[
                                  "test_images"])[1]
    frequencies = np.bincount(labels) / len(labels)
    assert results["z20"]["real_entropy"] == pytest.approx(
        -np.sum(frequencies * np.log(frequencies)))


@pytest.mark.parametrize("name", ["blog", "mnist500", "pixelcnn", "vimae"])
def test_quick_runs_too_small_to_decide_say_so(quick_runs, name):
    outcome = quick_runs(name)
    check_written(outcome)
    assert outcome.verdicts and not any(verdict.decided for verdict in outcome.verdicts)
    assert "A quick run" in outcome.report
    numbers = [value for value in _flat_numbers(outcome.results)]
    assert numbers and all(math.isfinite(value) for value in numbers)


def _flat_numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _flat_numbers(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _flat_numbers(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)


# === Resuming ===


def test_an_interrupted_run_resumes_without_recomputing_its_finished_phase(tmp_path,
                                                                          monkeypatch):
    sizes = {"steps": 200, "record_every": 100}
    train, calls = proposition1.train, []

    def interrupted(run, name):
        if name == "infovae":
            raise KeyboardInterrupt
        return train(run, name)

    monkeypatch.setattr(proposition1, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        experiments.run("proposition1", tmp_path, quick=True, sizes=sizes, verbose=0)
    finished = (tmp_path / "phases" / "elbo.json").read_bytes()
    assert not (tmp_path / "results.json").exists()
    with pytest.raises(runner.ExperimentError, match="is not empty"):
        experiments.run("proposition1", tmp_path, quick=True, sizes=sizes, verbose=0)

    def counted(run, name):
        calls.append(name)
        return train(run, name)

    monkeypatch.setattr(proposition1, "train", counted)
    outcome = experiments.run("proposition1", tmp_path, quick=True, sizes=sizes, resume=True,
                              verbose=0)
    assert calls == ["infovae"]
    assert (tmp_path / "phases" / "elbo.json").read_bytes() == finished
    assert outcome.results["elbo"]["final_variance"] == json.loads(finished)["final_variance"]
    assert (tmp_path / "results.json").exists()


# === The command line ===


def parse(*arguments):
    parser = argparse.ArgumentParser(prog="python -m mmdvae")
    experiments.add_reproduce_command(parser.add_subparsers(dest="command"))
    return parser.parse_args(["reproduce", *arguments])


def test_list_shows_every_experiment_with_its_claim_and_times(capsys):
    assert experiments.reproduce(parse("--list")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(experiments.EXPERIMENTS)
    for line, experiment in zip(lines, experiments.EXPERIMENTS.values(), strict=True):
        assert f"~{experiment.full_minutes:g} min" in line and experiment.claim in line


@pytest.mark.parametrize("arguments, message", [
    ((), "error: reproduce needs an experiment NAME"),
    (("nonsense", "--out", "x"), "error: unknown experiment 'nonsense'"),
    (("blog",), "error: reproduce blog needs --out DIR"),
])
def test_command_line_mistakes_get_one_error_line(arguments, message):
    with pytest.raises(SystemExit) as stop:
        experiments.reproduce(parse(*arguments))
    assert str(stop.value).startswith(message) and "\n" not in str(stop.value)


def test_command_line_refuses_directories_it_must_not_write(tmp_path, quick_runs, capsys):
    finished = tmp_path / "finished"
    shutil.copytree(quick_runs("proposition1").directory, finished)
    before = {path: path.read_bytes() for path in finished.rglob("*") if path.is_file()}
    for arguments, message in [
        (("--quick",), "holds a finished run (results.json)"),
        (("--quick", "--overwrite"), "holds a finished run (results.json)"),
        (("--quick", "--resume", "--seed", "3"), "--resume must repeat the run's settings"),
        (("--quick", "--resume", "--overwrite"), "pass either `resume`"),
    ]:
        with pytest.raises(SystemExit) as stop:
            experiments.reproduce(parse("proposition1", "--out", str(finished), *arguments))
        assert str(stop.value).startswith("error: ") and message in str(stop.value)
    # A finished run resumed: nothing to do, nothing written.
    assert experiments.reproduce(parse("proposition1", "--out", str(finished), "--quick",
                                       "--resume")) == 0
    assert "nothing left to run" in capsys.readouterr().out
    assert before == {path: path.read_bytes() for path in finished.rglob("*") if path.is_file()}

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match=r"^error: --out .*other is not empty"):
        experiments.reproduce(parse("mutual", "--out", str(tmp_path / "other"), "--quick"))
    with pytest.raises(SystemExit, match=r"^error: --resume needs an interrupted run"):
        experiments.reproduce(parse("mutual", "--out", str(tmp_path / "empty"), "--resume"))
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_command_line_resumes_a_killed_run(tmp_path, quick_runs, capsys):
    original = quick_runs("proposition1")
    killed = tmp_path / "killed"
    shutil.copytree(original.directory, killed)
    # As if killed while the second phase ran: its results and the run's summary missing.
    for path in [killed / "results.json", killed / "report.md",
                 *(killed / "phases").glob("infovae.*")]:
        path.unlink()
    elbo = (killed / "phases" / "elbo.json").read_bytes()
    assert experiments.reproduce(parse("proposition1", "--out", str(killed), "--quick",
                                       "--resume")) == 0
    output = capsys.readouterr().out
    assert "phase elbo: finished earlier" in output and "phase infovae: running" in output
    assert (killed / "phases" / "elbo.json").read_bytes() == elbo
    resumed = json.loads((killed / "results.json").read_text())["results"]
    assert resumed["elbo"] == original.results["elbo"]
    # The phase seeds do not depend on the phases before: the rerun phase repeats itself.
    assert resumed["infovae"]["final_variance"] == pytest.approx(
        original.results["infovae"]["final_variance"], rel=1e-4)


# === Notebooks (reading back the quick runs, so they run in seconds) ===


@pytest.mark.parametrize("notebook, names", [
    ("03_infovae_paper.ipynb", ("proposition1", "mnist500", "pixelcnn")),
    ("04_vimae_robustness.ipynb", ("vimae",)),
    ("05_mutual_autoencoder.ipynb", ("mutual",)),
])
def test_notebooks_run(tmp_path, quick_runs, run_notebook, notebook, names):
    for name in names:
        shutil.copytree(quick_runs(name).directory, tmp_path / "runs" / name)
    text, images = run_notebook(notebook)
    for name in names:
        outcome = quick_runs(name)
        for verdict in outcome.verdicts:
            assert f"{verdict.reading}: {verdict.claim.text}" in text
    assert len(images) >= sum(len(quick_runs(name).figures) for name in names)
