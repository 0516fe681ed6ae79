"""Tests of the median heuristic of mmdvae.kernels, `median_bandwidth`.

The reference is `np.median` of the float64 pairwise distances between the
distinct pairs of pooled rows; every `bandwidth="median"` (kernels, `compute_mmd`,
the Stein gradient, `mmd_test`) must be that value.
"""

import numpy as np
import pytest
import tensorflow as tf
from kernel_references import reference_kernel, reference_median, samples

from mmdvae import kernels
from mmdvae.kernels import compute_mmd, get_kernel, median, median_bandwidth, mmd_test

SPEC = [tf.TensorSpec([None, None], tf.float32)] * 2

# === np.median's value: eagerly, in a graph, under XLA, in bounded memory ===


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
    blocked = median._median_pair_distance(np.concatenate([x, y]), block_size=4)
    np.testing.assert_allclose(blocked, expected, rtol=1e-13)


def test_median_with_odd_and_even_number_of_pairs():
    # Points on a line at 0, 1, 3 (pairs 1, 2, 3 -> median 2) and 0, 1, 3, 7
    # (pairs 1, 2, 3, 4, 6, 7 -> median 3.5).
    three = np.array([[0.0], [1.0], [3.0]])
    four = np.array([[0.0], [1.0], [3.0], [7.0]])
    assert float(median_bandwidth(three)) == pytest.approx(2.0, rel=1e-12)
    assert float(median_bandwidth(four[:2], four[2:])) == pytest.approx(3.5, rel=1e-12)
    assert median._median_pair_distance(four, block_size=1) == pytest.approx(3.5, rel=1e-12)
    # Repeated points: distances 0, 0, 0, 5, 5, 5 -> median 2.5.
    repeated = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    assert float(median_bandwidth(repeated)) == pytest.approx(2.5, rel=1e-12)
    assert float(median_bandwidth(tf.constant(repeated, tf.float32))) == pytest.approx(2.5)
    assert median._median_pair_distance(repeated, block_size=3) == pytest.approx(2.5)


def test_median_of_many_pairs_counts_in_bins(monkeypatch):
    # With the buffer capped at 500 pair distances, the median of the 7750 pairs
    # is found through the counting pass; it must stay exact.
    x, y = samples(70, 55, 6, seed=9, shift=0.1)
    y[:10] = y[0]  # ties
    monkeypatch.setattr(median, "_MEDIAN_MAX_VALUES", 500)
    monkeypatch.setattr(median, "_MEDIAN_SUBSAMPLE_ROWS", 40)
    monkeypatch.setattr(median, "_MEDIAN_BINS", 64)
    for block_size in (1, 16, 1000):
        value = median._median_pair_distance(np.concatenate([x, y]), block_size)
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


# === Every bandwidth="median" is that value ===

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
    expected = reference_kernel(x, y, "rbf", reference_median(x, y))
    np.testing.assert_allclose(get_kernel("rbf", bandwidth="median")(x, y), expected,
                               rtol=1e-12)
    # With one tensor given twice, its own rows are pooled.
    x_tensor = tf.constant(x)
    np.testing.assert_allclose(
        get_kernel("inverse_multiquadric", bandwidth="median")(x_tensor, x_tensor),
        reference_kernel(x, x, "inverse_multiquadric", reference_median(x)),
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


def test_degenerate_median():
    with pytest.raises(ValueError, match=r"median heuristic gave bandwidth 0"):
        mmd_test(np.zeros((4, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"at least 2 rows in the pooled sample"):
        median_bandwidth(tf.zeros([1, 3]))
