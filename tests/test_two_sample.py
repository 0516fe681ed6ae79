"""Tests of the MMD permutation test of mmdvae.kernels, `mmd_test`.

References are plain float64 NumPy: a loop over exactly the permutations of
`permutation_indices`, and `np.median` of the pairwise distances.
"""

import numpy as np
import pytest
import tensorflow as tf
from kernel_references import reference_kernel, reference_median, samples

from mmdvae import kernels
from mmdvae.kernels import (
    NULL_QUANTILE_LEVELS,
    compute_mmd,
    get_kernel,
    mmd_test,
    permutation_indices,
)

# === Float64 NumPy references ===


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
    matrix = reference_kernel(pooled, pooled, kernel, bandwidth, **kwargs)
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


# === (d) Bad arguments ===

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
