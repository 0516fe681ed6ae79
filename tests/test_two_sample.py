"""Tests of the MMD permutation test and the median heuristic of mmdvae.kernels.

References are plain float64 NumPy: a loop over exactly the permutations of
`permutation_indices`, and `np.median` of the pairwise distances.
"""

import numpy as np
import pytest
import tensorflow as tf

from mmdvae import kernels
from mmdvae.kernels import (
    NULL_QUANTILE_LEVELS,
    compute_mmd,
    get_kernel,
    median_bandwidth,
    mmd_test,
    permutation_indices,
)

SPEC = [tf.TensorSpec([None, None], tf.float32)] * 2
WAE_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)

# === Float64 NumPy references ===


def reference_squared_distances(x, y):
    return np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)


def reference_median(*samples):
    pooled = np.concatenate([np.asarray(sample, np.float64) for sample in samples])
    distances = np.sqrt(reference_squared_distances(pooled, pooled))
    return float(np.median(distances[np.triu_indices(len(pooled), k=1)]))


def reference_kernel_matrix(z, kernel, bandwidth=None, prior_variance=1.0):
    distances = reference_squared_distances(z, z)
    if kernel == "rbf":
        return np.exp(-distances / (2.0 * bandwidth**2))
    if kernel == "inverse_multiquadric":
        if bandwidth is None:
            constants = [2.0 * z.shape[1] * prior_variance * scale for scale in WAE_SCALES]
        else:
            constants = [2.0 * scale * bandwidth**2 for scale in WAE_SCALES]
        return sum(constant / (constant + distances) for constant in constants)
    if kernel == "tutorial":
        return np.exp(-distances / z.shape[1] ** 2)
    raise AssertionError(kernel)


def reference_statistic(matrix, x_rows, y_rows, estimator):
    within_x = matrix[np.ix_(x_rows, x_rows)]
    within_y = matrix[np.ix_(y_rows, y_rows)]
    cross = matrix[np.ix_(x_rows, y_rows)].mean()
    num_x, num_y = len(x_rows), len(y_rows)
    if estimator == "biased":
        return within_x.mean() + within_y.mean() - 2.0 * cross
    return (
        (within_x.sum() - np.trace(within_x)) / (num_x * (num_x - 1))
        + (within_y.sum() - np.trace(within_y)) / (num_y * (num_y - 1))
        - 2.0 * cross
    )


def reference_test(x, y, kernel, bandwidth, estimator, num_permutations, seed, **kwargs):
    """Plain loop over the permutations: (statistic, null statistics, p-value)."""
    pooled = np.concatenate([x, y])
    matrix = reference_kernel_matrix(pooled, kernel, bandwidth, **kwargs)
    num_x = len(x)
    observed = reference_statistic(matrix, np.arange(num_x), np.arange(num_x, len(pooled)),
                                   estimator)
    null = []
    for permutation in permutation_indices(len(pooled), num_permutations, seed):
        null.append(reference_statistic(matrix, permutation[:num_x], permutation[num_x:],
                                         estimator))
    null = np.array(null)
    p_value = (1 + np.count_nonzero(null >= observed)) / (1 + num_permutations)
    return observed, null, p_value


def samples(num_x, num_y, dim, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_x, dim)), rng.standard_normal((num_y, dim)) + shift


def rejection_rate(shift, num_repetitions, num_permutations, seed, level=0.05):
    """Share of `num_repetitions` tests at n = m = 200, d = 10 with p <= level."""
    rng = np.random.default_rng(seed)
    rejections = 0
    for repetition in range(num_repetitions):
        x = rng.standard_normal((200, 10))
        y = rng.standard_normal((200, 10)) + shift
        result = mmd_test(x, y, num_permutations=num_permutations, seed=repetition)
        rejections += result.p_value <= level
    return rejections / num_repetitions


# === (a, b) Calibration under the null and power against a mean shift ===


def test_calibration_under_the_null():
    # x and y both N(0, I_10): P(p <= 0.05) = 5/101 for B = 100 permutations.
    rate = rejection_rate(0.0, num_repetitions=500, num_permutations=100, seed=0)
    print(f"rejection rate at 0.05 under the null, 500 repetitions: {rate:.3f}")
    assert 0.03 <= rate <= 0.07


def test_power_against_mean_shift():
    # y ~ N(0.3 e_1, I_10): a mean shift of norm 0.3.
    shift = np.zeros(10)
    shift[0] = 0.3
    power = rejection_rate(shift, num_repetitions=100, num_permutations=100, seed=1)
    print(f"power at 0.05 against a mean shift of 0.3, 100 repetitions: {power:.2f}")
    assert power > 0.3


@pytest.mark.slow
def test_calibration_and_power_many_repetitions():
    rate = rejection_rate(0.0, num_repetitions=2000, num_permutations=200, seed=2)
    print(f"rejection rate at 0.05 under the null, 2000 repetitions: {rate:.4f}")
    assert 0.04 <= rate <= 0.06
    shift = np.zeros(10)
    shift[0] = 0.3
    power = rejection_rate(shift, num_repetitions=500, num_permutations=200, seed=3)
    print(f"power at 0.05 against a mean shift of 0.3, 500 repetitions: {power:.3f}")
    assert power > 0.35


# === (c) Against a NumPy loop over the same permutations ===


@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize(
    "kernel, bandwidth, kwargs",
    [
        ("rbf", "median", {}),
        ("rbf", 1.7, {}),
        ("inverse_multiquadric", "median", {}),
        ("inverse_multiquadric", None, {"prior_variance": 0.5}),
        ("tutorial", None, {}),
    ],
)
def test_matches_numpy_permutation_loop(kernel, bandwidth, kwargs, estimator):
    x, y = samples(31, 20, 4, seed=5, shift=0.25)
    num_permutations = 199
    result = mmd_test(x, y, kernel=get_kernel(kernel, **kwargs), bandwidth=bandwidth,
                      estimator=estimator, num_permutations=num_permutations, seed=11)
    expected_bandwidth = reference_median(x, y) if bandwidth == "median" else bandwidth
    if bandwidth is None:
        assert result.bandwidth is None
    else:
        np.testing.assert_allclose(result.bandwidth, expected_bandwidth, rtol=1e-12)
    observed, null, p_value = reference_test(
        x, y, kernel, expected_bandwidth, estimator, num_permutations, seed=11, **kwargs
    )
    np.testing.assert_allclose(result.statistic, observed, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(result.null_statistics, null, rtol=1e-10, atol=1e-13)
    assert result.p_value == p_value
    assert 0.0 < result.p_value < 1.0 and result.num_permutations == num_permutations
    assert list(result.null_quantiles) == list(NULL_QUANTILE_LEVELS)
    np.testing.assert_allclose(list(result.null_quantiles.values()),
                               np.quantile(null, NULL_QUANTILE_LEVELS), rtol=1e-9, atol=1e-13)
    # The statistic is compute_mmd's, with the bandwidth the test used.
    mmd_kwargs = dict(kwargs)
    if bandwidth is not None:
        mmd_kwargs["bandwidth"] = result.bandwidth
    mmd = compute_mmd(x, y, kernel=kernel, estimator=estimator, **mmd_kwargs)
    np.testing.assert_allclose(result.statistic, float(mmd), rtol=1e-12, atol=1e-15)


def test_blocks_do_not_change_the_result():
    x, y = samples(40, 25, 3, seed=6, shift=0.2)
    whole = mmd_test(x, y, num_permutations=300, seed=4)
    # 7 rows of K and 7 permutations at a time: 10 x 43 blocks.
    blocked = mmd_test(x, y, num_permutations=300, seed=4, block_size=7)
    assert blocked.bandwidth == pytest.approx(whole.bandwidth, rel=1e-13)
    np.testing.assert_allclose(blocked.null_statistics, whole.null_statistics, atol=1e-14)
    assert blocked.p_value == whole.p_value


def test_permutation_indices():
    permutations = permutation_indices(9, 50, seed=3)
    assert permutations.shape == (50, 9)
    np.testing.assert_array_equal(np.sort(permutations, axis=1), np.tile(np.arange(9), (50, 1)))
    np.testing.assert_array_equal(permutations, permutation_indices(np.int64(9), np.int32(50), 3))
    assert not np.array_equal(permutations, permutation_indices(9, 50, seed=4))
    # The first rows do not depend on how many are drawn.
    np.testing.assert_array_equal(permutation_indices(9, 20, seed=3), permutations[:20])
    # Different rows are different permutations (9! = 362880 possible).
    assert len({tuple(row) for row in permutations}) == 50


def test_seed_reproducible_and_callable_kernel():
    x, y = samples(20, 30, 2, seed=7, shift=0.5)
    first = mmd_test(x, y, num_permutations=np.int64(100), seed=np.int32(2))
    again = mmd_test(tf.constant(x, tf.float32), y.tolist(), num_permutations=100, seed=2)
    np.testing.assert_array_equal(first.null_statistics,
                                  mmd_test(x, y, num_permutations=100, seed=2).null_statistics)
    # float32 input is converted to float64 before the kernel.
    np.testing.assert_allclose(again.statistic, first.statistic, rtol=1e-5)

    class Gaussian(kernels.RBF):
        def __call__(self, a, b):
            bandwidth = self.bandwidth
            return tf.exp(-kernels.squared_distances(a, b) / (2.0 * bandwidth**2))

    custom = mmd_test(x, y, kernel=Gaussian("median"), num_permutations=100, seed=2)
    np.testing.assert_allclose(custom.null_statistics, first.null_statistics, atol=1e-14)
    assert custom.p_value == first.p_value


def test_clear_difference_gives_smallest_p_value():
    x, y = samples(50, 60, 3, seed=8, shift=2.0)
    result = mmd_test(x, y, num_permutations=99)
    assert result.p_value == pytest.approx(1.0 / 100.0)
    assert result.statistic > result.null_quantiles[0.99] > result.null_quantiles[0.5]


# === (d) The median heuristic ===


@pytest.mark.parametrize("num_x, num_y", [(5, 4), (6, 4), (33, 17), (30, 18)])
def test_median_bandwidth_matches_numpy(num_x, num_y):
    # 9 and 48 pooled rows: 36 and 1128 pairs (even); 10 and 50 rows: 45, 1225 (odd).
    x, y = samples(num_x, num_y, 3, seed=num_x)
    expected = reference_median(x, y)
    np.testing.assert_allclose(float(median_bandwidth(x, y)), expected, rtol=1e-13)
    np.testing.assert_allclose(float(median_bandwidth(x)), reference_median(x), rtol=1e-13)
    x32, y32 = (tf.constant(array, tf.float32) for array in (x, y))
    value = median_bandwidth(x32, y32)
    assert value.dtype == tf.float32
    np.testing.assert_allclose(float(value), expected, rtol=2e-6)
    if num_x == 33:  # one XLA compilation per dtype is enough
        compiled = tf.function(median_bandwidth, input_signature=SPEC, jit_compile=True)
        np.testing.assert_allclose(float(compiled(x32, y32)), expected, rtol=2e-6)
        compiled = tf.function(median_bandwidth, jit_compile=True)
        np.testing.assert_allclose(float(compiled(tf.constant(x), tf.constant(y))), expected,
                                   rtol=1e-13)
    blocked = kernels._median_pair_distance(np.concatenate([x, y]), block_size=4)
    np.testing.assert_allclose(blocked, expected, rtol=1e-13)


def test_median_with_odd_and_even_number_of_pairs():
    # Points on a line at 0, 1, 3 (pairs 1, 2, 3 -> median 2) and 0, 1, 3, 7
    # (pairs 1, 2, 3, 4, 6, 7 -> median 3.5).
    three = np.array([[0.0], [1.0], [3.0]])
    four = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert float(median_bandwidth(three)) == pytest.approx(2.0, rel=1e-12)
    assert float(median_bandwidth(four[:2], four[2:])) == pytest.approx(3.5, rel=1e-12)
    assert kernels._median_pair_distance(four, block_size=1) == pytest.approx(3.5, rel=1e-12)
    # Repeated points: distances 0, 0, 0, 5, 5, 5 -> median 2.5.
    repeated = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    assert float(median_bandwidth(repeated)) == pytest.approx(2.5, rel=1e-12)
    assert float(median_bandwidth(tf.constant(repeated, tf.float32))) == pytest.approx(2.5)
    assert kernels._median_pair_distance(repeated, block_size=3) == pytest.approx(2.5)


def test_median_of_many_pairs_counts_in_bins(monkeypatch):
    # With the buffer capped at 500 pair distances, the median of the 7750 pairs
    # is found through the counting pass; it must stay exact.
    x, y = samples(70, 55, 6, seed=9, shift=0.1)
    y[:10] = y[0]  # ties
    monkeypatch.setattr(kernels, "_MEDIAN_MAX_VALUES", 500)
    monkeypatch.setattr(kernels, "_MEDIAN_SUBSAMPLE_ROWS", 40)
    monkeypatch.setattr(kernels, "_MEDIAN_BINS", 64)
    for block_size in (1, 16, 1000):
        value = kernels._median_pair_distance(np.concatenate([x, y]), block_size)
        np.testing.assert_allclose(value, reference_median(x, y), rtol=1e-13)


def test_median_bandwidth_eager_and_in_a_graph_is_the_same_median():
    # Eagerly the distances are formed block by block and partitioned by NumPy; in a
    # graph the whole matrix is searched. Both are np.median's value.
    x, y = samples(70, 55, 6, seed=18, shift=0.1)
    expected = reference_median(x, y)
    np.testing.assert_allclose(float(median_bandwidth(x, y)), expected, rtol=1e-13)
    graph = tf.function(median_bandwidth)(tf.constant(x), tf.constant(y))
    np.testing.assert_allclose(float(graph), expected, rtol=1e-13)
    # max_rows: the median of evenly spaced pooled rows.
    rows = np.linspace(0, 124, 50).astype(np.int64)
    np.testing.assert_allclose(float(median_bandwidth(x, y, max_rows=50)),
                               reference_median(np.concatenate([x, y])[rows]), rtol=1e-13)


MEDIAN_KERNELS = [("rbf", "unbiased"), ("rbf", "biased"), ("inverse_multiquadric", "unbiased")]


def median_estimates(x, y, bandwidth="median"):
    return tf.stack([
        compute_mmd(x, y, kernel=kernel, estimator=estimator, bandwidth=bandwidth)
        for kernel, estimator in MEDIAN_KERNELS
    ])


def test_compute_mmd_median_equals_explicit_bandwidth():
    x, y = samples(40, 30, 5, seed=10, shift=0.3)
    x32, y32 = (tf.constant(array, tf.float32) for array in (x, y))
    expected = median_estimates(x32, y32, reference_median(x32.numpy(), y32.numpy()))
    for function in (
        median_estimates,
        tf.function(median_estimates, input_signature=SPEC),
        tf.function(median_estimates, input_signature=SPEC, jit_compile=True),
    ):
        np.testing.assert_allclose(function(x32, y32), expected, rtol=1e-5, atol=1e-7)
    # In float64 the match with the NumPy median is tight.
    np.testing.assert_allclose(
        median_estimates(x, y), median_estimates(x, y, reference_median(x, y)),
        rtol=1e-12, atol=1e-15,
    )


def test_compute_mmd_median_is_pooled_not_per_pair():
    # Kernel matrices of x with x and y with y alone would have other medians.
    x, y = samples(30, 30, 4, seed=12, shift=3.0)
    pooled = float(compute_mmd(x, y, "rbf", bandwidth=reference_median(x, y)))
    per_call = get_kernel("rbf", bandwidth="median")
    separate = (np.mean(per_call(x, x)) + np.mean(per_call(y, y))
                - 2.0 * np.mean(per_call(x, y)))
    assert float(compute_mmd(x, y, "rbf", bandwidth="median")) == pytest.approx(pooled, 1e-12)
    assert abs(separate - pooled) > 0.05


def test_get_kernel_median():
    x, y = samples(12, 9, 3, seed=13)
    expected = reference_kernel_matrix(np.concatenate([x, y]), "rbf", reference_median(x, y))
    np.testing.assert_allclose(get_kernel("rbf", bandwidth="median")(x, y),
                               expected[:12, 12:], rtol=1e-12)
    # With one tensor given twice, its own rows are pooled.
    x_tensor = tf.constant(x)
    np.testing.assert_allclose(
        get_kernel("inverse_multiquadric", bandwidth="median")(x_tensor, x_tensor),
        reference_kernel_matrix(x, "inverse_multiquadric", reference_median(x)),
        rtol=1e-12,
    )


def test_inverse_multiquadric_bandwidth_matches_prior_variance():
    # C_s = 2 s bandwidth^2 equals C_s = 2 d prior_variance s at bandwidth^2 = d prior_variance.
    x, y = samples(10, 8, 4, seed=14)
    np.testing.assert_allclose(
        kernels.InverseMultiquadric(bandwidth=np.sqrt(4 * 0.7))(x, y),
        kernels.InverseMultiquadric(prior_variance=0.7)(x, y),
        rtol=1e-12,
    )


def test_median_gradient_flows_only_through_kernel():
    x, y = (tf.constant(array, tf.float32) for array in samples(25, 20, 3, seed=15, shift=0.4))

    def gradient(bandwidth):
        with tf.GradientTape() as tape:
            tape.watch(x)
            mmd = compute_mmd(x, y, "rbf", "unbiased", bandwidth=bandwidth)
        return tape.gradient(mmd, x)

    fixed = gradient(tf.constant(reference_median(x.numpy(), y.numpy()), tf.float32))
    np.testing.assert_allclose(gradient("median"), fixed, rtol=1e-4, atol=1e-7)

    @tf.function(input_signature=SPEC, jit_compile=True)
    def compiled(x, y):
        with tf.GradientTape() as tape:
            tape.watch(x)
            mmd = compute_mmd(x, y, "rbf", "unbiased", bandwidth="median")
        return tape.gradient(mmd, x)

    np.testing.assert_allclose(compiled(x, y), fixed, rtol=1e-4, atol=1e-7)


def test_stein_gradient_median():
    z = tf.constant(samples(30, 1, 3, seed=16)[0], tf.float32)
    scores = -z
    explicit = kernels.stein_variational_gradient(
        z, scores, "rbf", bandwidth=reference_median(z.numpy()))
    np.testing.assert_allclose(
        kernels.stein_variational_gradient(z, scores, "rbf", bandwidth="median"), explicit,
        rtol=1e-4, atol=1e-6,
    )
    compiled = tf.function(
        lambda z, scores: kernels.stein_surrogate_loss(z, scores, "rbf", bandwidth="median"),
        input_signature=SPEC, jit_compile=True,
    )
    expected = kernels.stein_surrogate_loss(z, scores, "rbf",
                                            bandwidth=reference_median(z.numpy()))
    np.testing.assert_allclose(compiled(z, scores), expected, rtol=1e-4, atol=1e-6)


# === (e) Bad arguments ===

X, Y = samples(6, 5, 2, seed=17)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"num_permutations": 0}, ValueError,
         r"`num_permutations` must be an integer >= 1; received num_permutations=0"),
        ({"num_permutations": 100.0}, TypeError,
         r"`num_permutations`.*received num_permutations=100.0 of type float"),
        ({"num_permutations": True}, TypeError, r"`num_permutations`.*True"),
        ({"seed": -1}, ValueError, r"`seed` must be an integer >= 0; received seed=-1"),
        ({"seed": None}, TypeError, r"`seed`.*received seed=None"),
        ({"block_size": 0}, ValueError, r"`block_size`.*received block_size=0"),
        ({"estimator": "u"}, ValueError, r"`estimator` must be one of .*received estimator='u'"),
        ({"kernel": "gauss"}, ValueError, r"`kernel` must be one of .*received kernel='gauss'"),
        ({"bandwidth": "mean"}, ValueError,
         r"`bandwidth` must be a number > 0 or 'median'; received bandwidth='mean'"),
        ({"bandwidth": -1.0}, ValueError, r"`bandwidth` must be a number > 0; .*=-1.0"),
        ({"bandwidth": float("nan")}, ValueError, r"`bandwidth`.*received bandwidth=nan"),
        ({"kernel": "tutorial", "bandwidth": "median"}, ValueError,
         r"Unknown keyword argument\(s\) \['bandwidth'\] for kernel='tutorial'"),
        ({"kernel": "rbf", "sigma": 1.0}, TypeError,
         r"mmd_test\(\) got an unexpected keyword argument 'sigma'"),
        ({"kernel": kernels.InverseMultiquadric(prior_variance=2.0), "bandwidth": "median"},
         ValueError, r"`prior_variance` and `bandwidth`.*exclusive.*bandwidth='median'"),
    ],
)
def test_bad_arguments(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        mmd_test(X, Y, **kwargs)


@pytest.mark.parametrize(
    "x, y, error, pattern",
    [
        (X[:, 0], Y, ValueError, r"`x` must have shape \(num_samples, dim\).*shape \(6,\)"),
        (X, Y[:, :1], ValueError, r"same number of columns.*\(6, 2\).*\(5, 1\)"),
        (X, np.zeros((5, 0)), ValueError, r"`y` must have shape.*dim >= 1.*\(5, 0\)"),
        (X[:1], Y, ValueError, r"`x` must have at least 2 rows here; received shape \(1, 2\)"),
        (X, np.where(np.arange(10).reshape(5, 2) == 7, np.nan, Y), ValueError,
         r"`y` must be finite; received 1 non-finite entries, the first nan at row 3, column 1"),
        (np.array([["a", "b"]] * 3), Y, TypeError, r"`x` must hold real numbers.*dtype <U1"),
        (X, np.ones((5, 2), bool), TypeError, r"`y` must hold real numbers.*dtype bool"),
        ([[1.0, 2.0], [3.0]], Y, TypeError, r"`x` must be a `\[num_samples, dim\]` array"),
    ],
)
def test_bad_samples(x, y, error, pattern):
    with pytest.raises(error, match=pattern):
        mmd_test(x, y)


def test_one_row_allowed_for_biased_estimator():
    result = mmd_test(X[:1], Y, estimator="biased", num_permutations=20)
    assert 0.0 < result.p_value <= 1.0


def test_degenerate_median():
    with pytest.raises(ValueError, match=r"median heuristic gave bandwidth 0"):
        mmd_test(np.zeros((4, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"at least 2 rows in the pooled sample"):
        median_bandwidth(tf.zeros([1, 3]))


@pytest.mark.parametrize(
    "kernel, kwargs, pattern",
    [
        ("rbf", {"bandwidth": "Median"}, r"received bandwidth='Median'"),
        ("rbf", {"bandwidth": -2.0}, r"`bandwidth` must be a number > 0; received bandwidth=-2.0"),
        ("inverse_multiquadric", {"bandwidth": 1.0, "prior_variance": 2.0},
         r"`prior_variance` and `bandwidth`.*exclusive.*prior_variance=2.0.*bandwidth=1.0"),
        ("inverse_multiquadric", {"bandwidth": "med"}, r"received bandwidth='med'"),
    ],
)
def test_bad_bandwidths(kernel, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        get_kernel(kernel, **kwargs)
    with pytest.raises(ValueError, match=pattern):
        compute_mmd(X, Y, kernel=kernel, **kwargs)


def test_permutation_indices_bad_arguments():
    with pytest.raises(ValueError, match=r"`num_samples` must be an integer >= 1; .*=0"):
        permutation_indices(0, 10)
    with pytest.raises(TypeError, match=r"`num_permutations`.*=2.5 of type float"):
        permutation_indices(5, 2.5)
