"""Measures of the codes: how far q(z) is from p(z), and what the codes hold.

- ``full_data_mmd``: the MMD between the codes of a whole held-out set and as
  many prior samples, ``mmdvae.kernels.compute_mmd`` over blocks of rows
  (memory O(block_size^2)), compiled, summed in float64.
- ``log_det_covariance``: ``log det Cov[q(z)] / d``.
- ``mutual_information``, ``active_units``: what a Gaussian encoder's codes
  carry about the images.
- ``latent_classification_accuracy``: a simple classifier on the codes of 100
  or 1000 labelled images, with optional input corruption (VIMAE paper).

The definitions are those of the InfoVAE paper (Zhao, Song and Ermon, AAAI 2019)
and the VIMAE paper (Crescimanna and Graham); ``OBJECTIVES.md`` restates them.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np
import tensorflow as tf

from mmdvae import checks, kernels, validation

CLASSIFIERS = ("knn", "svm", "logistic")
CORRUPTIONS = (None, "gaussian", "mask")

#: Rows per block of ``full_data_mmd``: a block pair's kernel matrix is 8 MiB.
MMD_BLOCK_SIZE = 1024

#: Pooled rows the median heuristic of ``full_data_mmd`` looks at.
MEDIAN_ROWS = 2000


# === Encoding ===


def posterior_parameters(model, images, batch_size: int = 500):
    """Returns ``(z_mean, z_log_var)`` of ``q(z|x)`` as float64 arrays.

    ``z_log_var`` is ``None`` for a deterministic encoder, whose code is returned
    as ``z_mean``. The images get the same checks as ``fit``.
    """
    images = validation.checked_image_array(model, images)
    batch_size = checks.check_positive_int("batch_size", batch_size)
    means, log_variances = [], []
    for start in range(0, len(images), batch_size):
        z, z_mean, z_log_var = model.posterior(tf.constant(images[start : start + batch_size]))
        if z_mean is None:
            z_mean = z
        else:
            log_variances.append(np.asarray(z_log_var, dtype=np.float64))
        means.append(np.asarray(z_mean, dtype=np.float64))
    return np.concatenate(means), (np.concatenate(log_variances) if log_variances else None)


def encode_dataset(model, images, sample: bool = True, seed: int = 0,
                   batch_size: int = 500) -> np.ndarray:
    """Codes of ``images`` (float64): samples of ``q(z|x)`` or its means.

    Samples (``sample=True``, one draw per image from ``seed``) are draws of the
    aggregate posterior ``q(z)``; a deterministic encoder's codes are the same
    either way.
    """
    seed = checks.check_seed("seed", seed)
    z_mean, z_log_var = posterior_parameters(model, images, batch_size)
    if not sample or z_log_var is None:
        return z_mean
    noise = np.random.default_rng(seed).standard_normal(z_mean.shape)
    return z_mean + np.exp(0.5 * z_log_var) * noise


def prior_samples(model, num_samples: int, seed: int = 0) -> np.ndarray:
    """``num_samples`` draws of the model's prior (float64), from ``seed``."""
    num_samples = checks.check_positive_int("num_samples", num_samples)
    seed = checks.check_seed("seed", seed)
    samples = model.prior_samples(num_samples, seed=tf.constant([seed, 1]))
    return np.asarray(samples, dtype=np.float64)


# === Full-data MMD ===


def full_data_mmd(
    x,
    y,
    kernel: str | kernels.Kernel = "tutorial",
    estimator: str = "biased",
    block_size: int = MMD_BLOCK_SIZE,
    bandwidth: float | str | None = None,
) -> float:
    """Squared MMD between two whole sample sets, block by block, summed in float64.

    ``mmdvae.kernels.compute_mmd`` (the package's one MMD) with ``block_size``,
    on float64 samples, compiled by XLA once per shape and kernel:

    ```
    biased:   sum_ij k(x_i, x_j) / n^2 + sum_ij k(y_i, y_j) / m^2 - 2 sum_ij k(x_i, y_j) / (n m)
    unbiased: the within sums over i != j, divided by n (n - 1) and m (m - 1)
    ```

    Memory stays O(block_size^2) whatever ``n`` and ``m``. With
    ``bandwidth="median"`` one bandwidth serves every block: the median distance
    between at most ``MEDIAN_ROWS`` rows of ``x`` and ``y`` pooled, taken evenly
    (``mmdvae.kernels.median_bandwidth`` with ``max_rows``).

    Args:
        x: ``[n, d]`` samples, e.g. the codes of a held-out set.
        y: ``[m, d]`` samples, e.g. as many prior samples.
        kernel: a name in ``mmdvae.kernels.KERNELS`` or a ``mmdvae.kernels.Kernel``
            made of TensorFlow operations that XLA compiles.
        estimator: ``"biased"`` or ``"unbiased"``.
        block_size: rows per block.
        bandwidth: None (the kernel's own), a number > 0 or ``"median"``.

    Returns:
        The squared MMD as a Python float.
    """
    kernel = kernels.get_kernel(kernel, bandwidth=bandwidth)
    checks.check_choice("estimator", estimator, kernels.ESTIMATORS)
    block_size = checks.check_positive_int("block_size", block_size, maximum=2**14)
    unbiased = estimator == "unbiased"
    x = checks.check_matrix("x", x, 2 if unbiased else 1)
    y = checks.check_matrix("y", y, 2 if unbiased else 1)
    checks.check_same_width("x", x, "y", y)
    x, y = tf.constant(x), tf.constant(y)
    kernel = kernel.resolved(x, y, max_rows=MEDIAN_ROWS)
    return float(_compiled_mmd(kernel, estimator, block_size)(x, y))


@functools.lru_cache(maxsize=16)
def _compiled_mmd(kernel: kernels.Kernel, estimator: str, block_size: int):
    """``compute_mmd`` with ``block_size``, XLA-compiled, cached per kernel and estimator."""

    @tf.function(jit_compile=True, reduce_retracing=True)
    def mmd(x, y):
        return kernels.compute_mmd(x, y, kernel, estimator, block_size=block_size)

    return mmd


# === Shape of q(z) ===


def log_det_covariance(codes) -> float:
    """``log det Cov[z] / d`` of ``[n, d]`` codes, in float64.

    0 when the codes have identity covariance, ``log(c)`` for ``c I``; ``-inf``
    for a singular covariance. The InfoVAE paper uses it to show ELBO's ``q(z)``
    spreading beyond the prior's.
    """
    codes = checks.check_matrix("codes", codes, 2)
    covariance = np.atleast_2d(np.cov(codes, rowvar=False))
    sign, log_det = np.linalg.slogdet(covariance)
    if sign <= 0:
        return float("-inf")
    return float(log_det / codes.shape[1])


# === Information in the codes ===


def _gaussian_log_density(z, z_mean, z_log_var):
    """``log N(z; mean, diag exp(log_var))`` summed over the last axis (float64)."""
    return -0.5 * np.sum(
        np.square(z - z_mean) / np.exp(z_log_var) + z_log_var + math.log(2.0 * math.pi),
        axis=-1,
    )


def mutual_information(z_mean, z_log_var, seed: int = 0, block_size: int = 1000) -> float:
    """Monte Carlo ``I_q(x; z)`` of a Gaussian encoder over a dataset, in nats.

    With ``q(z) = 1/N sum_n q(z|x_n)`` the aggregate posterior of the ``N`` images:

    ```
    I_q(x; z) = E_x E_q(z|x) [log q(z|x) - log q(z)]
    ```

    estimated with one draw ``z ~ q(z|x_i)`` per image. It cannot exceed
    ``log N``.

    Args:
        z_mean, z_log_var: ``[N, d]`` posterior parameters, see
            ``posterior_parameters``.
        seed: seed of the draws.
        block_size: draws evaluated against all ``N`` densities at once.
    """
    if z_log_var is None:
        raise ValueError(
            "mutual_information needs a Gaussian encoder: received z_log_var=None; "
            "a deterministic encoder's I(x; z) is infinite for continuous x."
        )
    z_mean = checks.check_matrix("z_mean", z_mean)
    z_log_var = checks.check_matrix("z_log_var", z_log_var)
    if z_log_var.shape != z_mean.shape:
        raise ValueError(
            f"Arguments `z_mean` and `z_log_var` must have the same shape; received "
            f"z_mean of shape {z_mean.shape} and z_log_var of shape {z_log_var.shape}."
        )
    seed = checks.check_seed("seed", seed)
    block_size = checks.check_positive_int("block_size", block_size)
    noise = np.random.default_rng(seed).standard_normal(z_mean.shape)
    z = z_mean + np.exp(0.5 * z_log_var) * noise
    log_conditional = _gaussian_log_density(z, z_mean, z_log_var)
    log_marginal = np.empty(len(z_mean))
    for start in range(0, len(z_mean), block_size):
        log_densities = _gaussian_log_density(
            z[start : start + block_size, np.newaxis, :], z_mean, z_log_var)
        top = log_densities.max(axis=1)
        log_marginal[start : start + block_size] = top + np.log(
            np.mean(np.exp(log_densities - top[:, np.newaxis]), axis=1))
    return float(np.mean(log_conditional - log_marginal))


def active_units(z_mean, threshold: float = 0.01) -> int:
    """Number of latent dimensions with ``Var_x E_q(z|x)[z_u] > threshold``.

    Burda, Grosse and Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
    """
    z_mean = checks.check_matrix("z_mean", z_mean, 2)
    threshold = checks.check_number("threshold", threshold, minimum=0.0)
    return int(np.sum(np.var(z_mean, axis=0, ddof=1) > threshold))


# === Latent classification ===


def _make_classifier(classifier: str, num_labelled: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if classifier == "knn":
        return KNeighborsClassifier(n_neighbors=min(5, num_labelled))
    if classifier == "svm":
        return make_pipeline(StandardScaler(), SVC())
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def code_classification_accuracy(train_codes, train_labels, test_codes, test_labels,
                                 classifier: str = "knn") -> float:
    """Test accuracy of a scikit-learn classifier fit on labelled codes.

    ``"knn"``: 5 nearest neighbours in the code space; ``"svm"``: an RBF SVM and
    ``"logistic"``: logistic regression, both on standardised codes.
    """
    checks.check_choice("classifier", classifier, CLASSIFIERS)
    train_codes = checks.check_matrix("train_codes", train_codes)
    test_codes = checks.check_matrix("test_codes", test_codes)
    checks.check_same_width("train_codes", train_codes, "test_codes", test_codes)
    train_labels = checks.check_labels("train_labels", train_labels, len(train_codes))
    test_labels = checks.check_labels("test_labels", test_labels, len(test_codes))
    if len(np.unique(train_labels)) < 2:
        raise ValueError(
            "Argument `train_labels` must hold at least two classes; received "
            f"only {np.unique(train_labels).tolist()}."
        )
    model = _make_classifier(classifier, len(train_codes))
    model.fit(train_codes, train_labels)
    return float(np.mean(model.predict(test_codes) == test_labels))


def check_corruption(corruption, level) -> float:
    """Checks a corruption name and its level; returns the level as a float."""
    checks.check_choice("corruption", corruption, CORRUPTIONS)
    if corruption is None:
        return 0.0
    what = "std" if corruption == "gaussian" else "masked fraction"
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not (
        level >= 0 and (corruption == "gaussian" or level <= 1) and math.isfinite(level)
    ):
        allowed = "a finite number >= 0" if corruption == "gaussian" else "in [0, 1]"
        raise ValueError(
            f"Argument `level` (the {corruption} corruption's {what}) must be "
            f"{allowed}; received level={level!r}."
        )
    return float(level)


def corrupt(images, corruption: str | None, level: float, seed: int = 0) -> np.ndarray:
    """Corrupts images as in the VIMAE paper.

    ``"gaussian"``: adds noise of standard deviation ``level`` and clips to
    ``[0, 1]``; ``"mask"``: sets each pixel to 0 with probability ``level``;
    ``None``: returns the images unchanged.
    """
    level = check_corruption(corruption, level)
    seed = checks.check_positive_int("seed", seed, minimum=0)
    images = np.asarray(images, dtype=np.float32)
    if corruption is None:
        return images
    rng = np.random.default_rng(seed)
    if corruption == "gaussian":
        noisy = images + level * rng.standard_normal(images.shape)
        return np.clip(noisy, 0.0, 1.0).astype(np.float32)
    return (images * (rng.random(images.shape) >= level)).astype(np.float32)


def latent_classification_accuracy(
    model,
    train_images,
    train_labels,
    test_images,
    test_labels,
    num_labelled: int = 1000,
    classifier: str = "knn",
    corruption: str | None = None,
    level: float = 0.0,
    seed: int = 0,
) -> float:
    """Accuracy of a classifier on codes from ``num_labelled`` labelled images.

    The VIMAE paper's semi-supervised measure (after Kingma et al., 2014): encode
    ``num_labelled`` training images drawn at random (``seed``) to their posterior
    means, fit a simple classifier on them, and score it on the codes of the test
    images. With ``corruption`` both sets are corrupted before encoding (see
    ``corrupt``), the paper's robustness test.
    """
    num_labelled = checks.check_positive_int("num_labelled", num_labelled)
    checks.check_choice("classifier", classifier, CLASSIFIERS)
    check_corruption(corruption, level)
    seed = checks.check_seed("seed", seed)
    train_images = validation.checked_image_array(model, train_images, "train_images")
    test_images = validation.checked_image_array(model, test_images, "test_images")
    train_labels = checks.check_labels("train_labels", train_labels, len(train_images))
    test_labels = checks.check_labels("test_labels", test_labels, len(test_images))
    if num_labelled > len(train_images):
        raise ValueError(
            f"Argument `num_labelled` must be at most the number of labelled "
            f"training images, {len(train_images)}; received "
            f"num_labelled={num_labelled}."
        )
    chosen = np.random.default_rng(seed).choice(len(train_images), num_labelled, replace=False)
    corrupted_train = corrupt(train_images[chosen], corruption, level, seed + 1)
    corrupted_test = corrupt(test_images, corruption, level, seed + 2)
    return code_classification_accuracy(
        encode_dataset(model, corrupted_train, sample=False),
        train_labels[chosen],
        encode_dataset(model, corrupted_test, sample=False),
        test_labels,
        classifier,
    )
