"""The evaluation measures against analytic values and float64 references."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import mmdvae
from mmdvae import cli, evaluation, kernels

# === A model whose marginal likelihood is known ===


def linear_gaussian_model(loading, noise_std, mean_scale=0.9, variance_scale=1.5):
    """An ELBOVAE with ``z ~ N(0, I)``, ``x | z ~ N(W z, s^2 I)``: ``p(x) = N(0, W W^T + s^2 I)``.

    Its linear networks replace the MLP ones. The decoder gives the unbounded
    Gaussian likelihood its mean ``W z`` and a constant std parameter ``c`` with
    ``0.005 + softplus(c) = s``. The linear Gaussian encoder is a deliberately
    imperfect proposal: the exact posterior mean shrunk by ``mean_scale`` and the
    exact marginal variances inflated by ``variance_scale``.
    """
    data_dim, latent_dim = loading.shape
    model = mmdvae.ELBOVAE(latent_dim, image_shape=(data_dim,), network="mlp",
                           likelihood="unbounded_gaussian", seed=0)
    precision = np.eye(latent_dim) + loading.T @ loading / noise_std**2
    covariance = np.linalg.inv(precision)
    mean_matrix = mean_scale * covariance @ loading.T / noise_std**2
    images = keras.Input((data_dim,))
    mean_layer = keras.layers.Dense(latent_dim, use_bias=False)
    log_var_layer = keras.layers.Dense(latent_dim)
    model.encoder = keras.Model(images, [mean_layer(images), log_var_layer(images)])
    mean_layer.set_weights([mean_matrix.T])
    log_var_layer.set_weights([np.zeros((data_dim, latent_dim)),
                               np.log(variance_scale * np.diag(covariance))])
    codes = keras.Input((latent_dim,))
    output_layer = keras.layers.Dense(2 * data_dim)
    model.decoder = keras.Model(codes, output_layer(codes))
    std_parameter = math.log(math.expm1(noise_std - 0.005))
    output_layer.set_weights([
        np.concatenate([loading.T, np.zeros((latent_dim, data_dim))], axis=1),
        np.concatenate([np.zeros(data_dim), np.full(data_dim, std_parameter)]),
    ])
    return model


@pytest.fixture(scope="module")
def linear_gaussian():
    rng = np.random.default_rng(0)
    loading = rng.normal(size=(8, 3))
    noise_std = 0.7
    model = linear_gaussian_model(loading, noise_std)
    covariance = loading @ loading.T + noise_std**2 * np.eye(8)
    images = rng.multivariate_normal(np.zeros(8), covariance, size=20).astype(np.float32)
    exact = stats.multivariate_normal(np.zeros(8), covariance).logpdf(
        images.astype(np.float64))
    return model, images, exact


def test_log_likelihood_is_exact_for_a_linear_gaussian_model(linear_gaussian):
    model, images, exact = linear_gaussian
    errors, standard_errors = [], []
    for num_samples in (10, 100, 10_000):
        estimate = evaluation.log_likelihood(model, images, num_samples, seed=1)
        np.testing.assert_allclose(estimate.per_image, exact,
                                   atol=4 * estimate.per_image_standard_error.max())
        assert abs(estimate.mean - exact.mean()) < 3 * estimate.standard_error
        errors.append(abs(estimate.mean - exact.mean()))
        standard_errors.append(estimate.standard_error)
    # The standard error falls as 1 / sqrt(K), and the actual error with it.
    np.testing.assert_allclose(standard_errors[0] / standard_errors[2], 10**1.5, rtol=0.5)
    assert errors[2] < errors[0] / 5


def test_prior_proposal_agrees_but_is_noisier(linear_gaussian):
    model, images, exact = linear_gaussian
    prior = evaluation.log_likelihood(model, images, 20_000, "prior", seed=2)
    posterior = evaluation.log_likelihood(model, images, 20_000, seed=2)
    assert abs(prior.mean - exact.mean()) < 4 * prior.standard_error
    assert np.all(prior.per_image_standard_error > posterior.per_image_standard_error)


def _log_mean_exp(values):
    top = values.max(axis=-1, keepdims=True)
    return (top + np.log(np.mean(np.exp(values - top), axis=-1, keepdims=True)))[..., 0]


def test_log_likelihood_of_an_untrained_bernoulli_model_matches_numpy():
    # K draws per image, image after image, from one generator; weights in float64.
    model = mmdvae.ELBOVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0)
    images = np.random.default_rng(0).random((5, 4, 4, 1)).astype(np.float32)
    num_samples = 3
    z_mean, z_log_var = evaluation.posterior_parameters(model, images)
    noise = np.random.default_rng(5)
    log_weights = np.empty((5, num_samples))
    for index in range(5):
        z = z_mean[index] + np.exp(0.5 * z_log_var[index]) * noise.standard_normal(
            (num_samples, 2))
        logits = np.asarray(model.decoder(z.astype(np.float32)), np.float64).reshape(
            num_samples, -1)
        x = images[index].astype(np.float64).reshape(-1)
        log_decoder = np.sum(x * logits - np.logaddexp(0.0, logits), axis=1)
        log_prior = stats.norm.logpdf(z).sum(axis=1)
        log_proposal = stats.norm.logpdf(
            z, z_mean[index], np.exp(0.5 * z_log_var[index])).sum(axis=1)
        log_weights[index] = log_decoder + log_prior - log_proposal
    expected = _log_mean_exp(log_weights)
    # One decoder call for every pair, and calls that split images and samples.
    for batch_size in (10_000, 2):
        estimate = evaluation.log_likelihood(model, images, num_samples, seed=5,
                                             batch_size=batch_size)
        np.testing.assert_allclose(estimate.per_image, expected, rtol=1e-5)


def test_mse_model_log_likelihood_is_a_fixed_variance_gaussian():
    model = mmdvae.MMDVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0)
    images = np.random.default_rng(1).random((4, 4, 4, 1)).astype(np.float32)
    variance = 0.05
    samples = evaluation.prior_samples(model, 7, seed=3)
    means = 1.0 / (1.0 + np.exp(-np.asarray(
        model.decoder(samples.astype(np.float32)), np.float64).reshape(7, -1)))
    x = images.reshape(4, 1, -1).astype(np.float64)
    log_decoder = stats.norm.logpdf(x, means[np.newaxis], math.sqrt(variance)).sum(axis=2)
    estimate = evaluation.log_likelihood(model, images, 7, "prior", seed=3,
                                         mse_variance=variance, batch_size=5)
    np.testing.assert_allclose(estimate.per_image, _log_mean_exp(log_decoder), rtol=1e-5)
    outputs = model.decoder(samples[:4].astype(np.float32))
    np.testing.assert_allclose(
        evaluation.decoder_log_likelihood(model, images, outputs, variance),
        stats.norm.logpdf(x[:, 0], means[:4], math.sqrt(variance)).sum(axis=1), rtol=1e-5)


def test_reconstruction_error_against_numpy():
    model = mmdvae.ELBOVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0)
    images = np.random.default_rng(2).random((7, 4, 4, 1)).astype(np.float32)
    z_mean, _ = evaluation.posterior_parameters(model, images)
    logits = np.asarray(model.decoder(z_mean.astype(np.float32)), np.float64)
    x = images.astype(np.float64)
    result = evaluation.reconstruction_error(model, images, batch_size=3)
    assert result["mse_per_pixel"] == pytest.approx(
        np.mean(np.square(1.0 / (1.0 + np.exp(-logits)) - x)), rel=1e-5)
    assert result["reconstruction_loss"] == pytest.approx(
        np.mean(np.sum(np.logaddexp(0.0, logits) - x * logits, axis=(1, 2, 3))), rel=1e-5)


# === Full-data MMD ===


def _numpy_kernel(kernel, x, y, bandwidth=None):
    distances = np.sum(np.square(x[:, np.newaxis] - y[np.newaxis]), axis=2)
    if kernel == "tutorial":
        return np.exp(-distances / x.shape[1] ** 2)
    if kernel == "rbf":
        return np.exp(-distances / (2.0 * bandwidth**2))
    constants = 2.0 * x.shape[1] * np.array(kernels.INVERSE_MULTIQUADRIC_SCALES)
    return np.sum(constants / (constants + distances[..., np.newaxis]), axis=2)


def _numpy_mmd(kernel, x, y, unbiased, bandwidth=None):
    sums = []
    for first, second in ((x, x), (y, y)):
        matrix = _numpy_kernel(kernel, first, second, bandwidth)
        count = len(first)
        if unbiased:
            sums.append((matrix.sum() - np.trace(matrix)) / (count * (count - 1)))
        else:
            sums.append(matrix.sum() / count**2)
    cross = _numpy_kernel(kernel, x, y, bandwidth).mean()
    return sums[0] + sums[1] - 2.0 * cross


@pytest.mark.parametrize("kernel, bandwidth", [
    ("tutorial", None), ("rbf", 1.5), ("inverse_multiquadric", None)])
def test_compiled_full_data_mmd_equals_a_float64_numpy_reference(kernel, bandwidth):
    # Neither size is a multiple of the block size: the last blocks are padded.
    rng = np.random.default_rng(0)
    x, y = rng.normal(0.1, 1.1, size=(600, 6)), rng.normal(size=(450, 6))
    arguments = {} if bandwidth is None else {"bandwidth": bandwidth}
    for estimator in ("biased", "unbiased"):
        expected = _numpy_mmd(kernel, x, y, estimator == "unbiased", bandwidth)
        value = evaluation.full_data_mmd(x, y, kernel, estimator, block_size=256, **arguments)
        assert value == pytest.approx(expected, rel=1e-7)
        assert expected > 1e-4


def test_full_data_mmd_does_not_depend_on_the_block_size():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(70, 5)), rng.standard_t(4, size=(43, 5))
    for estimator in ("biased", "unbiased"):
        one_shot = float(kernels.compute_mmd(tf.constant(x), tf.constant(y), "rbf", estimator,
                                             bandwidth=2.0))
        for block_size in (7, 43, 200):
            assert evaluation.full_data_mmd(x, y, "rbf", estimator, block_size=block_size,
                                            bandwidth=2.0) == pytest.approx(one_shot, rel=1e-9)


def test_full_data_mmd_median_bandwidth_is_one_number_for_every_block():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 4)), rng.normal(0.3, 1.0, size=(200, 4))
    pooled = np.concatenate([x, y])
    distances = np.sqrt(np.sum(np.square(pooled[:, np.newaxis] - pooled), axis=2))
    median = np.median(distances[np.triu_indices(len(pooled), 1)])
    value = evaluation.full_data_mmd(x, y, "rbf", block_size=64, bandwidth="median")
    assert value == pytest.approx(_numpy_mmd("rbf", x, y, False, median), rel=1e-7)


# === Shape of q(z) and information ===


def test_log_det_covariance_of_normal_codes():
    rng = np.random.default_rng(0)
    assert abs(evaluation.log_det_covariance(rng.normal(size=(200_000, 5)))) < 0.01
    assert evaluation.log_det_covariance(
        rng.normal(scale=2.0, size=(200_000, 5))) == pytest.approx(math.log(4), abs=0.01)


def test_mutual_information_of_a_linear_gaussian_encoder():
    # x ~ N(0, I_2), q(z|x) = N(a x, s^2 I): I(x; z) = log(1 + a^2 / s^2) per dim / 2.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    z_log_var = np.full_like(x, math.log(0.5))
    estimate = evaluation.mutual_information(x, z_log_var, seed=1)
    assert estimate == pytest.approx(math.log(1 + 1 / 0.5), abs=0.05)
    assert evaluation.mutual_information(np.zeros_like(x), z_log_var) == pytest.approx(
        0.0, abs=1e-12)


def test_active_units_counts_varying_means():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(5000, 4)) * np.array([1.0, 0.3, 0.05, 0.0])
    assert evaluation.active_units(means) == 2


# === Latent classification ===


def test_latent_classifiers_separate_separable_codes_and_not_random_labels():
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=10.0, size=(10, 6))
    train_labels, test_labels = rng.integers(10, size=1000), rng.integers(10, size=3000)
    train_codes = centers[train_labels] + rng.normal(size=(1000, 6))
    test_codes = centers[test_labels] + rng.normal(size=(3000, 6))
    for classifier in evaluation.CLASSIFIERS:
        accuracy = evaluation.code_classification_accuracy(
            train_codes, train_labels, test_codes, test_labels, classifier)
        assert accuracy > 0.99
        # Labels drawn independently of the codes, for training and testing.
        chance = evaluation.code_classification_accuracy(
            train_codes, rng.integers(10, size=1000), test_codes,
            rng.integers(10, size=3000), classifier)
        assert abs(chance - 0.1) < 0.03


def test_latent_classification_accuracy_of_a_model():
    # Two classes of 8x8 images, dark and bright: any encoder separates them.
    rng = np.random.default_rng(0)
    labels = rng.integers(2, size=60)
    images = np.clip(0.2 + 0.6 * labels[:, None, None, None]
                     + 0.05 * rng.normal(size=(60, 8, 8, 1)), 0, 1).astype(np.float32)
    keras.utils.set_random_seed(0)  # the same initial weights whatever ran before
    model = mmdvae.ELBOVAE(2, image_shape=(8, 8, 1), network="mlp", seed=0)
    accuracy = evaluation.latent_classification_accuracy(
        model, images[:40], labels[:40], images[40:], labels[40:], num_labelled=20)
    assert accuracy >= 0.9


def test_corruptions():
    images = np.full((200, 10, 10, 1), 0.5, np.float32)
    masked = evaluation.corrupt(images, "mask", 0.3, seed=0)
    assert np.mean(masked == 0) == pytest.approx(0.3, abs=0.01)
    assert set(np.unique(masked)) == {0.0, 0.5}
    noisy = evaluation.corrupt(images, "gaussian", 0.2, seed=0)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert np.std(noisy - images) == pytest.approx(0.2, rel=0.05)
    clipped = evaluation.corrupt(images, "gaussian", 5.0, seed=0)
    assert np.mean((clipped == 0) | (clipped == 1)) > 0.8


# === Frechet distance and class cross-entropy ===


def test_frechet_distance_analytic():
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    variances_a, variances_b = np.array([1.0, 2.0, 0.5, 3.0]), np.array([4.0, 1.0, 1, 2])
    mean_a, mean_b = rng.normal(size=4), rng.normal(size=4)
    distance = evaluation.frechet_distance(
        mean_a, rotation @ np.diag(variances_a) @ rotation.T,
        mean_b, rotation @ np.diag(variances_b) @ rotation.T)
    expected = np.sum((mean_a - mean_b) ** 2) + np.sum(
        (np.sqrt(variances_a) - np.sqrt(variances_b)) ** 2)
    assert distance == pytest.approx(expected, rel=1e-8)
    # Covariances that do not commute: the trace term against scipy's sqrtm.
    from scipy import linalg

    factor_a, factor_b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    covariance_a, covariance_b = factor_a @ factor_a.T, factor_b @ factor_b.T
    expected = np.sum((mean_a - mean_b) ** 2) + np.trace(
        covariance_a + covariance_b - 2 * np.real(linalg.sqrtm(covariance_a @ covariance_b)))
    assert evaluation.frechet_distance(mean_a, covariance_a, mean_b, covariance_b) == (
        pytest.approx(expected, rel=1e-8))


def test_class_cross_entropy_analytic():
    labels = np.repeat(np.arange(4), 25)
    uniform = np.full((10, 4), 0.25)
    result = evaluation.class_cross_entropy(labels, uniform)
    assert result["cross_entropy"] == pytest.approx(math.log(4))
    assert result["real_entropy"] == pytest.approx(math.log(4))
    skewed = np.tile([0.7, 0.1, 0.1, 0.1], (10, 1))
    assert evaluation.class_cross_entropy(labels, skewed)["cross_entropy"] == (
        pytest.approx(-(math.log(0.7) + 3 * math.log(0.1)) / 4))


def test_generate_decodes_prior_samples_in_batches():
    model = mmdvae.ELBOVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0)
    images = evaluation.generate(model, 5, seed=4, batch_size=2)
    z = evaluation.prior_samples(model, 5, seed=4)
    logits = np.asarray(model.decoder(z.astype(np.float32)), np.float64)
    np.testing.assert_allclose(images, 1.0 / (1.0 + np.exp(-logits)), rtol=1e-6)


@pytest.fixture(scope="module")
def classifier_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("classifier_cache")


def test_image_classifier_is_cached_and_scores_real_images(classifier_cache, data_dir):
    classifier, info = evaluation.train_image_classifier(
        "mnist", data_dir=data_dir, cache_dir=classifier_cache, epochs=2, train_size=4000)
    assert info["test_accuracy"] > 0.9
    assert sorted(path.name for path in classifier_cache.iterdir()) == [
        "mnist_classifier_e2_n4000_s0.json", "mnist_classifier_e2_n4000_s0.keras"]
    again, again_info = evaluation.train_image_classifier(
        "mnist", data_dir=data_dir, cache_dir=classifier_cache, epochs=2, train_size=4000)
    assert again_info == info and again is not classifier
    images, labels = mmdvae.data.load_arrays("mnist", "test", data_dir=data_dir,
                                             with_labels=True)
    features, probabilities = evaluation.classifier_outputs(classifier, images[:2000])
    _, probabilities_again = evaluation.classifier_outputs(again, images[:2000])
    np.testing.assert_allclose(probabilities, probabilities_again, atol=1e-6)
    # Real images against real images: cross-entropy near the label entropy and a
    # Frechet distance far below that of noise images.
    result = evaluation.class_cross_entropy(labels[:2000], probabilities)
    assert result["cross_entropy"] - result["real_entropy"] < 0.05
    same = evaluation.classifier_frechet_distance(features[:1000], features[1000:])
    noise = np.random.default_rng(0).random((1000, 28, 28, 1)).astype(np.float32)
    noise_features, _ = evaluation.classifier_outputs(classifier, noise)
    different = evaluation.classifier_frechet_distance(features[:1000], noise_features)
    assert different > 20 * same


# === Command line ===


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, data_dir):
    """Two small models trained for one epoch on 1000 MNIST images."""
    train_images = mmdvae.data.load_arrays("mnist", "train", data_dir=data_dir,
                                           train_size=1000)
    runs = {}
    for name, model in (
        ("elbo", mmdvae.ELBOVAE(2, network="mlp", seed=0)),
        ("mmd", mmdvae.MMDVAE(2, network="mlp", seed=0)),
    ):
        model.compile(jit_compile=False)
        model.fit(train_images, epochs=1, batch_size=100, verbose=0)
        directory = tmp_path_factory.mktemp(name)
        model.save(directory / "model.keras")
        runs[name] = directory
    return runs


def test_cli_evaluate_and_compare(trained_runs, classifier_cache, data_dir, tmp_path,
                                  capsys):
    elbo = trained_runs["elbo"]
    common = ["--dataset", "mnist", "--data-dir", str(data_dir), "--test-size", "1000",
              "--log-likelihood-images", "5", "--importance-samples", "50",
              "--prior-samples", "500", "--num-labelled", "100",
              "--cache-dir", str(classifier_cache), "--classifier-train-size", "4000",
              "--classifier-epochs", "2", "--num-generated", "500"]
    assert cli.main(["evaluate", str(elbo), *common, "--out",
                     str(elbo / "evaluation.json")]) == 0
    table = capsys.readouterr().out
    results = json.loads((elbo / "evaluation.json").read_text())
    assert set(results["metrics"]) >= set(evaluation.METRICS)
    assert results["metrics"]["skipped"] == {}
    assert "log_likelihood.mean" in table and "latent_accuracy.100" in table
    metrics = results["metrics"]
    assert metrics["log_likelihood_compute_ratio"] == pytest.approx(
        500 * (metrics["prior_log_likelihood"]["per_image_standard_error_rms"]
               / metrics["log_likelihood"]["per_image_standard_error_rms"]) ** 2 / 50)

    # The file's numbers are the library's on the same images.
    model = keras.saving.load_model(elbo / "model.keras")
    test_images = mmdvae.data.load_arrays("mnist", "test", data_dir=data_dir)[:1000]
    z_mean, _ = evaluation.posterior_parameters(model, test_images)
    assert results["metrics"]["active_units"] == evaluation.active_units(z_mean)
    estimate = evaluation.log_likelihood(model, test_images[:5], 50, seed=0)
    assert results["metrics"]["log_likelihood"]["mean"] == pytest.approx(estimate.mean)

    mmd = trained_runs["mmd"]
    with pytest.raises(SystemExit, match="log_likelihood needs a Gaussian encoder"):
        cli.main(["evaluate", str(mmd), *common, "--metrics", "log_likelihood",
                  "--out", str(mmd / "evaluation.json")])
    assert not (mmd / "evaluation.json").exists()
    assert cli.main(["evaluate", str(mmd), *common, "--out",
                     str(mmd / "evaluation.json")]) == 0
    skipped = json.loads((mmd / "evaluation.json").read_text())["metrics"]["skipped"]
    assert set(skipped) == {"log_likelihood", "prior_log_likelihood", "mutual_information"}
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["evaluate", str(mmd), *common, "--out", str(mmd / "evaluation.json")])

    report = tmp_path / "report.md"
    assert cli.main(["compare", str(elbo), str(mmd), "--out", str(report)]) == 0
    text = report.read_text()
    assert f"| {elbo.name} | {mmd.name} |" in text.replace("metric | ", "")
    assert "| mmd |" in text and "log_det_covariance" in text
    with pytest.raises(SystemExit, match="no evaluation.json"):
        cli.main(["compare", str(elbo), str(tmp_path), "--out", str(tmp_path / "r.md")])


# === Bad input: the exception, the argument and the value received ===


@pytest.fixture(scope="module")
def tiny_models():
    return {
        "elbo": mmdvae.ELBOVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0),
        "mmd": mmdvae.MMDVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0),
    }


def _with_nan(array, index=(1, 0)):
    array = np.array(array, dtype=np.float64)
    array[index] = np.nan
    return array


def _raises(error, function, *words):
    with pytest.raises(error) as raised:
        function()
    message = str(raised.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


def test_log_likelihood_refuses_unscaled_and_non_finite_images(tiny_models):
    model = tiny_models["elbo"]
    pixels = np.random.default_rng(0).integers(0, 256, size=(3, 4, 4, 1))
    pixels[0, 0, 0, 0] = 255
    _raises(TypeError, lambda: evaluation.log_likelihood(model, pixels.astype(np.uint8), 5),
            "`images`", "uint8")
    _raises(ValueError, lambda: evaluation.log_likelihood(model, pixels.astype(np.float32), 5),
            "`images`", "[0, 1]", "to 255")
    nan_images = np.full((3, 4, 4, 1), 0.5, np.float32)
    nan_images[1, 2, 3, 0] = np.nan
    _raises(ValueError, lambda: evaluation.log_likelihood(model, nan_images, 5),
            "`images`", "NaN", "index 1")
    _raises(ValueError, lambda: evaluation.log_likelihood(
        model, np.zeros((2, 28, 28, 1), np.float32), 5), "`images`", "(2, 28, 28, 1)")
    _raises(ValueError, lambda: evaluation.log_likelihood(
        model, np.zeros((0, 4, 4, 1), np.float32), 5), "`images`", "0 images")


@pytest.mark.parametrize("function, argument", [
    (lambda codes: evaluation.full_data_mmd(codes, np.zeros((4, 2))), "x"),
    (lambda codes: evaluation.full_data_mmd(np.zeros((4, 2)), codes), "y"),
    (lambda codes: evaluation.log_det_covariance(codes), "codes"),
    (lambda codes: evaluation.mutual_information(codes, np.zeros((4, 2))), "z_mean"),
    (lambda codes: evaluation.mutual_information(np.zeros((4, 2)), codes), "z_log_var"),
    (lambda codes: evaluation.active_units(codes), "z_mean"),
])
def test_measures_of_codes_refuse_nan(function, argument):
    codes = _with_nan(np.random.default_rng(0).normal(size=(4, 2)))
    _raises(ValueError, lambda: function(codes), f"`{argument}`", "NaN", "row 1", "nan")


def test_batch_sizes_and_sizes_are_checked(tiny_models):
    model = tiny_models["elbo"]
    images = np.full((3, 4, 4, 1), 0.5, np.float32)
    _raises(ValueError, lambda: evaluation.reconstruction_error(model, images, batch_size=0),
            "`batch_size`", "batch_size=0")
    _raises(ValueError, lambda: evaluation.generate(model, 4, batch_size=0),
            "`batch_size`", "batch_size=0")
    _raises(ValueError, lambda: evaluation.log_likelihood(model, images, 0),
            "`num_samples`", "num_samples=0")
    _raises(TypeError, lambda: evaluation.log_likelihood(model, images, 2.5),
            "`num_samples`", "2.5")
    _raises(ValueError, lambda: evaluation.full_data_mmd(np.zeros((3, 2)), np.zeros((3, 2)),
                                                         block_size=0),
            "`block_size`", "block_size=0")
    _raises(ValueError, lambda: evaluation.full_data_mmd(np.zeros((3, 2)), np.zeros((3, 3))),
            "`x`", "`y`", "(3, 2)", "(3, 3)")
    _raises(ValueError, lambda: evaluation.full_data_mmd(np.zeros((3, 2)), np.zeros((3, 2)),
                                                         kernel="gaussian"),
            "`kernel`", "'gaussian'")


def test_class_cross_entropy_refuses_labels_outside_the_classes():
    probabilities = np.full((6, 4), 0.25)
    _raises(ValueError, lambda: evaluation.class_cross_entropy([0, 1, 7], probabilities),
            "`real_labels`", "[0, 3]", "from 0 to 7")
    _raises(ValueError, lambda: evaluation.class_cross_entropy([0, -1, 2], probabilities),
            "`real_labels`", "from -1 to 2")
    _raises(TypeError, lambda: evaluation.class_cross_entropy([0.5, 1.0], probabilities),
            "`real_labels`", "float64")
    _raises(ValueError, lambda: evaluation.class_cross_entropy([0, 1], probabilities,
                                                               num_classes=10),
            "`num_classes`", "num_classes=10")
    _raises(ValueError, lambda: evaluation.class_cross_entropy([0, 1], probabilities * 5),
            "`generated_probabilities`", "1.25")


def test_classifier_frechet_distance_refuses_features_of_different_widths():
    rng = np.random.default_rng(0)
    _raises(ValueError, lambda: evaluation.classifier_frechet_distance(
        rng.normal(size=(10, 4)), rng.normal(size=(10, 5))),
        "`real_features`", "`generated_features`", "(10, 4)", "(10, 5)")


def test_clear_errors(tiny_models):
    deterministic = tiny_models["mmd"]
    images = np.zeros((5, 4, 4, 1), np.float32)
    _raises(ValueError, lambda: evaluation.log_likelihood(deterministic, images, 10),
            "Gaussian encoder", "encoder_type='deterministic'")
    _raises(ValueError, lambda: evaluation.log_likelihood(deterministic, images, 10,
                                                          proposal="prior"),
            "likelihood='mse' is no likelihood", "mse_variance=None")
    _raises(ValueError, lambda: evaluation.log_likelihood(deterministic, images, 10, "prior",
                                                          mse_variance=-1.0),
            "`mse_variance`", "-1.0")
    _raises(ValueError, lambda: evaluation.log_likelihood(tiny_models["elbo"], images, 10,
                                                          mse_variance=0.1),
            "`mse_variance`", "mse_variance=0.1", "'bernoulli'")
    _raises(ValueError, lambda: evaluation.log_likelihood(deterministic, images, 10,
                                                          proposal="exact"),
            "`proposal`", "'exact'")
    _raises(ValueError, lambda: evaluation.latent_classification_accuracy(
        deterministic, images, None, images, np.zeros(5, int), num_labelled=2),
        "`train_labels` is needed", "train_labels=None")
    _raises(ValueError, lambda: evaluation.latent_classification_accuracy(
        deterministic, images, np.zeros(5, int), images, np.zeros(5, int), num_labelled=100),
        "at most the number of labelled training images, 5", "num_labelled=100")
    _raises(ValueError, lambda: evaluation.corrupt(images, "mask", 1.5), "`level`", "1.5")
    _raises(ValueError, lambda: evaluation.corrupt(images, "blur", 0.5),
            "`corruption`", "'blur'")
    _raises(ValueError, lambda: evaluation.mutual_information(np.zeros((3, 2)), None),
            "z_log_var=None")
