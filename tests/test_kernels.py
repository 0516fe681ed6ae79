"""Tests of mmdvae.kernels against float64 NumPy references and the tutorial code."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from kernel_references import (
    reference_kernel,
    reference_mmds,
    reference_squared_distances,
    samples,
)
from tiny import tiny_images, tiny_model

import mmdvae
from mmdvae import evaluation, kernels
from mmdvae.kernels import (
    ESTIMATORS,
    KERNELS,
    compute_kernel,
    compute_mmd,
    get_kernel,
    squared_distances,
)

MODES = ("eager", "function", "xla")
SPEC = [tf.TensorSpec([None, None], tf.float32)] * 2

# === The InfoVAE tutorial's code, verbatim ===


def tutorial_compute_kernel(x, y):
    x_size = tf.shape(x)[0]
    y_size = tf.shape(y)[0]
    dim = tf.shape(x)[1]
    tiled_x = tf.tile(tf.reshape(x, tf.stack([x_size, 1, dim])), tf.stack([1, y_size, 1]))  # noqa: E501
    tiled_y = tf.tile(tf.reshape(y, tf.stack([1, y_size, dim])), tf.stack([x_size, 1, 1]))  # noqa: E501
    return tf.exp(-tf.reduce_mean(tf.square(tiled_x - tiled_y), axis=2) / tf.cast(dim, tf.float32))  # noqa: E501


def tutorial_compute_mmd(x, y, sigma_sqr=1.0):
    x_kernel = tutorial_compute_kernel(x, x)
    y_kernel = tutorial_compute_kernel(y, y)
    xy_kernel = tutorial_compute_kernel(x, y)
    return tf.reduce_mean(x_kernel) + tf.reduce_mean(y_kernel) - 2 * tf.reduce_mean(xy_kernel)  # noqa: E501


# === Samples and comparisons ===


def make_samples(num_x, num_y, dim, seed, shift=0.5, scale=1.3):
    """x ~ N(0, I), y ~ N(shift, scale^2 I), float32 values held in float64 arrays."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((num_x, dim)).astype(np.float32)
    y = (shift + scale * rng.standard_normal((num_y, dim))).astype(np.float32)
    return x.astype(np.float64), y.astype(np.float64)


def as_float32(*arrays):
    return [tf.constant(array, tf.float32) for array in arrays]


def assert_mmd_close(actual, expected, names, absolute=2e-6, relative=1e-4):
    actual = np.asarray(actual, np.float64)
    for value, reference, name in zip(actual, expected, names, strict=True):
        error = abs(value - reference)
        assert error <= absolute, (name, value, reference)
        if reference > 0.01:
            assert error <= relative * reference, (name, value, reference)


# === Functions compiled once and shared by the tests ===

# (kernel, kernel_kwargs) of every MMD comparison.
KERNEL_CASES = (
    ("tutorial", {"method": "matmul"}),
    ("tutorial", {"method": "tiled"}),
    ("rbf", {"bandwidth": 3.0}),
    ("inverse_multiquadric", {"prior_variance": 0.5}),
)


def case_names(estimators):
    return [
        f"{name}{kwargs}-{estimator}"
        for name, kwargs in KERNEL_CASES
        for estimator in estimators
    ]


def all_estimates(x, y, estimators):
    return tf.stack(
        [
            compute_mmd(x, y, kernel=name, estimator=estimator, **kwargs)
            for name, kwargs in KERNEL_CASES
            for estimator in estimators
        ]
    )


def reference_estimates(x, y, estimators):
    return np.concatenate(
        [
            reference_mmds(x, y, estimators, kernel=name, **kwargs)
            for name, kwargs in KERNEL_CASES
        ]
    )


def make_runners(function):
    """The same function eagerly, traced once with dynamic shapes, and under XLA."""
    return {
        "eager": function,
        "function": tf.function(function, input_signature=SPEC),
        "xla": tf.function(function, input_signature=SPEC, jit_compile=True),
    }


RUNNERS = {
    estimators: make_runners(
        lambda x, y, estimators=estimators: all_estimates(x, y, estimators)
    )
    for estimators in (("biased",), ESTIMATORS)
}


def all_kernel_matrices(x, y):
    return [get_kernel(name, **kwargs)(x, y) for name, kwargs in KERNEL_CASES]


KERNEL_MATRIX_RUNNERS = make_runners(all_kernel_matrices)


# === Kernels ===

KERNEL_SHAPES = [(1, 1, 1), (1, 9, 3), (7, 5, 2), (40, 33, 16), (130, 70, 64)]


@pytest.mark.parametrize("num_x, num_y, dim", KERNEL_SHAPES)
def test_compute_kernel_equals_tutorial_code(num_x, num_y, dim):
    x, y = as_float32(*make_samples(num_x, num_y, dim, seed=num_x + num_y + dim))
    np.testing.assert_allclose(
        compute_kernel(x, y).numpy(),
        tutorial_compute_kernel(x, y).numpy(),
        rtol=1e-6,
        atol=0.0,
    )


def test_default_mmd_is_tutorial_mmd():
    x, y = as_float32(*make_samples(200, 200, 20, seed=3))
    np.testing.assert_allclose(
        compute_mmd(x, y).numpy(), tutorial_compute_mmd(x, y).numpy(), atol=2e-6
    )


@pytest.mark.parametrize("num_x, num_y, dim", KERNEL_SHAPES)
@pytest.mark.parametrize(
    "kernel, kernel_kwargs",
    [
        ("tutorial", {"method": "matmul"}),
        ("tutorial", {"method": "tiled"}),
        ("rbf", {}),
        ("rbf", {"bandwidth": "sqrt_dim"}),
        ("inverse_multiquadric", {}),
        ("inverse_multiquadric", {"prior_variance": 2.0, "scales": (0.3, 4.0)}),
    ],
)
def test_kernel_entries_match_reference(num_x, num_y, dim, kernel, kernel_kwargs):
    if kernel_kwargs.get("bandwidth") == "sqrt_dim":
        kernel_kwargs = {"bandwidth": float(np.sqrt(dim))}
    x, y = make_samples(num_x, num_y, dim, seed=11 * dim + num_y)
    actual = get_kernel(kernel, **kernel_kwargs)(*as_float32(x, y)).numpy()
    assert actual.shape == (num_x, num_y)
    # exp(-a) inherits a relative error of about a * 1e-7 from float32 distances,
    # so entries below 1e-20 (a > 46) are compared in absolute terms.
    np.testing.assert_allclose(
        actual, reference_kernel(x, y, kernel, **kernel_kwargs), rtol=1e-5, atol=1e-20
    )


@pytest.mark.parametrize("mode", ["function", "xla"])
def test_kernel_entries_compiled(mode):
    x, y = make_samples(33, 50, 12, seed=5)
    matrices = KERNEL_MATRIX_RUNNERS[mode](*as_float32(x, y))
    for matrix, (name, kwargs) in zip(matrices, KERNEL_CASES, strict=True):
        np.testing.assert_allclose(
            matrix.numpy(), reference_kernel(x, y, name, **kwargs), rtol=1e-5
        )


def test_squared_distances():
    x, y = make_samples(30, 20, 7, seed=8, shift=50.0)
    x32, y32 = as_float32(x, y)
    distances = squared_distances(x32, y32).numpy()
    np.testing.assert_allclose(distances, reference_squared_distances(x, y), rtol=1e-5)
    self_distances = squared_distances(x32, x32).numpy()
    assert np.all(self_distances >= 0.0)
    np.testing.assert_array_equal(np.diag(self_distances), 0.0)
    np.testing.assert_allclose(
        self_distances, reference_squared_distances(x, x), rtol=1e-5, atol=1e-5
    )


def test_tutorial_kernel_is_rbf_with_matching_bandwidth():
    x, y = as_float32(*make_samples(20, 30, 6, seed=9))
    np.testing.assert_allclose(
        get_kernel("tutorial")(x, y).numpy(),
        get_kernel("rbf", bandwidth=6 / np.sqrt(2.0))(x, y).numpy(),
        rtol=1e-6,
    )


def test_inverse_multiquadric_bandwidth_matches_prior_variance():
    # C_s = 2 s bandwidth^2 equals C_s = 2 d prior_variance s at bandwidth^2 = d prior_variance.
    x, y = samples(10, 8, 4, seed=14)
    np.testing.assert_allclose(
        kernels.InverseMultiquadric(bandwidth=np.sqrt(4 * 0.7))(x, y),
        kernels.InverseMultiquadric(prior_variance=0.7)(x, y),
        rtol=1e-12,
    )


def test_kernel_subclasses_are_accepted():
    class Linear(kernels.Kernel):
        def __init__(self, factor=1.0):
            self.factor = factor

        def __call__(self, x, y):
            return self.factor * tf.matmul(x, y, transpose_b=True)

        def get_config(self):
            return {"factor": self.factor}

    linear = Linear()
    assert get_kernel(linear) is linear
    assert get_kernel(linear, factor=2.0) == Linear(2.0)
    x, y = make_samples(4, 5, 3, seed=1)
    # With a linear kernel the biased MMD is the squared distance of the means.
    expected = 2.0 * np.sum((x.mean(axis=0) - y.mean(axis=0)) ** 2)
    actual = compute_mmd(*as_float32(x, y), kernel=linear, factor=2.0)
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert KERNELS == ("tutorial", "rbf", "inverse_multiquadric")
    assert ESTIMATORS == ("biased", "unbiased")


# === MMD against the float64 reference: every kernel, estimator and mode ===

# XLA compiles once per shape, so it runs on part of the grid.
MMD_CASES = [
    (*shape, mode)
    for shape, modes in [
        ((1, 1, 1), ("eager", "function")),
        ((1, 5, 3), ("eager", "function")),
        ((6, 1, 64), MODES),
        ((2, 2, 1), MODES),
        ((3, 8, 2), ("eager", "function")),
        ((50, 17, 5), ("eager", "function")),
        ((64, 64, 32), ("eager", "function")),
        ((400, 250, 64), MODES),
        ((333, 400, 8), ("eager", "function")),
    ]
    for mode in modes
]


@pytest.mark.parametrize("num_x, num_y, dim, mode", MMD_CASES)
def test_mmd_matches_reference(num_x, num_y, dim, mode):
    estimators = ESTIMATORS if min(num_x, num_y) >= 2 else ("biased",)
    x, y = make_samples(num_x, num_y, dim, seed=num_x * 1000 + num_y + dim)
    actual = RUNNERS[estimators][mode](*as_float32(x, y))
    assert actual.dtype == tf.float32
    assert_mmd_close(
        actual.numpy(), reference_estimates(x, y, estimators), case_names(estimators)
    )


def test_mmd_of_identical_samples_is_zero():
    x, _ = as_float32(*make_samples(100, 1, 10, seed=4))
    for method in kernels.METHODS:
        assert abs(compute_mmd(x, x, method=method).numpy()) < 1e-7


def test_float64_inputs_give_float64():
    x, y = make_samples(10, 12, 3, seed=6)
    mmd = compute_mmd(x, y, estimator="unbiased")
    assert mmd.dtype == tf.float64
    np.testing.assert_allclose(
        mmd.numpy(), reference_mmds(x, y, ("unbiased",))[0], rtol=1e-12
    )


# === Precision at n = m = 2048, d = 64 ===

PRECISION_PATHS = [
    (method, estimator) for method in kernels.METHODS for estimator in ESTIMATORS
]


def precision_estimates(x, y):
    """Every method and estimator; graph modes compute each kernel matrix once."""
    return tf.stack(
        [
            compute_mmd(x, y, method=method, estimator=estimator)
            for method, estimator in PRECISION_PATHS
        ]
    )


PRECISION_RUNNERS = make_runners(precision_estimates)


@pytest.fixture(scope="module")
def precision_samples():
    """x ~ N(0, I) against y ~ N(0, I) ("same") and y ~ N(0.3, I) ("shifted")."""
    x, y_same = make_samples(2048, 2048, 64, seed=2048, shift=0.0, scale=1.0)
    _, y_shifted = make_samples(2048, 2048, 64, seed=2049, shift=0.3, scale=1.0)
    estimators = [estimator for _, estimator in PRECISION_PATHS]
    return {
        pair: (x, y, reference_mmds(x, y, estimators))
        for pair, y in (("same", y_same), ("shifted", y_shifted))
    }


@pytest.mark.parametrize(
    "mode, pair",
    [
        ("eager", "same"),
        ("function", "same"),
        ("xla", "same"),
        ("xla", "shifted"),
        # Each costs three to six more [2048, 2048, 64] tiled evaluations, on the
        # TensorFlow kernels the "same" pair already exercises.
        pytest.param("eager", "shifted", marks=pytest.mark.slow),
        pytest.param("function", "shifted", marks=pytest.mark.slow),
    ],
)
def test_precision_at_2048(mode, pair, precision_samples):
    x, y, expected = precision_samples[pair]
    actual = PRECISION_RUNNERS[mode](*as_float32(x, y)).numpy()
    names = [f"{method}-{estimator}-{pair}" for method, estimator in PRECISION_PATHS]
    assert_mmd_close(actual, expected, names)


# === Statistical behaviour ===


def test_independent_samples_near_zero_and_shifted_positive():
    unbiased_estimates = []
    for seed in range(12):
        samples = make_samples(1000, 1000, 8, seed=100 + seed, shift=0.0, scale=1.0)
        x, y = as_float32(*samples)
        if seed == 0:
            assert 0.0 < compute_mmd(x, y).numpy() < 0.005
        unbiased_estimates.append(compute_mmd(x, y, estimator="unbiased").numpy())
    unbiased_estimates = np.array(unbiased_estimates)
    standard_deviation = unbiased_estimates.std(ddof=1)
    standard_error = standard_deviation / np.sqrt(len(unbiased_estimates))
    assert abs(unbiased_estimates[0]) < 4.0 * standard_deviation
    assert abs(unbiased_estimates.mean()) < 4.0 * standard_error
    assert np.any(unbiased_estimates < 0.0)

    x, y = as_float32(*make_samples(1000, 1000, 8, seed=200, shift=1.0, scale=1.0))
    shifted = compute_mmd(x, y, estimator="unbiased").numpy()
    assert shifted > 0.05
    assert shifted > 50.0 * standard_deviation


# === Gradients ===


def float64_tensorflow_mmd(x, y, estimator):
    """The tutorial-kernel MMD in float64 TensorFlow, from explicit differences."""

    def kernel(a, b):
        differences = a[:, None, :] - b[None, :, :]
        dim = tf.cast(tf.shape(a)[1], tf.float64)
        return tf.exp(-tf.reduce_sum(tf.square(differences), axis=2) / dim**2)

    def within(samples):
        matrix = kernel(samples, samples)
        num = tf.cast(tf.shape(samples)[0], tf.float64)
        if estimator == "biased":
            return tf.reduce_sum(matrix) / num**2
        return (tf.reduce_sum(matrix) - tf.linalg.trace(matrix)) / (num * (num - 1))

    return within(x) + within(y) - 2.0 * tf.reduce_mean(kernel(x, y))


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("method", kernels.METHODS)
def test_gradient_matches_float64(method, estimator):
    x, y = make_samples(120, 90, 6, seed=21)
    x32 = tf.Variable(x, dtype=tf.float32)
    with tf.GradientTape() as tape:
        mmd = compute_mmd(
            x32, tf.constant(y, tf.float32), method=method, estimator=estimator
        )
    gradient = tape.gradient(mmd, x32).numpy()
    x64 = tf.Variable(x, dtype=tf.float64)
    with tf.GradientTape() as tape:
        reference = float64_tensorflow_mmd(x64, tf.constant(y), estimator)
    expected = tape.gradient(reference, x64).numpy()
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(
        gradient, expected, rtol=1e-3, atol=1e-4 * np.abs(expected).max()
    )


def test_gradient_under_xla_with_unknown_batch_size():
    @tf.function(input_signature=SPEC, jit_compile=True)
    def gradients(x, y):
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            total = (
                compute_mmd(x, y, method="tiled")
                + compute_mmd(x, y, method="matmul", estimator="unbiased")
                + compute_mmd(x, y, kernel="inverse_multiquadric", estimator="unbiased")
            )
        return tape.gradient(total, [x, y])

    x_gradient, y_gradient = gradients(*as_float32(*make_samples(30, 20, 4, seed=22)))
    for values in (x_gradient.numpy(), y_gradient.numpy()):
        assert np.all(np.isfinite(values)) and np.any(values != 0.0)


# === Errors ===

SMALL = tf.zeros([2, 2])


def test_unknown_kernel():
    pattern = r"`kernel` must be one of \('tutorial', .*received kernel='gauss'"
    with pytest.raises(ValueError, match=pattern):
        get_kernel("gauss")
    with pytest.raises(ValueError, match=pattern):
        compute_mmd(SMALL, SMALL, kernel="gauss")


def test_unknown_estimator():
    pattern = r"`estimator` must be one of \('biased', 'unbiased'\); received "
    with pytest.raises(ValueError, match=pattern + r"estimator='u'"):
        compute_mmd(SMALL, SMALL, estimator="u")


@pytest.mark.parametrize(
    "kernel, kernel_kwargs, pattern",
    [
        ("rbf", {"bandwidth": 0.0}, r"`bandwidth` must be a number > 0; .*=0.0"),
        ("rbf", {"bandwidth": -1}, r"`bandwidth`.*received bandwidth=-1"),
        ("tutorial", {"method": "fast"}, r"`method`.*'matmul'.*received method='fast'"),
        ("inverse_multiquadric", {"prior_variance": 0}, r"`prior_variance`"),
        ("inverse_multiquadric", {"scales": ()}, r"`scales`.*received scales=\(\)"),
        ("inverse_multiquadric", {"scales": (1.0, -2.0)}, r"`scales`"),
        ("rbf", {"sigma": 1.0}, r"Unknown keyword.*'sigma'.*'bandwidth'"),
    ],
)
def test_bad_kernel_arguments(kernel, kernel_kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        get_kernel(kernel, **kernel_kwargs)
    with pytest.raises(ValueError, match=pattern):
        compute_mmd(SMALL, SMALL, kernel=kernel, **kernel_kwargs)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"`x` must have rank 2.*shape \(3,\)"):
        compute_mmd(tf.zeros([3]), tf.zeros([3, 1]))
    with pytest.raises(ValueError, match=r"`y` must have rank 2.*shape \(2, 3, 1\)"):
        squared_distances(tf.zeros([3, 1]), tf.zeros([2, 3, 1]))
    with pytest.raises(ValueError, match=r"same last dimension.*\(4, 3\).*\(4, 2\)"):
        compute_kernel(tf.zeros([4, 3]), tf.zeros([4, 2]))
    with pytest.raises(ValueError, match=r"same dtype"):
        compute_mmd(tf.zeros([4, 3]), tf.zeros([4, 3], tf.float64))


def test_unbiased_needs_two_rows():
    with pytest.raises(
        ValueError, match=r"at least 2 rows in `x`; received x with shape \(1, 3\)"
    ):
        compute_mmd(tf.zeros([1, 3]), tf.zeros([4, 3]), estimator="unbiased")
    with pytest.raises(ValueError, match=r"at least 2 rows in `y`"):
        compute_mmd(tf.zeros([4, 3]), tf.zeros([1, 3]), estimator="unbiased")


def test_unbiased_needs_two_rows_at_run_time():
    x, y = as_float32(np.ones([1, 3]), make_samples(5, 5, 3, seed=0)[1])

    def unbiased(x, y):
        return compute_mmd(x, y, estimator="unbiased")

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"at least 2 rows in `x`"):
        tf.function(unbiased, input_signature=SPEC)(x, y)
    # XLA compiles the assertion to nothing; the documented result is NaN.
    assert np.isnan(tf.function(unbiased, input_signature=SPEC, jit_compile=True)(x, y))


# === Kernel objects: configs, saved models, constructor checks ===

KERNEL_OBJECTS = [
    kernels.Tutorial(),
    kernels.Tutorial(method="tiled"),
    kernels.RBF(0.7),
    kernels.RBF("median"),
    kernels.InverseMultiquadric(),
    kernels.InverseMultiquadric(scales=[0.5, 2.0], prior_variance=0.3),
    kernels.InverseMultiquadric(scales=(1.0,), bandwidth="median"),
]


@pytest.mark.parametrize("kernel", KERNEL_OBJECTS, ids=repr)
def test_kernel_objects_round_trip_through_their_config(kernel):
    config = json.loads(json.dumps(kernel.get_config()))
    rebuilt = type(kernel).from_config(config)
    assert rebuilt == kernel and rebuilt is not kernel
    serialized = json.loads(json.dumps(kernels.serialize(kernel)))
    assert get_kernel(serialized) == kernel
    x, y = make_samples(9, 7, 3, seed=31)
    np.testing.assert_array_equal(rebuilt(x, y).numpy(), kernel(x, y).numpy())


def test_names_are_shortcuts_for_the_kernel_objects():
    assert get_kernel("tutorial") == kernels.Tutorial()
    assert get_kernel("tutorial", method="tiled") == kernels.Tutorial("tiled")
    assert get_kernel("rbf") == kernels.RBF(1.0)
    assert get_kernel("rbf", bandwidth=np.float32(2.0)) == kernels.RBF(2.0)
    assert get_kernel("inverse_multiquadric", prior_variance=2) == kernels.InverseMultiquadric(
        prior_variance=2.0)
    # A setting given as None is the kernel's own; settings replace an object's.
    assert get_kernel("rbf", bandwidth=None) == kernels.RBF()
    assert get_kernel(kernels.RBF(0.5), bandwidth="median") == kernels.RBF("median")
    assert kernels.serialize("rbf") == "rbf"
    x, y = make_samples(30, 20, 4, seed=32)
    for estimator in ESTIMATORS:
        np.testing.assert_array_equal(
            compute_mmd(x, y, "rbf", estimator, bandwidth=0.9).numpy(),
            compute_mmd(x, y, kernels.RBF(0.9), estimator).numpy())


# Kernels as `.keras` files of version 0.2.0 hold them: their registered names are
# what a saved model is loaded by, whichever module defines the class.
SAVED_KERNELS = [
    ({"module": "mmdvae.kernels", "class_name": "Tutorial", "config": {"method": "matmul"},
      "registered_name": "mmdvae>Tutorial"}, kernels.Tutorial()),
    ({"module": "mmdvae.kernels", "class_name": "RBF", "config": {"bandwidth": 0.7},
      "registered_name": "mmdvae>RBF"}, kernels.RBF(0.7)),
    ({"module": "mmdvae.kernels", "class_name": "InverseMultiquadric",
      "config": {"scales": [1.0], "prior_variance": None, "bandwidth": "median"},
      "registered_name": "mmdvae>InverseMultiquadric"},
     kernels.InverseMultiquadric(scales=(1.0,), bandwidth="median")),
]


@pytest.mark.parametrize("saved, kernel", SAVED_KERNELS, ids=lambda value: repr(value)[:24])
def test_saved_kernel_configs_keep_loading(saved, kernel):
    assert keras.saving.get_registered_name(type(kernel)) == saved["registered_name"]
    assert keras.saving.get_registered_object(saved["registered_name"]) is type(kernel)
    assert get_kernel(saved) == kernel
    serialized = kernels.serialize(kernel)
    assert serialized["registered_name"] == saved["registered_name"]
    assert json.loads(json.dumps(serialized["config"])) == saved["config"]


@pytest.mark.parametrize("kernel", [
    kernels.InverseMultiquadric(scales=(0.5, 2.0), bandwidth=0.8), kernels.RBF("median")],
    ids=repr)
def test_kernel_objects_round_trip_through_a_saved_model(kernel, tmp_path):
    model = tiny_model(mmdvae.MMDVAE, kernel=kernel, estimator="unbiased")
    images = tiny_images(8)
    model.predict(images, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert loaded.divergence.kernel == kernel
    assert loaded.get_config()["kernel"] == model.get_config()["kernel"]
    z = tf.constant(make_samples(16, 1, 3, seed=33)[0], tf.float32)
    prior_z = tf.constant(make_samples(16, 1, 3, seed=34)[0], tf.float32)
    np.testing.assert_array_equal(
        compute_mmd(z, prior_z, loaded.divergence.kernel, "unbiased").numpy(),
        compute_mmd(z, prior_z, kernel, "unbiased").numpy())


@pytest.mark.parametrize("build, pattern", [
    (lambda: kernels.RBF(0.0), r"`bandwidth` must be a number > 0; received bandwidth=0.0"),
    (lambda: kernels.RBF(-1), r"`bandwidth` must be a number > 0; received bandwidth=-1"),
    (lambda: kernels.RBF(float("inf")), r"`bandwidth`.*received bandwidth=inf"),
    (lambda: kernels.RBF(None), r"`bandwidth` must be a number > 0; received bandwidth=None"),
    (lambda: kernels.RBF(True), r"`bandwidth`.*received bandwidth=True"),
    (lambda: kernels.RBF("Median"),
     r"`bandwidth` must be a number > 0 or 'median'; received bandwidth='Median'"),
    (lambda: kernels.Tutorial("fast"),
     r"`method` must be one of \('matmul', 'tiled'\); received method='fast'"),
    (lambda: kernels.InverseMultiquadric(scales=()), r"`scales`.*received scales=\(\)"),
    (lambda: kernels.InverseMultiquadric(scales=[1.0, -2.0]),
     r"`scales` must be a non-empty sequence of numbers > 0; received scales=\[1.0, -2.0\]"),
    (lambda: kernels.InverseMultiquadric(scales=2.0), r"`scales`.*received scales=2.0"),
    (lambda: kernels.InverseMultiquadric(prior_variance=0),
     r"`prior_variance` must be a number > 0; received prior_variance=0"),
    (lambda: kernels.InverseMultiquadric(bandwidth="mean"), r"received bandwidth='mean'"),
    (lambda: kernels.InverseMultiquadric(prior_variance=2.0, bandwidth=1.0),
     r"`prior_variance` and `bandwidth`.*exclusive.*prior_variance=2.0.*bandwidth=1.0"),
])
def test_bad_constructor_values_are_refused(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build()


def test_a_wrong_keyword_is_blamed_on_the_function():
    x, y = make_samples(6, 5, 2, seed=35)
    with pytest.raises(TypeError, match=r"full_data_mmd\(\) got an unexpected keyword "
                                        r"argument 'chunk_size'"):
        evaluation.full_data_mmd(x, y, chunk_size=400)
    with pytest.raises(TypeError, match=r"mmd_test\(\) got an unexpected keyword argument"):
        kernels.mmd_test(x, y, chunk_size=400)
    # compute_mmd passes its other keywords to the kernel, which names what it takes.
    with pytest.raises(ValueError, match=r"Unknown keyword argument\(s\) \['chunk_size'\] for "
                                         r"kernel='tutorial'; it takes \['method'\]"):
        compute_mmd(x, y, chunk_size=400)


# === One MMD core: compute_mmd, full_data_mmd and mmd_test's statistic ===

CORE_KERNELS = [
    kernels.Tutorial(),
    kernels.RBF(1.3),
    kernels.RBF("median"),
    kernels.InverseMultiquadric(prior_variance=0.5),
    kernels.InverseMultiquadric(bandwidth="median"),
]


@pytest.mark.parametrize("kernel", CORE_KERNELS, ids=repr)
def test_compute_mmd_full_data_mmd_and_mmd_test_agree(kernel):
    x, y = make_samples(70, 45, 5, seed=36, shift=0.3)
    for estimator in ESTIMATORS:
        reference = float(compute_mmd(x, y, kernel, estimator))
        assert reference > 1e-3
        blockwise = float(compute_mmd(x, y, kernel, estimator, block_size=16))
        full_data = evaluation.full_data_mmd(x, y, kernel, estimator, block_size=32)
        test = kernels.mmd_test(x, y, kernel, estimator=estimator, num_permutations=20)
        for value in (blockwise, full_data, test.statistic):
            assert value == pytest.approx(reference, rel=1e-12)
        # float32 samples: the same number to float32 rounding (eps = 1.2e-7).
        single = compute_mmd(*as_float32(x, y), kernel, estimator)
        assert single.dtype == tf.float32
        assert float(single) == pytest.approx(reference, rel=1e-6)
    resolved = kernel.resolved(tf.constant(x), tf.constant(y))
    assert test.kernel == resolved
    if kernel.get_config().get("bandwidth") == "median":
        pooled = np.concatenate([x, y])
        distances = np.sqrt(reference_squared_distances(pooled, pooled))
        median = np.median(distances[np.triu_indices(len(pooled), 1)])
        assert resolved.bandwidth == pytest.approx(median, rel=1e-13)


def test_blockwise_core_compiles_with_unknown_sizes():
    def blockwise(x, y):
        return compute_mmd(x, y, kernels.RBF(1.1), "unbiased", block_size=8)

    compiled = tf.function(blockwise, input_signature=SPEC, jit_compile=True)
    for num_x, num_y in [(20, 13), (8, 30)]:
        x, y = make_samples(num_x, num_y, 3, seed=num_x)
        expected = reference_mmds(x, y, ("unbiased",), kernel="rbf", bandwidth=1.1)[0]
        np.testing.assert_allclose(compiled(*as_float32(x, y)).numpy(), expected,
                                   rtol=1e-4, atol=2e-6)
        np.testing.assert_allclose(blockwise(x, y).numpy(), expected, rtol=1e-12)
