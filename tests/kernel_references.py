"""Float64 NumPy references of the kernels, the median heuristic and the MMD.

Each is the formula of the docstring it checks, written out with NumPy on
`[n, d]` float64 arrays, shared by the tests of `mmdvae.kernels`.
"""

import numpy as np

WAE_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def reference_squared_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape[0] * y.shape[0] * x.shape[1] <= 4_000_000:
        return np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
    # The float64 expansion's cancellation error (~1e-13 here) is far below the
    # tolerances tested, and it needs no [n, m, d] array.
    return np.maximum(
        np.sum(x**2, 1)[:, None] + np.sum(y**2, 1)[None, :] - 2.0 * x @ y.T, 0.0
    )


def reference_kernel(
    x,
    y,
    kernel="tutorial",
    bandwidth=None,
    prior_variance=1.0,
    scales=WAE_SCALES,
    method=None,
):
    """The `[n, m]` kernel matrix; `bandwidth` None is the kernels' default."""
    distances = reference_squared_distances(x, y)
    dim = x.shape[1]
    if kernel == "tutorial":
        return np.exp(-distances / dim**2)
    if kernel == "rbf":
        bandwidth = 1.0 if bandwidth is None else bandwidth
        return np.exp(-distances / (2.0 * bandwidth**2))
    if kernel == "inverse_multiquadric":
        if bandwidth is None:
            constants = [2.0 * dim * prior_variance * scale for scale in scales]
        else:
            constants = [2.0 * scale * bandwidth**2 for scale in scales]
        return sum(constant / (constant + distances) for constant in constants)
    raise AssertionError(kernel)


def reference_mmds(x, y, estimators=("biased",), **kernel_kwargs):
    """Float64 MMD estimates of x against y, one per estimator."""
    x_kernel = reference_kernel(x, x, **kernel_kwargs)
    y_kernel = reference_kernel(y, y, **kernel_kwargs)
    cross_mean = reference_kernel(x, y, **kernel_kwargs).mean()

    def within(matrix, estimator):
        num = matrix.shape[0]
        if estimator == "biased":
            return matrix.sum() / num**2
        return (matrix.sum() - np.trace(matrix)) / (num * (num - 1))

    return [
        within(x_kernel, estimator) + within(y_kernel, estimator) - 2.0 * cross_mean
        for estimator in estimators
    ]


def reference_median(*samples):
    """`np.median` of the distances between the distinct pairs of pooled rows."""
    pooled = np.concatenate([np.asarray(sample, np.float64) for sample in samples])
    distances = np.sqrt(reference_squared_distances(pooled, pooled))
    return float(np.median(distances[np.triu_indices(len(pooled), k=1)]))


def samples(num_x, num_y, dim, seed, shift=0.0):
    """x ~ N(0, I) and y ~ N(shift, I), float64."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_x, dim)), rng.standard_normal((num_y, dim)) + shift
