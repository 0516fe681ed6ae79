"""Every measure at once: ``evaluate`` runs the measures of a table.

``MEASURES`` maps each measure's name to a ``Measure``: the function computing
it from the shared inputs of one evaluation, what it needs (class labels, a
Gaussian encoder, a likelihood, the image classifier, labelled training
images) and a one-line reading of its value. ``select_metrics`` picks the
measures a model and its data allow; ``evaluate`` checks every argument before
any expensive work, computes the codes, the prior draws and the generated
images once for all the measures that share them, and returns a JSON-ready
dict.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import time
from collections.abc import Callable

import numpy as np

from mmdvae import checks, kernels, validation
from mmdvae.evaluation import generated, latent, likelihood


@dataclasses.dataclass(frozen=True)
class Measure:
    """One measure of ``evaluate``.

    Attributes:
        compute: ``compute(inputs) -> value`` (a number or a dict of numbers),
            from the ``EvaluationInputs`` of one evaluation.
        describe: ``describe(value) -> str``, a one-line reading of the value.
        needs_gaussian_encoder: the measure needs ``q(z|x)``'s variance.
        needs_likelihood: the measure needs ``log p(x|z)`` (an ``"mse"`` model
            has one only with an ``mse_variance``).
        needs_labels: the measure needs the test set's class labels.
        needs_image_classifier: the measure needs ``train_image_classifier``'s
            classifier.
        needs_train_data: the measure needs labelled training images.
    """

    compute: Callable
    describe: Callable
    needs_gaussian_encoder: bool = False
    needs_likelihood: bool = False
    needs_labels: bool = False
    needs_image_classifier: bool = False
    needs_train_data: bool = False


@dataclasses.dataclass
class EvaluationInputs:
    """The checked arguments of one ``evaluate`` call and the work measures share."""

    model: object
    test_images: np.ndarray
    test_labels: np.ndarray | None
    train_images: np.ndarray | None
    train_labels: np.ndarray | None
    image_classifier: object
    log_likelihood_images: int
    importance_samples: int
    prior_proposal_samples: int
    num_generated: int
    num_labelled: tuple
    latent_classifier: str
    corruptions: tuple
    kernel: kernels.Kernel
    mse_variance: float | None
    mmd_test_samples: int
    num_permutations: int
    seed: int

    @functools.cached_property
    def posterior(self):
        """``(z_mean, z_log_var)`` of the test images."""
        return latent.posterior_parameters(self.model, self.test_images)

    @functools.cached_property
    def codes(self) -> np.ndarray:
        """One draw of ``q(z|x)`` per test image: draws of ``q(z)``."""
        z_mean, z_log_var = self.posterior
        if z_log_var is None:
            return z_mean
        noise = np.random.default_rng(self.seed).standard_normal(z_mean.shape)
        return z_mean + np.exp(0.5 * z_log_var) * noise

    @functools.cached_property
    def prior_codes(self) -> np.ndarray:
        """As many prior draws as codes."""
        return latent.prior_samples(self.model, len(self.codes), self.seed)

    @functools.cached_property
    def classifier_outputs(self):
        """``(real, generated)``: the classifier's (features, probabilities) of each."""
        images = generated.generate(self.model, self.num_generated, self.seed)
        return (generated.classifier_outputs(self.image_classifier, self.test_images),
                generated.classifier_outputs(self.image_classifier, images))


# === The measures ===


def _log_likelihood(proposal: str):
    def compute(inputs: EvaluationInputs) -> dict:
        num_samples = (inputs.importance_samples if proposal == "posterior"
                       else inputs.prior_proposal_samples)
        return likelihood.log_likelihood(
            inputs.model, inputs.test_images[: inputs.log_likelihood_images], num_samples,
            proposal, inputs.seed, mse_variance=inputs.mse_variance).as_dict()

    return compute


def _describe_log_likelihood(value: dict) -> str:
    return (f"log p(x) = {value['mean']:.2f} +- {value['standard_error']:.2f} nats "
            f"({value['proposal']} proposal, K = {value['num_samples']}, "
            f"{value['num_images']} images)")


def _mmd(inputs: EvaluationInputs) -> float:
    return latent.full_data_mmd(inputs.codes, inputs.prior_codes, inputs.kernel)


def _mmd_test(inputs: EvaluationInputs) -> dict:
    codes, prior_codes = inputs.codes, inputs.prior_codes
    if len(codes) > inputs.mmd_test_samples:
        chosen = np.random.default_rng(inputs.seed).choice(
            len(codes), inputs.mmd_test_samples, replace=False)
        codes, prior_codes = codes[chosen], prior_codes[: inputs.mmd_test_samples]
    result = kernels.mmd_test(
        codes, prior_codes, kernel=inputs.kernel, estimator="unbiased",
        num_permutations=inputs.num_permutations, seed=inputs.seed)
    return {
        "statistic": float(result.statistic),
        "p_value": float(result.p_value),
        "null_quantiles": {f"{level:g}": float(quantile)
                           for level, quantile in result.null_quantiles.items()},
        "num_samples": len(codes),
        "num_permutations": result.num_permutations,
    }


def _latent_accuracy(inputs: EvaluationInputs) -> dict:
    accuracies = {}
    for size in inputs.num_labelled:
        for corruption, level in [(None, 0.0), *inputs.corruptions]:
            name = f"{size}" if corruption is None else f"{size}_{corruption}_{level:g}"
            accuracies[name] = latent.latent_classification_accuracy(
                inputs.model, inputs.train_images, inputs.train_labels, inputs.test_images,
                inputs.test_labels, size, inputs.latent_classifier, corruption, level,
                inputs.seed)
    return accuracies


def _class_cross_entropy(inputs: EvaluationInputs) -> dict:
    _, (_, probabilities) = inputs.classifier_outputs
    return generated.class_cross_entropy(inputs.test_labels, probabilities)


def _classifier_frechet_distance(inputs: EvaluationInputs) -> float:
    (real_features, _), (generated_features, _) = inputs.classifier_outputs
    return generated.classifier_frechet_distance(real_features, generated_features)


#: The measures of ``evaluate``, in the order it reports them.
MEASURES = {
    "log_likelihood": Measure(
        _log_likelihood("posterior"), _describe_log_likelihood,
        needs_gaussian_encoder=True, needs_likelihood=True),
    "prior_log_likelihood": Measure(
        _log_likelihood("prior"), _describe_log_likelihood, needs_likelihood=True),
    "mmd": Measure(
        _mmd, lambda value: f"q(z) against p(z): full-data MMD^2 = {value:.4g}"),
    "mmd_test": Measure(
        _mmd_test,
        lambda value: (f"q(z) against p(z): MMD^2 = {value['statistic']:.4g}, "
                       f"p = {value['p_value']:.3g} ({value['num_samples']} codes, "
                       f"{value['num_permutations']} permutations)")),
    "log_det_covariance": Measure(
        lambda inputs: latent.log_det_covariance(inputs.codes),
        lambda value: f"log det Cov[q(z)] / d = {value:.4g} (0 for the prior)"),
    "mutual_information": Measure(
        lambda inputs: latent.mutual_information(*inputs.posterior, inputs.seed),
        lambda value: f"I(x; z) = {value:.4g} nats", needs_gaussian_encoder=True),
    "active_units": Measure(
        lambda inputs: latent.active_units(inputs.posterior[0]),
        lambda value: f"{value} active latent units"),
    "reconstruction_error": Measure(
        lambda inputs: likelihood.reconstruction_error(inputs.model, inputs.test_images),
        lambda value: (f"reconstruction: {value['mse_per_pixel']:.4g} squared error per "
                       f"pixel, loss {value['reconstruction_loss']:.4g}")),
    "latent_accuracy": Measure(
        _latent_accuracy,
        lambda value: "latent classification accuracy: " + ", ".join(
            f"{name} labels {accuracy:.3f}" for name, accuracy in value.items()),
        needs_labels=True, needs_train_data=True),
    "class_cross_entropy": Measure(
        _class_cross_entropy,
        lambda value: (f"class cross-entropy {value['cross_entropy']:.4f} nats (data "
                       f"entropy {value['real_entropy']:.4f})"),
        needs_labels=True, needs_image_classifier=True),
    "classifier_frechet_distance": Measure(
        _classifier_frechet_distance,
        lambda value: f"classifier Frechet distance {value:.4g}",
        needs_labels=True, needs_image_classifier=True),
}

#: Names of the measures ``evaluate`` computes, in the order it reports them.
METRICS = tuple(MEASURES)


# === Which measures ===


def unavailable_reason(model, metric: str, has_labels: bool = True,
                       mse_variance: float | None = None, has_image_classifier: bool = True,
                       has_train_data: bool = True) -> str | None:
    """Why ``model`` (and the data given) cannot provide ``metric``; ``None`` when it can."""
    checks.check_choice("metric", metric, METRICS)
    measure = MEASURES[metric]
    if measure.needs_gaussian_encoder and model.encoder_type != "gaussian":
        return (f"{metric} needs a Gaussian encoder; the model has "
                f"encoder_type={model.encoder_type!r}")
    if measure.needs_likelihood and model.likelihood.needs_variance and mse_variance is None:
        return (f"{metric} needs a likelihood; the model's likelihood="
                f"{model.likelihood.name!r} is none unless an mse_variance is given")
    if measure.needs_labels and not has_labels:
        return f"{metric} needs class labels, and the dataset has none"
    if measure.needs_image_classifier and not has_image_classifier:
        return f"{metric} needs an image classifier (see train_image_classifier)"
    if measure.needs_train_data and not has_train_data:
        return f"{metric} needs labelled training images (train_images, train_labels)"
    return None


def select_metrics(model, metrics=None, has_labels: bool = True,
                   mse_variance: float | None = None, has_image_classifier: bool = True,
                   has_train_data: bool = True):
    """Returns ``(chosen, skipped)``: the measures to compute and why others are not.

    Asked-for measures the model cannot provide raise a ``ValueError`` that says
    why; with ``metrics=None`` they are skipped instead.
    """
    available = functools.partial(
        unavailable_reason, model, has_labels=has_labels, mse_variance=mse_variance,
        has_image_classifier=has_image_classifier, has_train_data=has_train_data)
    if metrics is None:
        chosen, skipped = [], {}
        for metric in METRICS:
            reason = available(metric)
            if reason is None:
                chosen.append(metric)
            else:
                skipped[metric] = reason
        return chosen, skipped
    if isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    for metric in metrics:
        checks.check_choice("metrics", metric, METRICS)
    for metric in metrics:
        reason = available(metric)
        if reason is not None:
            raise ValueError(f"Cannot compute metric {metric!r}: {reason}.")
    return list(dict.fromkeys(metrics)), {}


def model_kernel(model) -> kernels.Kernel:
    """The kernel of the model's divergence (MMD or Stein), else the tutorial's."""
    if model.divergence is None or model.divergence.kernel is None:
        return kernels.Tutorial()
    return model.divergence.kernel


def _check_corruptions(corruptions) -> tuple:
    if isinstance(corruptions, str | bytes) or not hasattr(corruptions, "__iter__"):
        raise TypeError(
            f"Argument `corruptions` must be a sequence of (corruption, level) pairs; "
            f"received corruptions={corruptions!r}."
        )
    checked = []
    for pair in corruptions:
        if isinstance(pair, str | bytes) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise ValueError(
                f"Argument `corruptions` must hold (corruption, level) pairs such as "
                f"('gaussian', 0.3); received the entry {pair!r}."
            )
        corruption, level = pair
        checks.check_choice("corruptions", corruption, [c for c in latent.CORRUPTIONS if c])
        checked.append((corruption, latent.check_corruption(corruption, level)))
    return tuple(checked)


# === evaluate ===


def evaluate(
    model,
    test_images,
    test_labels=None,
    train_images=None,
    train_labels=None,
    metrics=None,
    image_classifier=None,
    log_likelihood_images: int = 100,
    importance_samples: int = 1000,
    prior_proposal_samples: int = 50_000,
    num_generated: int = 10_000,
    num_labelled=(100, 1000),
    latent_classifier: str = "knn",
    corruptions=(),
    kernel=None,
    bandwidth=None,
    mse_variance: float | None = None,
    mmd_test_samples: int = 2000,
    num_permutations: int = 1000,
    seed: int = 0,
) -> dict:
    """Computes the chosen measures of ``model`` on a test set.

    Every argument is checked before any expensive work (encoding, classifiers,
    log-likelihoods).

    Args:
        model: a trained ``Autoencoder``.
        test_images, test_labels: the held-out set (labels may be ``None``).
        train_images, train_labels: labelled training images for the latent
            classification accuracy.
        metrics: names in ``METRICS``; ``None`` computes every one the model and
            data allow and reports the others under ``"skipped"``.
        image_classifier: the classifier of ``train_image_classifier``, needed by
            ``class_cross_entropy`` and ``classifier_frechet_distance``.
        log_likelihood_images: test images whose log-likelihood is estimated.
        importance_samples: ``K`` of the posterior-proposal estimate.
        prior_proposal_samples: ``K`` of the prior-proposal estimate.
        num_generated: prior samples decoded for the classifier measures.
        num_labelled: sizes of the labelled sets of the latent accuracy.
        latent_classifier: one of ``CLASSIFIERS``.
        corruptions: ``(corruption, level)`` pairs for the latent accuracy.
        kernel: the kernel of ``mmd`` and ``mmd_test``: a name in
            ``mmdvae.kernels.KERNELS``, a ``mmdvae.kernels.Kernel``, or ``None``
            (default) for the model's own (``model_kernel``).
        bandwidth: the kernel's bandwidth (a number or ``"median"``), replacing
            the model's; ``None`` keeps it.
        mse_variance: the assumed decoder variance of an ``"mse"`` model, see
            ``decoder_log_likelihood``; refused for other models.
        mmd_test_samples: at most this many codes (and as many prior draws) in
            the ``mmd_test`` two-sample test.
        num_permutations: permutations of the ``mmd_test`` two-sample test.
        seed: seed of every draw.

    Returns:
        A JSON-ready dict ``{metric: value or dict, ..., "skipped": {...},
        "seconds": {metric: time}, "summary": {metric: text}}``.
    """
    # === Arguments, checked before any work ===
    sizes = {
        "log_likelihood_images": log_likelihood_images,
        "importance_samples": importance_samples,
        "prior_proposal_samples": prior_proposal_samples,
        "num_generated": num_generated,
        "num_permutations": num_permutations,
    }
    sizes = {name: checks.check_positive_int(name, value) for name, value in sizes.items()}
    mmd_test_samples = checks.check_positive_int("mmd_test_samples", mmd_test_samples,
                                                 minimum=2)
    seed = checks.check_seed("seed", seed)
    num_labelled = tuple(checks.check_positive_int("num_labelled", size)
                         for size in checks.check_sequence_of_sizes("num_labelled", num_labelled))
    checks.check_choice("latent_classifier", latent_classifier, latent.CLASSIFIERS)
    corruptions = _check_corruptions(corruptions)
    kernel = kernels.get_kernel(model_kernel(model) if kernel is None else kernel,
                                bandwidth=bandwidth)
    if mse_variance is not None:
        mse_variance = likelihood.check_mse_variance(model, mse_variance)
    chosen, skipped = select_metrics(
        model, metrics, has_labels=test_labels is not None, mse_variance=mse_variance,
        has_image_classifier=image_classifier is not None,
        has_train_data=train_images is not None and train_labels is not None)
    test_images = validation.checked_image_array(model, test_images, "test_images")
    if test_labels is not None:
        test_labels = checks.check_labels("test_labels", test_labels, len(test_images))
    log_likelihood_images = min(sizes["log_likelihood_images"], len(test_images))
    for metric, argument, proposal in (
            ("log_likelihood", "importance_samples", "posterior"),
            ("prior_log_likelihood", "prior_proposal_samples", "prior")):
        if metric in chosen:
            likelihood.check_log_likelihood_size(model, log_likelihood_images, sizes[argument],
                                                 proposal, argument=argument)
    if {"class_cross_entropy", "classifier_frechet_distance"} & set(chosen):
        generated.check_generated_size(model, sizes["num_generated"], "num_generated")
    if "mmd_test" in chosen:
        kernels.check_mmd_test_size(min(mmd_test_samples, len(test_images)) * 2,
                                    sizes["num_permutations"])
    spread = {"mmd_test", "log_det_covariance", "active_units"} & set(chosen)
    if spread and len(test_images) < 2:
        raise ValueError(
            f"The measures {sorted(spread)} need at least 2 test images; received "
            f"test_images of shape {test_images.shape}."
        )
    if "latent_accuracy" in chosen:
        train_images = validation.checked_image_array(model, train_images, "train_images")
        train_labels = checks.check_labels("train_labels", train_labels, len(train_images))
        for size in num_labelled:
            if size > len(train_images):
                raise ValueError(
                    f"Argument `num_labelled` must be at most the number of labelled "
                    f"training images, {len(train_images)}; received num_labelled={size}."
                )
    inputs = EvaluationInputs(
        model, test_images, test_labels, train_images, train_labels, image_classifier,
        num_labelled=num_labelled, latent_classifier=latent_classifier,
        corruptions=corruptions, kernel=kernel,
        mse_variance=mse_variance, mmd_test_samples=mmd_test_samples, seed=seed, **sizes)

    # === The measures ===
    results, seconds, summary = {}, {}, {}
    for metric in chosen:
        start = time.perf_counter()
        results[metric] = MEASURES[metric].compute(inputs)
        seconds[metric] = time.perf_counter() - start
        summary[metric] = MEASURES[metric].describe(results[metric])
    if {"log_likelihood", "prior_log_likelihood"} <= set(results):
        results["log_likelihood_compute_ratio"] = _compute_ratio(
            results["log_likelihood"], results["prior_log_likelihood"])
    if {"mmd", "mmd_test"} & set(results):
        results["mmd_kernel"] = repr(kernel)
    results["skipped"] = skipped
    results["seconds"] = seconds
    results["summary"] = summary
    return results


def _compute_ratio(posterior: dict, prior: dict) -> float:
    """Prior-proposal samples per encoder-proposal sample for equal per-image error.

    Both errors fall as ``1 / sqrt(K)``, so the prior proposal needs
    ``K_prior (se_prior / se_posterior)^2`` samples to match the encoder proposal's
    error with ``K_posterior``; each sample costs one decoder evaluation.
    """
    needed = prior["num_samples"] * (
        prior["per_image_standard_error_rms"]
        / posterior["per_image_standard_error_rms"]) ** 2
    return float(needed / posterior["num_samples"])


def flatten(results: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, numbers only (for tables)."""
    flat = {}
    for key, value in results.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        elif isinstance(value, numbers.Number) and not isinstance(value, bool):
            flat[name] = value
    return flat
