"""Kernels and the maximum mean discrepancy (MMD), the MMD-VAE's divergence.

The estimator and its equation are in `mmd`. The package, one module per piece:

- `objects`: the kernels, `Tutorial()`, `RBF(bandwidth)`,
  `InverseMultiquadric(scales)` or a subclass of `Kernel`, and `get_kernel`,
  which also resolves the names `"tutorial"`, `"rbf"` and
  `"inverse_multiquadric"`;
- `distances`: `squared_distances`, which every kernel is a function of (its
  inputs centred on their common mean, so that its rounding error scales with
  the spread of the samples, not their distance from the origin), and the
  tutorial's own `compute_kernel`;
- `median`: `median_bandwidth`, the median heuristic behind every
  `bandwidth="median"`;
- `mmd`: `compute_mmd`, the one MMD core (float64 sums, whole or block by block),
  which the models' MMD term, `mmdvae.evaluation.full_data_mmd` and the
  statistic of `mmd_test` all are;
- `stein`: the Stein variational gradient of the InfoVAE's Stein variant;
- `two_sample` and `permutations`: `mmd_test`, the permutation two-sample test.

Everything but the two-sample test is plain TensorFlow: it runs eagerly, inside
`tf.function` and under XLA (`jit_compile=True`), with batch sizes known only at
run time; `mmd_test` runs eagerly on whole sample sets.
"""

from mmdvae.kernels.distances import compute_kernel, squared_distances
from mmdvae.kernels.median import median_bandwidth
from mmdvae.kernels.mmd import ESTIMATORS, compute_mmd
from mmdvae.kernels.objects import (
    INVERSE_MULTIQUADRIC_SCALES,
    KERNELS,
    MEDIAN,
    METHODS,
    RBF,
    InverseMultiquadric,
    Kernel,
    Tutorial,
    get_kernel,
    serialize,
)
from mmdvae.kernels.permutations import permutation_indices
from mmdvae.kernels.stein import stein_surrogate_loss, stein_variational_gradient
from mmdvae.kernels.two_sample import (
    MAX_MMD_TEST_BYTES,
    NULL_QUANTILE_LEVELS,
    MMDTestResult,
    check_mmd_test_size,
    mmd_test,
)

__all__ = [
    "ESTIMATORS",
    "INVERSE_MULTIQUADRIC_SCALES",
    "KERNELS",
    "MAX_MMD_TEST_BYTES",
    "MEDIAN",
    "METHODS",
    "NULL_QUANTILE_LEVELS",
    "RBF",
    "InverseMultiquadric",
    "Kernel",
    "MMDTestResult",
    "Tutorial",
    "check_mmd_test_size",
    "compute_kernel",
    "compute_mmd",
    "get_kernel",
    "median_bandwidth",
    "mmd_test",
    "permutation_indices",
    "serialize",
    "squared_distances",
    "stein_surrogate_loss",
    "stein_variational_gradient",
]
