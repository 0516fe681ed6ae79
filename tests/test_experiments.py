"""The experiments of the source documents: their measures, quick runs, command line and notebooks.

Each experiment's quick run executes once per module (``quick_runs``) and its
test asserts the direction of the claims the quick size can decide; the
command-line, resume and notebook tests reuse those runs' directories.
"""

import json
import math
import shutil

import keras
import numpy as np
import pytest
import scipy.stats
from PIL import Image

import mmdvae
from mmdvae import cli, data, experiments, priors
from mmdvae.cli import reproduce as reproduce_command
from mmdvae.experiments import blog, mnist500, mutual, proposition1, report, runner, vimae
from mmdvae.models.base import LOG_VARIANCE_RANGE


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
    assert results["scale"] == "quick" and results["seeds"] == list(outcome.settings["seed"] + i
                                                                     for i in range(
        outcome.settings["sizes"].get("seeds", 1)))
    assert [claim["held"] for claim in results["claims"]] == [
        verdict.held for verdict in outcome.verdicts]
    report = (outcome.directory / "report.md").read_text()
    assert report == outcome.report
    assert "| the paper's claim | where | rule | this run measured | verdict |" in report
    for verdict in outcome.verdicts:
        assert verdict.claim.text.replace("|", "\\|") in report
        assert (verdict.reading in report) and (verdict.decided or "not decided" in report)
    assert [claim["state"] for claim in results["claims"]] == [
        verdict.state for verdict in outcome.verdicts]
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
    estimate, error = mutual.gaussian_information(
        lambda z: (slope * z, np.full_like(z, noise, dtype=np.float64)))
    assert 0 < error < 0.01
    assert estimate == pytest.approx(0.5 * math.log(1 + slope**2 / noise**2), abs=4 * error)
    # x = the sign of z: one bit; a decoder ignoring z: nothing.
    assert mutual.categorical_information(
        lambda z: np.stack([z < 0, z >= 0], axis=1).astype(float)) == pytest.approx(
        math.log(2), abs=1e-3)
    assert mutual.categorical_information(
        lambda z: np.full((len(z), 10), 0.1)) == pytest.approx(0.0, abs=1e-12)


def test_exact_categorical_bound_of_a_sign_decoder_matches_the_hand_computation():
    # x = 1 when z >= 0, else 0; r(z|x) = N(+-m, s^2). With E[z | z > 0] = sqrt(2 / pi) and
    # E[z^2 | z > 0] = 1: I_hat = H(z) - log(2 pi s^2) / 2 - (1 - 2 m sqrt(2 / pi) + m^2) / (2 s^2).
    mean, std = 0.8, 0.6
    bound = mutual.categorical_information_bound(
        lambda z: np.stack([z < 0, z >= 0], axis=1).astype(float),
        ([-mean, mean], [2 * math.log(std)] * 2))
    expected = (0.5 * math.log(2 * math.pi * math.e) - 0.5 * math.log(2 * math.pi * std**2)
                - (1 - 2 * mean * math.sqrt(2 / math.pi) + mean**2) / (2 * std**2))
    assert bound == pytest.approx(expected, abs=1e-5)
    # The exact bound of the sign decoder is below its information, log 2.
    assert bound < math.log(2)


def test_exact_categorical_bound_of_a_mutual_ae_matches_a_numpy_reference():
    model = mutual.build("digits", 1.0, 10.0, seed=3)
    bound = mutual.categorical_information_bound(
        lambda codes: mutual.decoder_distributions(model, codes),
        mutual.inference_of_categories(model))
    # Reference: the inference network's Gaussians read off its raw outputs, the decoder's
    # softmax in NumPy, and the trapezoid rule on another grid.
    means, log_variances = (np.asarray(part, np.float64)[:, 0] for part in
                            model.inference_network(np.eye(10, dtype=np.float32)))
    log_variances = np.clip(log_variances, *LOG_VARIANCE_RANGE)
    z = np.linspace(-9.0, 9.0, 30_001)
    logits = np.asarray(model.decoder(z[:, None].astype(np.float32)), np.float64)
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    log_r = (-0.5 * (z[:, None] - means) ** 2 / np.exp(log_variances)
             - 0.5 * log_variances - 0.5 * math.log(2 * math.pi))
    prior = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    reference = 0.5 * math.log(2 * math.pi * math.e) + np.trapezoid(
        prior * np.sum(probabilities * log_r, axis=1), z)
    assert bound == pytest.approx(reference, abs=1e-4)
    assert bound <= mutual.categorical_information(
        lambda codes: mutual.decoder_distributions(model, codes)) + 1e-9


def _expected_absolute_value(location, scale):
    """``E|location + scale e|`` for ``e ~ N(0, 1)``."""
    return (scale * math.sqrt(2 / math.pi) * math.exp(-0.5 * (location / scale) ** 2)
            + location * math.erf(location / (scale * math.sqrt(2))))


@pytest.mark.parametrize("ratio, variance", [(5.0, 1.0), (5.0, 2.5), (8.0, 0.5)])
def test_best_decoder_elbo_of_two_points_equals_its_closed_form(ratio, variance):
    # ELBO = -log(2 pi e)/2 + E log cosh(r^2 + r e) - KL, and log cosh(y) = |y| - log 2 up to
    # log(1 + exp(-2|y|)), whose mean is below 1e-6 for r >= 5.
    mean, width = proposition1.symmetric_posteriors(ratio, variance)
    assert mean / width == pytest.approx(ratio) and mean**2 + width**2 == pytest.approx(variance)
    kl = 0.5 * (mean**2 + width**2 - 1 - math.log(width**2))
    expected = (-0.5 * math.log(2 * math.pi * math.e)
                + _expected_absolute_value(ratio**2, ratio) - math.log(2) - kl)
    assert proposition1.best_decoder_elbo(mean, width) == pytest.approx(expected, abs=1e-6)
    # At every ratio the best Var q(z) is 1; a floor caps the ELBO at -log(floor) - log(2 pi)/2.
    assert proposition1.best_decoder_elbo(*proposition1.symmetric_posteriors(ratio, 1.0)) > max(
        proposition1.best_decoder_elbo(*proposition1.symmetric_posteriors(ratio, 1.0 + step))
        for step in (-0.01, 0.01))
    for floor in (1e-6, 0.005):
        assert proposition1.best_decoder_elbo(mean, width, floor) < min(
            proposition1.floor_bound(floor), expected)


def test_the_elbo_of_a_float64_model_with_the_best_decoder_is_the_closed_form():
    import keras

    mean, width = proposition1.symmetric_posteriors(2.0)
    with proposition1.float64_models():
        # q(z|x) = N(mean x, width^2); the decoder gives tanh(y) and the softplus preimage of
        # sech(y), y = mean z / width^2: the best decoder, with no floor on its std.
        images = keras.Input((1,))
        encoder = keras.Model(images, keras.layers.Concatenate()([
            keras.layers.Lambda(lambda x: mean * x)(images),
            keras.layers.Lambda(lambda x: 0 * x + 2 * math.log(width))(images)]))
        codes = keras.Input((1,))
        y = keras.layers.Lambda(lambda z: mean * z / width**2)(codes)
        decoder = keras.Model(codes, keras.layers.Concatenate()([
            keras.layers.Lambda(keras.ops.tanh)(y),
            keras.layers.Lambda(lambda y: keras.ops.log(keras.ops.expm1(
                1 / keras.ops.cosh(y))))(y)]))
        likelihood = proposition1.likelihoods.Gaussian(bounded=False, min_std=0.0)
        model = proposition1.registry.get("elbo").build(
            1, image_shape=(1,), encoder=encoder, decoder=decoder, likelihood=likelihood)
    assert model.compute_dtype == "float64"
    assert proposition1.model_elbo(model) == pytest.approx(
        proposition1.best_decoder_elbo(mean, width), abs=1e-6)
    # The floor is part of the likelihood's configuration.
    restored = proposition1.likelihoods.get(proposition1.likelihoods.serialize(likelihood))
    assert restored.min_std == 0.0 and restored == likelihood


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


def _sigmoid_cross_entropy(labels, logits):
    """tf.nn.sigmoid_cross_entropy_with_logits in float64."""
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


def _blog_normal_loglik(sample, mean, log_variance):
    """The blog's normal_loglik (reduce_axis = 2 in R: the latent axis)."""
    return -np.sum(0.5 * (np.log(2 * np.pi) + log_variance
                          + np.exp(-log_variance) * (sample - mean) ** 2), axis=1)


def test_blog_elbo_is_the_blog_loss_divided_by_the_batch_size():
    model, optimizer = blog.build("elbo", seed=0)
    images = np.random.default_rng(0).uniform(size=(blog.BATCH_SIZE, 28, 28, 1)).astype("float32")
    state = model.seed_generator.state.numpy()
    terms = model.compute_terms(images)
    model.seed_generator.state.assign(state)  # the same draw of z again
    z, z_mean, z_log_var = model.posterior(images)
    logits = np.asarray(model.decoder(z), np.float64)
    z, z_mean, z_log_var = (np.asarray(value, np.float64) for value in (z, z_mean, z_log_var))
    x = images.astype(np.float64)
    # eager_cvae.R: logpx_z <- -k_sum(crossentropy_loss), no axis: summed over the batch.
    logpx_z = -np.sum(_sigmoid_cross_entropy(x, logits))
    logpz = _blog_normal_loglik(z, 0.0, 0.0)
    logqz_x = _blog_normal_loglik(z, z_mean, z_log_var)
    blog_loss = -np.mean(logpx_z + logpz - logqz_x)
    # mmdvae's KL is the closed form of the blog's one-sample log q(z|x) - log p(z).
    closed_form = np.mean(0.5 * np.sum(z_mean**2 + np.exp(z_log_var) - z_log_var - 1, axis=1))
    one_sample = np.mean(logqz_x - logpz)
    assert blog.BATCH_SIZE * float(terms["loss"]) == pytest.approx(
        blog_loss - one_sample + closed_form, rel=1e-5)
    assert blog.BATCH_SIZE * float(terms["reconstruction_loss"]) == pytest.approx(
        -logpx_z, rel=1e-5)
    # The closed form is the one-sample estimate's expectation (200,000 draws per code).
    rows = np.random.default_rng(1).choice(blog.BATCH_SIZE, 4, replace=False)
    noise = np.random.default_rng(2).standard_normal((200_000, 2))
    for row in rows:
        draws = z_mean[row] + np.exp(0.5 * z_log_var[row]) * noise
        estimates = (_blog_normal_loglik(draws, z_mean[row], z_log_var[row])
                     - _blog_normal_loglik(draws, 0.0, 0.0))
        kl = 0.5 * np.sum(z_mean[row] ** 2 + np.exp(z_log_var[row]) - z_log_var[row] - 1)
        assert np.mean(estimates) == pytest.approx(
            kl, abs=4 * np.std(estimates) / np.sqrt(len(estimates)) + 1e-9)
    # The loss is the blog's over 100; so is Adam's epsilon, which makes the updates the blog's.
    assert optimizer.epsilon == pytest.approx(1e-8 / blog.BATCH_SIZE)
    assert float(optimizer.learning_rate) == pytest.approx(1e-4)


def test_blog_mmd_vae_loss_is_the_blog_loss():
    model, optimizer = blog.build("mmd", seed=0)
    images = np.random.default_rng(0).uniform(size=(blog.BATCH_SIZE, 28, 28, 1)).astype("float32")
    state = model.seed_generator.state.numpy()
    terms = model.compute_terms(images)
    model.seed_generator.state.assign(state)  # the same prior draws again
    true_samples = np.asarray(model.prior_samples(blog.BATCH_SIZE), np.float64)
    codes = np.asarray(model.encoder(images), np.float64)
    predictions = np.asarray(model.decode(codes.astype("float32")), np.float64)

    def compute_kernel(x, y):  # mmd_cvae.R
        dim = x.shape[1]
        return np.exp(-np.mean((x[:, None, :] - y[None, :, :]) ** 2, axis=2) / dim)

    loss_mmd = (np.mean(compute_kernel(true_samples, true_samples))
                + np.mean(compute_kernel(codes, codes))
                - 2 * np.mean(compute_kernel(true_samples, codes)))
    loss_nll = np.mean((images.astype(np.float64) - predictions) ** 2)
    assert float(terms["mmd"]) == pytest.approx(loss_mmd, rel=1e-5)
    assert float(terms["loss"]) == pytest.approx(loss_nll + loss_mmd, rel=1e-5)
    assert optimizer.epsilon == pytest.approx(1e-8)
    assert float(optimizer.learning_rate) == pytest.approx(1e-4)


def test_unit_variance_logistic_prior_has_the_normal_variance_and_less_entropy():
    latent_dim, scale = 3, math.sqrt(3.0) / math.pi
    prior = priors.get_prior("logistic_unit_variance", latent_dim)
    # Closed forms in float64: Var = pi^2 s^2 / 3 = 1, H = log s + 2 per dimension.
    entropy = latent_dim * (math.log(scale) + 2.0)
    assert float(prior.entropy()) == pytest.approx(entropy, rel=1e-6)
    np.testing.assert_allclose(prior.variance().numpy(), 1.0, rtol=1e-6)
    assert math.pi**2 * scale**2 / 3 == pytest.approx(1.0, rel=1e-15)
    points = np.array([[-3.0, 0.0, 0.7], [1.5, -0.2, 4.0]])
    np.testing.assert_allclose(prior.log_prob(points.astype("float32")).numpy(),
                               scipy.stats.logistic(scale=scale).logpdf(points).sum(axis=1),
                               rtol=1e-5)
    normal_entropy = 0.5 * math.log(2 * math.pi * math.e)
    assert math.log(scale) + 2.0 == pytest.approx(1.4046, abs=1e-4)
    assert math.log(scale) + 2.0 < normal_entropy == pytest.approx(1.4189, abs=1e-4)
    assert 2.0 > normal_entropy  # the standard logistic's: larger, hence the new prior
    model = vimae.build("vimae_l", "mlp", seed=0)
    assert model.capacity == pytest.approx(vimae.LATENT_DIM * (math.log(scale) + 2.0), rel=1e-6)


def test_a_model_on_the_unit_variance_logistic_prior_saves_and_loads(tmp_path):
    model = mmdvae.VIMAE(latent_dim=3, image_shape=(8, 8, 1), network="mlp",
                         prior="logistic_unit_variance", seed=0)
    restored = mmdvae.VIMAE.from_config(model.get_config())
    assert restored.prior_name == "logistic_unit_variance"
    assert float(restored.prior.entropy()) == pytest.approx(float(model.prior.entropy()))
    images = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.prior_name == "logistic_unit_variance"
    np.testing.assert_allclose(loaded.encode(images), model.encode(images), rtol=1e-6)
    np.testing.assert_allclose(loaded.prior.variance().numpy(), 1.0, rtol=1e-6)


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
        reproduce_command.run(parse(*arguments))
    assert str(stop.value).startswith("error: ") and "nowhere" in str(stop.value)
    assert "\n" not in str(stop.value) and not (tmp_path / "run").exists()


def test_report_cells_escape_table_bars():
    lines = report.markdown_table(["a|b", "n"], [["x | y", 0.123456], [True, 3]])
    assert lines == ["| a\\|b | n |", "|---|---|", "| x \\| y | 0.1235 |", "| yes | 3 |"]


# === Quick runs: the direction of each claim the quick size can decide ===


def test_proposition1_quick(quick_runs):
    outcome = quick_runs("proposition1")
    results = check_written(outcome)["results"]
    found = verdicts(outcome, proposition1)
    # Only the exact computation is decided at the quick size, the same on every CPU.
    assert found["unbounded"].decided and found["unbounded"].held
    assert not any(found[key].decided for key in ("elbo_grows", "poor_inference", "infovae"))
    rows = results["exact"]["rows"]
    assert [row["ratio"] for row in rows] == list(proposition1.RATIOS)
    largest = rows[-1]["ratio"]
    assert rows[-1]["elbo"]["0"] == pytest.approx(
        largest**2 - math.log(2) - 0.5 * math.log(2 * math.pi * math.e)
        - 0.5 * math.log(1 + largest**2), abs=1e-6)
    assert max(row["elbo"]["0.005"] for row in rows) < proposition1.floor_bound(0.005)
    by_variance = results["exact"]["elbo_at_ratio_20_by_variance"]
    assert by_variance["1"] > max(by_variance["0.25"], by_variance["4"])
    # Whatever the training did: I_q in [0, log 2], KL >= 0, the ELBO below the floor's bound.
    assert set(results["models"]) == {"elbo_seed0", "infovae_lambda100_seed0"}
    for late in results["models"].values():
        assert -1e-9 <= late["information"] <= math.log(2) + 1e-9
        assert late["prior_divergence"] >= -1e-9 and late["variance"] > 0
        assert late["elbo"] < proposition1.floor_bound(proposition1.TRAINING_MIN_STD)


def test_mutual_quick(quick_runs):
    outcome = quick_runs("mutual")
    results = check_written(outcome)["results"]
    # One seed decides nothing; what holds on every CPU: the exact bound is below the exact
    # information, and the normal toy's estimate comes with its standard error.
    assert not any(verdict.decided for verdict in outcome.verdicts)
    for label in ("vae", "mae_1"):
        digits = results[f"digits/{label}"]["per_seed"]["0"]
        assert digits["information_bound"] <= digits["information"] + 1e-9
        assert 0 <= digits["information"] <= math.log(10)
        assert math.isfinite(digits["relaxed_information_bound"])
        normal = results[f"normal/{label}"]["per_seed"]["0"]
        assert 0 < normal["information_error"] < 0.05
    training = check_written(outcome)["training"]
    assert training["digits_vae_seed0"]["digits_vae_seed0"]["steps"] == 300


def test_tutorial_quick(quick_runs, data_dir):
    outcome = quick_runs("tutorial")
    results = check_written(outcome)["results"]
    fast, samples, clusters, bandwidth, weight = outcome.verdicts
    # One seed decides nothing; 20 iterations halve the error on every CPU.
    assert fast.held and not fast.decided and fast.seeds == 1
    assert not any(verdict.decided for verdict in outcome.verdicts)
    z20 = results["z20"]["0"]
    assert z20["final_squared_error"] < 0.5 * z20["untrained_squared_error"]
    training = check_written(outcome)["training"]
    assert training["z20_seed0"]["z20"]["steps"] == 20
    assert training["z20_seed0"]["z20"]["fraction_of_source_training"] == pytest.approx(0.002)
    labels = data.load_arrays("mnist", "test", data_dir=data_dir, with_labels=True,
                              train_size=experiments.sizes("tutorial", quick=True)[
                                  "test_images"])[1]
    frequencies = np.bincount(labels) / len(labels)
    assert z20["real_entropy"] == pytest.approx(
        -np.sum(frequencies * np.log(frequencies)))


@pytest.mark.parametrize("name", ["blog", "pixelcnn"])
def test_quick_runs_too_small_to_decide_say_so(quick_runs, name):
    outcome = quick_runs(name)
    check_written(outcome)
    assert outcome.verdicts and not any(verdict.decided for verdict in outcome.verdicts)
    assert "A quick run" in outcome.report
    numbers = [value for value in _flat_numbers(outcome.results)]
    assert numbers and all(math.isfinite(value) for value in numbers)


def test_mnist500_overfitting_rule_stops_once_the_held_out_loss_has_risen_above_its_best():
    rule = mnist500.OverfittingRule("held_out_loss", rise=0.25, min_steps=300)
    steps = [0, 100, 200, 300, 400, 500, 600]
    losses = [540.0, 160.0, 210.0, 190.0, 199.9, 200.0, 250.0]
    stops = [rule.converged(steps[:count], losses[:count]) for count in range(1, 8)]
    # 200 = 1.25 * 160 is the first loss 25 % above the best from step 300 on; the rise
    # at step 200 comes before min_steps.
    assert stops == [False, False, False, False, False, True, True]
    early = mnist500.OverfittingRule("held_out_loss", rise=0.25, min_steps=1)
    assert early.converged([0, 100], [100.0, 125.0])
    assert not early.converged([0, 100], [100.0, 124.99])


def test_mnist500_sizes_out_of_order_are_refused(tmp_path, data_dir):
    with pytest.raises(runner.ExperimentError, match=r"record_every <= min_steps <= max_steps"):
        experiments.run("mnist500", tmp_path / "run", quick=True, data_dir=data_dir, verbose=0,
                        sizes={"min_steps": 50, "max_steps": 40})


def test_mnist500_quick(quick_runs, data_dir):
    outcome = quick_runs("mnist500")
    written = check_written(outcome)
    results, sizes = written["results"], outcome.settings["sizes"]
    assert len(outcome.verdicts) == 6 and not any(verdict.decided for verdict in outcome.verdicts)
    assert "A quick run" in outcome.report
    numbers = list(_flat_numbers(results))
    assert numbers and all(math.isfinite(value) for value in numbers)
    # The InfoVAE and the MMD-VAE train exactly as long as the ELBO-VAE of their seed,
    # which stops by the overfitting rule or at max_steps.
    training = {name: written["training"][f"{name}_seed0"][name] for name in mnist500.MODELS}
    steps = training["elbo"]["steps"]
    assert all(record["steps"] == steps for record in training.values())
    assert sizes["min_steps"] <= steps <= sizes["max_steps"]
    assert steps % sizes["record_every"] == 0
    curves = json.loads((outcome.directory / "phases" / "elbo_seed0.json").read_text())[
        "training"]["elbo"]["curves"]
    rule = mnist500.OverfittingRule("held_out_loss", min_steps=sizes["min_steps"])
    stops = [rule.converged(curves["step"][:count], curves["held_out_loss"][:count])
             for count in range(1, len(curves["step"]) + 1)]
    assert not any(stops[:-1]) and curves["step"][-1] == steps
    assert stops[-1] == (training["elbo"]["stopped_by"] == "convergence")
    for name in mnist500.MODELS:
        record = results[f"{name}_seed0"]
        curves = json.loads((outcome.directory / "phases" / f"{name}_seed0.json").read_text())[
            "training"][name]["curves"]
        # An untrained decoder's 784 * ln 2 = 543 nats fall below 70 % within the steps.
        assert curves["train_reconstruction_loss"][0] == pytest.approx(784 * math.log(2),
                                                                       rel=0.05)
        assert record["train_reconstruction_loss"] < 0.7 * curves["train_reconstruction_loss"][0]
        assert record["frechet_gap"] == pytest.approx(
            math.log(record["sample_frechet"] / record["reconstruction_frechet"]))
        if name == "mmd":
            assert record["information"] is None
        else:
            assert record["information"] <= math.log(sizes["train_images"]) + 1e-9
    # Each verdict's margin, recomputed from the numbers written.
    elbo = results["elbo_seed0"]
    for verdict in outcome.verdicts:
        key, name = next(key for key, claim in mnist500.CLAIMS.items()
                         if claim is verdict.claim)
        model = results[f"{name}_seed0"]
        expected = {
            "match": min(math.log(elbo["mmd"] / model["mmd"]),
                         math.log(abs(elbo["log_det_covariance"])
                                  / abs(model["log_det_covariance"]))),
            "samples": math.log(elbo["sample_frechet"] / model["sample_frechet"]),
            "consistent": elbo["frechet_gap"] - model["frechet_gap"],
        }[key]
        assert verdict.margins == pytest.approx((expected,))
    labels = data.load_arrays("mnist", "test", data_dir=data_dir, with_labels=True,
                              train_size=sizes["test_images"])[1]
    frequencies = np.bincount(labels) / len(labels)
    assert elbo["real_entropy"] == pytest.approx(-np.sum(frequencies * np.log(frequencies)))


def test_vimae_quick(quick_runs):
    outcome = quick_runs("vimae")
    written = check_written(outcome)
    capacity, *measured = outcome.verdicts
    # Exact: the unit-variance logistic has less entropy than the normal.
    assert capacity.claim is vimae.CAPACITY_CLAIM and capacity.decided and capacity.held
    assert measured and not any(verdict.decided for verdict in measured)
    results = written["results"]
    scale = math.sqrt(3.0) / math.pi
    assert results["mnist/vimae_l"]["capacity"] == pytest.approx(
        vimae.LATENT_DIM * (math.log(scale) + 2.0), rel=1e-6)
    assert results["mnist/vimae_n"]["capacity"] == pytest.approx(
        vimae.LATENT_DIM * 0.5 * math.log(2 * math.pi * math.e), rel=1e-6)
    training = written["training"]["mnist_vimae_l_seed0"]["VIMAE-l"]
    assert training["steps"] == 10 and training["source_steps"] == 60_000
    assert set(results) == {f"mnist/{name}" for name in vimae.MODELS}


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

    def interrupted(run, phase, lambda_):
        if phase.startswith("infovae"):
            raise KeyboardInterrupt
        return train(run, phase, lambda_)

    monkeypatch.setattr(proposition1, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        experiments.run("proposition1", tmp_path, quick=True, sizes=sizes, verbose=0)
    finished = (tmp_path / "phases" / "elbo_seed0.json").read_bytes()
    assert not (tmp_path / "results.json").exists()
    with pytest.raises(runner.ExperimentError, match="is not empty"):
        experiments.run("proposition1", tmp_path, quick=True, sizes=sizes, verbose=0)

    def counted(run, phase, lambda_):
        calls.append(phase)
        return train(run, phase, lambda_)

    monkeypatch.setattr(proposition1, "train", counted)
    outcome = experiments.run("proposition1", tmp_path, quick=True, sizes=sizes, resume=True,
                              verbose=0)
    assert calls == ["infovae_lambda100_seed0"]
    assert (tmp_path / "phases" / "elbo_seed0.json").read_bytes() == finished
    assert outcome.results["models"]["elbo_seed0"] == json.loads(finished)["late"]
    assert (tmp_path / "results.json").exists()


# === The command line ===


def parse(*arguments):
    return cli.build_parser(["reproduce"]).parse_args(["reproduce", *arguments])


def test_reproduce_some_phases_leaves_the_others_and_the_report(tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        reproduce_command.run(parse("mutual", "--quick", "--out", str(out), "--phases", "zz*"))
    assert str(stop.value).startswith("error: --phases zz* matches no phase of mutual (zz* "
                                      "matched nothing); its phases")
    assert str(stop.value).endswith(": digits_vae_seed0, digits_mae_1_seed0, normal_vae_seed0, "
                                    "normal_mae_1_seed0")
    assert "\n" not in str(stop.value)
    capsys.readouterr()
    assert reproduce_command.run(parse("mutual", "--quick", "--out", str(out), "--resume",
                                       "--phases", "normal_*")) == 0
    left = [path.stem for path in (out / "phases").glob("*.json")]
    assert left and all(name.startswith("normal_") for name in left)
    assert not (out / "report.md").exists() and not (out / "results.json").exists()
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"mutual: {len(left)} phase(s) left for other runs; the report is written by a run "
        "(with --resume) that finds every phase finished")


def test_list_shows_every_experiment_with_its_claim_and_times(capsys):
    assert reproduce_command.run(parse("--list")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(experiments.EXPERIMENTS)
    for line, experiment in zip(lines, experiments.EXPERIMENTS.values(), strict=True):
        assert f"source ~{experiment.minutes['source']:g} min" in line
        assert f"short ~{experiment.minutes['short']:g} min" in line and experiment.claim in line


@pytest.mark.parametrize("arguments, message", [
    ((), "error: reproduce needs an experiment NAME"),
    (("nonsense", "--out", "x"), "error: unknown experiment 'nonsense'"),
    (("blog",), "error: reproduce blog needs --out DIR"),
])
def test_command_line_mistakes_get_one_error_line(arguments, message):
    with pytest.raises(SystemExit) as stop:
        reproduce_command.run(parse(*arguments))
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
            reproduce_command.run(parse("proposition1", "--out", str(finished), *arguments))
        assert str(stop.value).startswith("error: ") and message in str(stop.value)
    # A finished run resumed: nothing to do, nothing written.
    assert reproduce_command.run(parse("proposition1", "--out", str(finished), "--quick",
                                       "--resume")) == 0
    assert "nothing left to run" in capsys.readouterr().out
    assert before == {path: path.read_bytes() for path in finished.rglob("*") if path.is_file()}

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit, match=r"^error: --out .*other is not empty"):
        reproduce_command.run(parse("mutual", "--out", str(tmp_path / "other"), "--quick"))
    with pytest.raises(SystemExit, match=r"^error: --resume needs an interrupted run"):
        reproduce_command.run(parse("mutual", "--out", str(tmp_path / "empty"), "--resume"))
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_command_line_resumes_a_killed_run(tmp_path, quick_runs, capsys):
    original = quick_runs("proposition1")
    killed = tmp_path / "killed"
    shutil.copytree(original.directory, killed)
    # As if killed while the second phase ran: its results and the run's summary missing.
    for path in [killed / "results.json", killed / "report.md",
                 *(killed / "phases").glob("infovae_*")]:
        path.unlink()
    elbo = (killed / "phases" / "elbo_seed0.json").read_bytes()
    assert reproduce_command.run(parse("proposition1", "--out", str(killed), "--quick",
                                       "--resume")) == 0
    output = capsys.readouterr().out
    assert ("phase elbo_seed0: finished earlier" in output
            and "phase infovae_lambda100_seed0: running" in output)
    assert (killed / "phases" / "elbo_seed0.json").read_bytes() == elbo
    resumed = json.loads((killed / "results.json").read_text())["results"]["models"]
    assert resumed["elbo_seed0"] == original.results["models"]["elbo_seed0"]
    # The phase seeds do not depend on the phases before: the rerun phase repeats itself.
    assert resumed["infovae_lambda100_seed0"]["variance"] == pytest.approx(
        original.results["models"]["infovae_lambda100_seed0"]["variance"], rel=1e-4)


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


def test_pixelcnn_steps_to_settle_is_the_first_record_within_tolerance_of_the_last():
    from mmdvae.experiments import pixelcnn

    steps = [0, 100, 200, 300, 400]
    # Within 10 % of the last value (1.0) from step 200 on; step 100 is outside (1.2).
    assert pixelcnn.steps_to_settle(steps, [5.0, 1.2, 1.05, 0.95, 1.0]) == 200
    # A value that wanders back out after settling moves the answer later.
    assert pixelcnn.steps_to_settle(steps, [5.0, 1.0, 1.5, 1.0, 1.0]) == 300
    # Tiny values: the scale floor is 1e-3 of the largest magnitude.
    assert pixelcnn.steps_to_settle(steps, [1.0, 0.5, 1e-5, -1e-5, 0.0]) == 200


def test_pixelcnn_likelihood_note_says_whether_the_bound_could_turn_the_verdict():
    from mmdvae.experiments import pixelcnn

    def note(mmd_log_likelihood, mmd_information):
        table = {("elbo", 0): -80.0, ("elbo", 1): -81.0, ("aae", 0): -95.0, ("aae", 1): -90.0,
                 ("mmd", 0): -85.0, ("mmd", 1): mmd_log_likelihood}

        def value(name, latent_dim, seed, key):
            assert latent_dim == 5
            return mmd_information[seed] if key == "mutual_information" else table[name, seed]
        return pixelcnn._likelihood_bound_note(value, 5, (0, 1), ("aae", "mmd"))

    settled = "so more samples would not turn this verdict."
    # Margins: log p(x) - the ELBO's + 2 nats, per seed.
    text = note(-84.0, [0.0, -0.001])
    assert "AAE -13.00/-7.00; MMD-VAE -3.00/-1.00" in text and "I_q = 0.00/0.00" in text
    assert text.endswith(settled)
    # A positive margin on one seed, or a code in use, leaves the verdict open.
    assert "MMD-VAE -3.00/+0.50" in note(-82.5, [0.0, 0.0])
    assert not note(-82.5, [0.0, 0.0]).endswith(settled)
    assert note(-84.0, [0.0, 0.3]).endswith("So more samples could turn this verdict.")


def test_tutorial_sweep_margins_by_hand():
    from mmdvae.experiments import tutorial

    sweeps = {("bandwidth", 1.0, 0): {"final_squared_error": 0.010, "final_mmd": 0.002},
              ("bandwidth", 4.0, 0): {"final_squared_error": 0.012, "final_mmd": -0.0005},
              ("bandwidth", 0.25, 0): {"final_squared_error": 0.009, "final_mmd": 0.008},
              ("lambda", 1000.0, 0): {"final_squared_error": 0.020, "final_mmd": 0.001}}
    # Bandwidth 4: error ratio 1.2, MMD below the floor counts as 1e-3 (ratio 0.5);
    # bandwidth 1/4: error ratio 0.9, MMD ratio 4 > 3: the worst margin is log 3 - log 4.
    margins = tutorial._log_ratio_margins(sweeps, "bandwidth", (4.0, 0.25), [0])
    assert margins == [pytest.approx(np.log(3.0) - np.log(4.0))]
    expected = min(np.log(1.5) - np.log(1.2), np.log(3.0) - np.log(0.5))
    assert tutorial._log_ratio_margins(sweeps, "bandwidth", (4.0,), [0]) == [
        pytest.approx(expected)]
    # The weight: error twice the lambda = 1 model's, above the factor 1.5.
    assert tutorial._log_ratio_margins(sweeps, "lambda", (1000.0,), [0]) == [
        pytest.approx(np.log(1.5) - np.log(2.0))]
