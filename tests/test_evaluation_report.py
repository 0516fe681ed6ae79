"""``evaluate``: its table of measures, its argument checks, and the command line."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

import mmdvae
from mmdvae import evaluation, kernels
from mmdvae.evaluation import generated, latent, likelihood


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.random((40, 8, 8, 1)).astype(np.float32), rng.integers(3, size=40)


@pytest.fixture(scope="module")
def models():
    return {
        "elbo": mmdvae.ELBOVAE(2, image_shape=(8, 8, 1), network="mlp", seed=0),
        "mmd": mmdvae.MMDVAE(2, image_shape=(8, 8, 1), network="mlp", seed=0),
        "rbf": mmdvae.MMDVAE(2, image_shape=(8, 8, 1), network="mlp", kernel="rbf",
                             bandwidth=0.5, seed=0),
    }


SMALL = dict(log_likelihood_images=5, importance_samples=20, prior_proposal_samples=50,
             num_permutations=50, seed=3)


def test_every_measure_has_a_complete_entry():
    assert evaluation.METRICS == tuple(evaluation.MEASURES)
    assert "mmd_test" in evaluation.METRICS
    for name, measure in evaluation.MEASURES.items():
        assert callable(measure.compute) and callable(measure.describe), name


def test_evaluate_reports_the_functions_values(models, images):
    model = models["elbo"]
    test_images, _ = images
    results = evaluation.evaluate(model, test_images, **SMALL)
    assert set(results["skipped"]) == {"latent_accuracy", "class_cross_entropy",
                                       "classifier_frechet_distance"}
    assert "needs class labels" in results["skipped"]["latent_accuracy"]
    computed = [name for name in evaluation.METRICS if name not in results["skipped"]]
    assert set(results["seconds"]) == set(results["summary"]) == set(computed)
    # The same numbers as the functions on the same draws.
    codes = evaluation.encode_dataset(model, test_images, sample=True, seed=3)
    prior = evaluation.prior_samples(model, len(codes), seed=3)
    assert results["mmd"] == pytest.approx(evaluation.full_data_mmd(codes, prior), rel=1e-12)
    assert results["mmd_kernel"] == "Tutorial(method='matmul')"
    test = kernels.mmd_test(codes, prior, kernel="tutorial", bandwidth=None,
                            num_permutations=50, seed=3)
    assert results["mmd_test"]["statistic"] == pytest.approx(test.statistic, rel=1e-12)
    assert results["mmd_test"]["p_value"] == test.p_value
    assert results["log_det_covariance"] == evaluation.log_det_covariance(codes)
    z_mean, z_log_var = evaluation.posterior_parameters(model, test_images)
    assert results["active_units"] == evaluation.active_units(z_mean)
    assert results["mutual_information"] == evaluation.mutual_information(
        z_mean, z_log_var, seed=3)
    estimate = evaluation.log_likelihood(model, test_images[:5], 20, seed=3)
    assert results["log_likelihood"]["mean"] == pytest.approx(estimate.mean, rel=1e-12)
    assert results["log_likelihood"]["num_images"] == 5
    prior_estimate = evaluation.log_likelihood(model, test_images[:5], 50, "prior", seed=3)
    assert results["prior_log_likelihood"]["mean"] == pytest.approx(prior_estimate.mean,
                                                                    rel=1e-12)
    assert results["log_likelihood_compute_ratio"] == pytest.approx(
        50 * (results["prior_log_likelihood"]["per_image_standard_error_rms"]
              / results["log_likelihood"]["per_image_standard_error_rms"]) ** 2 / 20)
    assert results["reconstruction_error"] == evaluation.reconstruction_error(model,
                                                                              test_images)
    assert results["summary"]["mmd_test"].startswith("q(z) against p(z): MMD^2 = ")
    assert f"p = {test.p_value:.3g}" in results["summary"]["mmd_test"]
    flat = evaluation.flatten(results)
    assert flat["log_likelihood.mean"] == results["log_likelihood"]["mean"]
    assert "mmd_kernel" not in flat and not any(key.startswith("summary") for key in flat)
    json.dumps(results)


def test_evaluate_uses_the_models_kernel_unless_one_is_given(models, images):
    model = models["rbf"]
    test_images, _ = images
    codes = evaluation.encode_dataset(model, test_images, seed=0)
    prior = evaluation.prior_samples(model, len(codes), seed=0)
    own = evaluation.evaluate(model, test_images, metrics=["mmd"])
    assert own["mmd"] == pytest.approx(
        evaluation.full_data_mmd(codes, prior, "rbf", bandwidth=0.5), rel=1e-12)
    assert own["mmd_kernel"] == "RBF(bandwidth=0.5)"
    tutorial = evaluation.evaluate(model, test_images, metrics=["mmd"], kernel="tutorial")
    assert tutorial["mmd"] == pytest.approx(evaluation.full_data_mmd(codes, prior), rel=1e-12)
    assert abs(tutorial["mmd"] - own["mmd"]) > 1e-3 * abs(own["mmd"])
    wider = evaluation.evaluate(model, test_images, metrics=["mmd"], bandwidth=2.0)
    assert wider["mmd"] == pytest.approx(
        evaluation.full_data_mmd(codes, prior, "rbf", bandwidth=2.0), rel=1e-12)
    assert evaluation.model_kernel(model) == kernels.RBF(0.5)
    assert evaluation.model_kernel(models["mmd"]) == kernels.Tutorial()
    assert evaluation.model_kernel(models["elbo"]) == kernels.Tutorial()


def test_evaluate_latent_accuracy_and_corruptions(models, images):
    test_images, labels = images
    results = evaluation.evaluate(
        models["mmd"], test_images[:20], labels[:20], test_images[20:], labels[20:],
        metrics=["latent_accuracy"], num_labelled=(10,), corruptions=[("mask", 0.5)], seed=1)
    accuracies = results["latent_accuracy"]
    assert set(accuracies) == {"10", "10_mask_0.5"}
    assert accuracies["10"] == evaluation.latent_classification_accuracy(
        models["mmd"], test_images[20:], labels[20:], test_images[:20], labels[:20],
        num_labelled=10, seed=1)


@pytest.fixture
def expensive_work_forbidden(monkeypatch):
    """Makes every expensive step of ``evaluate`` fail the test if it is reached."""

    def forbidden(*args, **kwargs):
        raise AssertionError("expensive work started before the arguments were checked")

    for module, name in [
        (latent, "posterior_parameters"), (latent, "full_data_mmd"),
        (latent, "latent_classification_accuracy"), (latent, "prior_samples"),
        (likelihood, "log_likelihood"), (likelihood, "reconstruction_error"),
        (generated, "generate"), (generated, "classifier_outputs"),
        (kernels, "mmd_test"), (mmdvae.Autoencoder, "posterior"),
        (mmdvae.Autoencoder, "encode"), (mmdvae.Autoencoder, "decode"),
    ]:
        monkeypatch.setattr(module, name, forbidden)


@pytest.mark.parametrize("arguments, error, words", [
    ({"kernel": "gaussian"}, ValueError, ["`kernel`", "'gaussian'"]),
    ({"kernel": "tutorial", "bandwidth": 2.0}, ValueError, ["bandwidth", "'tutorial'"]),
    ({"kernel": "rbf", "bandwidth": -1.0}, ValueError, ["`bandwidth`", "-1.0"]),
    ({"metrics": ["mmd", "fid"]}, ValueError, ["`metrics`", "'fid'"]),
    ({"metrics": ["class_cross_entropy"]}, ValueError, ["needs class labels"]),
    ({"mse_variance": 0.1}, ValueError, ["`mse_variance`", "mse_variance=0.1"]),
    ({"log_likelihood_images": 0}, ValueError, ["`log_likelihood_images`", "=0"]),
    ({"importance_samples": 1.5}, TypeError, ["`importance_samples`", "1.5"]),
    ({"num_permutations": -3}, ValueError, ["`num_permutations`", "-3"]),
    ({"mmd_test_samples": 1}, ValueError, ["`mmd_test_samples`", "=1"]),
    ({"num_labelled": (10, 0)}, ValueError, ["`num_labelled`", "=0"]),
    ({"latent_classifier": "tree"}, ValueError, ["`latent_classifier`", "'tree'"]),
    ({"corruptions": [("mask", 2.0)]}, ValueError, ["`level`", "2.0"]),
    ({"corruptions": [("blur", 0.1)]}, ValueError, ["`corruptions`", "'blur'"]),
    ({"seed": -1}, ValueError, ["`seed`", "-1"]),
    ({"test_labels": np.arange(3)}, ValueError, ["`test_labels`", "(3,)"]),
    ({"metrics": ["latent_accuracy"], "test_labels": np.zeros(40, int),
      "train_images": np.zeros((5, 8, 8, 1), np.float32), "train_labels": np.zeros(5, int)},
     ValueError, ["`num_labelled`", "5", "num_labelled=100"]),
])
def test_evaluate_checks_every_argument_before_any_work(models, images, arguments, error,
                                                        words, expensive_work_forbidden):
    test_images, _ = images
    with pytest.raises(error) as raised:
        evaluation.evaluate(models["elbo"], test_images, **arguments)
    for word in words:
        assert word in str(raised.value), (word, str(raised.value))


def test_evaluate_checks_images_and_mse_variance_before_any_work(models, images,
                                                                 expensive_work_forbidden):
    test_images, _ = images
    with pytest.raises(TypeError, match="`test_images`.*uint8"):
        evaluation.evaluate(models["elbo"], (test_images * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="`test_images`.*NaN"):
        evaluation.evaluate(models["elbo"], np.full_like(test_images, np.nan))
    with pytest.raises(ValueError, match="`mse_variance`.*-0.5"):
        evaluation.evaluate(models["mmd"], test_images, mse_variance=-0.5)
    with pytest.raises(ValueError, match="at least 2 test images.*shape \\(1, 8, 8, 1\\)"):
        evaluation.evaluate(models["mmd"], test_images[:1], metrics=["log_det_covariance"])


def test_select_metrics_says_why(models):
    deterministic = models["mmd"]
    with pytest.raises(ValueError, match="Cannot compute metric 'mutual_information'"):
        evaluation.select_metrics(deterministic, ["mutual_information"])
    with pytest.raises(ValueError, match="needs class labels"):
        evaluation.select_metrics(deterministic, ["latent_accuracy"], has_labels=False)
    chosen, skipped = evaluation.select_metrics(deterministic, None, has_labels=False)
    assert "log_likelihood" in skipped and "mmd" in chosen and "mmd_test" in chosen
    assert "mse_variance" in skipped["prior_log_likelihood"]
    chosen, skipped = evaluation.select_metrics(deterministic, None, mse_variance=0.1)
    assert "prior_log_likelihood" in chosen and "log_likelihood" in skipped
    assert evaluation.unavailable_reason(models["elbo"], "class_cross_entropy",
                                         has_image_classifier=False).endswith(
        "needs an image classifier (see train_image_classifier)")


def test_evaluation_imports_no_plotting_and_sets_nothing_global():
    # TensorFlow itself imports matplotlib (test_callbacks checks that the package
    # keeps the user's backend); the evaluation modules must not import plotting
    # code, nor set logging levels, backends or environment variables.
    forbidden_modules = {"matplotlib", "mmdvae.plotting", "mmdvae.callbacks", "logging"}
    forbidden_calls = {"use", "setLevel", "set_verbosity", "putenv", "basicConfig"}
    for path in Path(evaluation.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [
                    f"{node.module}.{alias.name}" for alias in node.names]
            else:
                names = []
            for name in names:
                assert not any(name == module or name.startswith(module + ".")
                               for module in forbidden_modules), (path.name, name)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in forbidden_calls, (path.name, node.func.attr)
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                assert "environ" not in ast.unparse(node.value), path.name
