"""The evaluation measures against analytic values and float64 references."""

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import mmdvae
from mmdvae import cli, evaluation, kernels, losses

# === A model whose marginal likelihood is known ===


class LinearGaussianModel(mmdvae.Autoencoder):
    """``z ~ N(0, I)``, ``x | z ~ N(W z, s^2 I)``: ``p(x) = N(0, W W^T + s^2 I)``.

    Its linear Gaussian encoder is a deliberately imperfect proposal: the exact
    posterior mean shrunk by ``mean_scale`` and the exact marginal variances
    inflated by ``variance_scale``.
    """

    def __init__(self, loading, noise_std, mean_scale=0.9, variance_scale=1.5):
        data_dim, latent_dim = loading.shape
        super().__init__(latent_dim, image_shape=(data_dim,), network="mlp",
                         encoder_type="gaussian", reconstruction="gaussian", seed=0)
        self.loading = tf.constant(loading, tf.float32)
        self.noise_std = float(noise_std)
        precision = np.eye(latent_dim) + loading.T @ loading / noise_std**2
        covariance = np.linalg.inv(precision)
        mean_matrix = mean_scale * covariance @ loading.T / noise_std**2
        images = keras.Input((data_dim,))
        mean_layer = keras.layers.Dense(latent_dim, use_bias=False)
        log_var_layer = keras.layers.Dense(latent_dim)
        self.encoder = keras.Model(images, [mean_layer(images), log_var_layer(images)])
        mean_layer.set_weights([mean_matrix.T])
        log_var_layer.set_weights([
            np.zeros((data_dim, latent_dim)),
            np.log(variance_scale * np.diag(covariance)),
        ])

    def decoder_outputs(self, z, training=False):
        mean = tf.matmul(z, self.loading, transpose_b=True)
        return mean, self.noise_std * tf.ones_like(mean)

    def reconstruction_terms(self, images, logits, std):
        return losses.gaussian_negative_log_likelihood(images, logits, std)


@pytest.fixture(scope="module")
def linear_gaussian():
    rng = np.random.default_rng(0)
    loading = rng.normal(size=(8, 3))
    noise_std = 0.7
    model = LinearGaussianModel(loading, noise_std)
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
    np.testing.assert_allclose(standard_errors[0] / standard_errors[2], 10**1.5,
                               rtol=0.5)
    assert errors[2] < errors[0] / 5


def test_prior_proposal_agrees_but_is_noisier(linear_gaussian):
    model, images, exact = linear_gaussian
    prior = evaluation.log_likelihood(model, images, 20_000, "prior", seed=2)
    posterior = evaluation.log_likelihood(model, images, 20_000, seed=2)
    assert abs(prior.mean - exact.mean()) < 4 * prior.standard_error
    assert np.all(prior.per_image_standard_error > posterior.per_image_standard_error)


def test_log_likelihood_of_an_untrained_bernoulli_model_matches_numpy():
    # With one sample the estimate is the single importance weight.
    model = mmdvae.ELBOVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0)
    images = np.random.default_rng(0).random((3, 4, 4, 1)).astype(np.float32)
    estimate = evaluation.log_likelihood(model, images, 1, seed=5)
    z_mean, z_log_var = evaluation.posterior_parameters(model, images)
    noise = np.random.default_rng(5)
    expected = []
    for index in range(3):
        z = z_mean[index] + np.exp(0.5 * z_log_var[index]) * noise.standard_normal((1, 2))
        probabilities = np.asarray(model.decode(z.astype(np.float32)), np.float64)[0]
        x = images[index].astype(np.float64)
        logits = np.log(probabilities) - np.log1p(-probabilities)
        log_decoder = np.sum(x * logits - np.logaddexp(0.0, logits))
        log_prior = stats.norm.logpdf(z).sum()
        log_proposal = stats.norm.logpdf(
            z, z_mean[index], np.exp(0.5 * z_log_var[index])).sum()
        expected.append(log_decoder + log_prior - log_proposal)
    np.testing.assert_allclose(estimate.per_image, expected, rtol=1e-4)


# === Full-data MMD ===


@pytest.mark.parametrize("num_codes", [
    2_000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_full_data_mmd_in_chunks_equals_one_shot_float64(num_codes):
    # 10,000 codes: about 3 minutes and 5.5 GB for the one-shot reference.
    rng = np.random.default_rng(0)
    codes = rng.normal(0.1, 1.1, size=(num_codes, 8))
    prior = rng.normal(size=(num_codes, 8))
    for estimator in ("biased", "unbiased"):
        one_shot = float(kernels.compute_mmd(tf.constant(codes), tf.constant(prior),
                                             estimator=estimator))
        chunked = evaluation.full_data_mmd(codes, prior, estimator=estimator,
                                           chunk_size=1000)
        assert chunked == pytest.approx(one_shot, rel=1e-9)
        assert one_shot > 1e-3


@pytest.mark.parametrize("kernel, kwargs", [
    ("rbf", {"bandwidth": 2.0}), ("inverse_multiquadric", {}), ("tutorial", {})])
def test_full_data_mmd_any_kernel_uneven_chunks(kernel, kwargs):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(701, 5)), rng.standard_t(4, size=(433, 5))
    for estimator in ("biased", "unbiased"):
        expected = float(kernels.compute_mmd(tf.constant(x), tf.constant(y), kernel,
                                             estimator, **kwargs))
        chunked = evaluation.full_data_mmd(x, y, kernel, estimator, chunk_size=128,
                                           **kwargs)
        assert chunked == pytest.approx(expected, rel=1e-9)


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


@pytest.fixture(scope="module")
def classifier_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("classifier_cache")


def test_image_classifier_is_cached_and_scores_real_images(classifier_cache, data_dir):
    classifier, info = evaluation.train_image_classifier(
        "mnist", data_dir=data_dir, cache_dir=classifier_cache, epochs=2,
        train_size=4000)
    assert info["test_accuracy"] > 0.9
    again, again_info = evaluation.train_image_classifier(
        "mnist", data_dir=data_dir, cache_dir=classifier_cache, epochs=2,
        train_size=4000)
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


# === Clear errors ===


def test_clear_errors():
    deterministic = mmdvae.MMDVAE(2, image_shape=(4, 4, 1), network="mlp", seed=0)
    images = np.zeros((5, 4, 4, 1), np.float32)
    with pytest.raises(ValueError, match="Gaussian encoder.*encoder_type='deterministic'"):
        evaluation.log_likelihood(deterministic, images, 10)
    with pytest.raises(ValueError, match="reconstruction='mse' is no likelihood"):
        evaluation.log_likelihood(deterministic, images, 10, proposal="prior")
    with pytest.raises(ValueError, match="Cannot compute metric 'mutual_information'"):
        evaluation.select_metrics(deterministic, ["mutual_information"])
    with pytest.raises(ValueError, match="needs class labels"):
        evaluation.select_metrics(deterministic, ["latent_accuracy"], has_labels=False)
    with pytest.raises(ValueError, match="`train_labels` is needed"):
        evaluation.latent_classification_accuracy(
            deterministic, images, None, images, np.zeros(5), num_labelled=2)
    with pytest.raises(ValueError, match="at most the number of labelled training "
                                         "images, 5; received num_labelled=100"):
        evaluation.latent_classification_accuracy(
            deterministic, images, np.zeros(5), images, np.zeros(5), num_labelled=100)
    with pytest.raises(ValueError, match=r"shape \(n, 4, 4, 1\).*received shape"):
        evaluation.log_likelihood(deterministic, np.zeros((2, 28, 28, 1)), 10,
                                  proposal="prior", mse_variance=0.1)
    with pytest.raises(ValueError, match="level"):
        evaluation.corrupt(images, "mask", 1.5)
    with pytest.raises(ValueError, match="num_samples"):
        evaluation.log_likelihood(deterministic, images, 0, proposal="prior")
    chosen, skipped = evaluation.select_metrics(deterministic, None, has_labels=False)
    assert "log_likelihood" in skipped and "mmd" in chosen


# === Command line ===


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, data_dir):
    """Two small models trained for one epoch on 1000 MNIST images."""
    images = mmdvae.data.load_arrays("mnist", "train", data_dir=data_dir,
                                     train_size=1000)
    runs = {}
    for name, model in (
        ("elbo", mmdvae.ELBOVAE(2, network="mlp", seed=0)),
        ("mmd", mmdvae.MMDVAE(2, network="mlp", seed=0)),
    ):
        model.compile(jit_compile=False)
        model.fit(images, epochs=1, batch_size=100, verbose=0)
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
    assert set(skipped) == {"log_likelihood", "prior_log_likelihood",
                            "mutual_information"}
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["evaluate", str(mmd), *common, "--out", str(mmd / "evaluation.json")])

    report = tmp_path / "report.md"
    assert cli.main(["compare", str(elbo), str(mmd), "--out", str(report)]) == 0
    text = report.read_text()
    assert f"| {elbo.name} | {mmd.name} |" in text.replace("metric | ", "")
    assert "| mmd |" in text and "log_det_covariance" in text
    with pytest.raises(SystemExit, match="no evaluation.json"):
        cli.main(["compare", str(elbo), str(tmp_path), "--out", str(tmp_path / "r.md")])


def test_train_options_reach_the_model():
    args = cli.build_parser().parse_args([
        "train", "--out", "unused", "--encoder-type", "gaussian",
        "--reconstruction", "bernoulli", "--lambda", "1000"])
    options = cli._model_options(args)
    assert options == {"encoder_type": "gaussian", "reconstruction": "bernoulli",
                       "lambda_": 1000.0}
    model = cli._model_class("mmd")(latent_dim=2, network="mlp", **options)
    assert (model.encoder_type, model.reconstruction, model.lambda_) == (
        "gaussian", "bernoulli", 1000.0)
    elbo = cli.build_parser().parse_args(
        ["train", "--model", "elbo", "--out", "unused", "--lambda", "2"])
    with pytest.raises(SystemExit, match="--lambda does not apply to --model elbo"):
        cli._model_options(elbo)
