"""The Stein variational gradient, the divergence of the InfoVAE's Stein variant.

Liu and Wang, "Stein Variational Gradient Descent", NeurIPS 2016; Zhao, Song,
Ermon, "InfoVAE: Information Maximizing Variational Autoencoders", AAAI 2019,
appendix B. Computed with the package's kernels, in float64.
"""

from __future__ import annotations

import tensorflow as tf

from mmdvae.kernels._tensors import check_pair
from mmdvae.kernels.objects import Kernel, get_kernel


def stein_variational_gradient(
    z, scores, kernel: str | Kernel = "tutorial", **kernel_settings
) -> tf.Tensor:
    """The Stein variational gradient of ``KL(q || p)`` at the samples ``z``.

    ```
    phi(z_j) = 1/n sum_i [ k(z_i, z_j) grad log p(z_i) + grad_{z_i} k(z_i, z_j) ]
    ```

    Liu and Wang, "Stein Variational Gradient Descent", NeurIPS 2016; the
    InfoVAE paper (Zhao, Song, Ermon, AAAI 2019), appendix B, uses it as the
    divergence ``D``. Moving the samples along ``phi`` lowers the KL fastest in
    the kernel's function space. The kernel must depend on ``z_i - z_j`` only
    (the package's three do): its gradient in ``z_i`` is then minus its gradient
    in ``z_j``, which one backward pass through the kernel matrix gives.
    No gradient flows through the result; it is computed in float64 and
    returned in the input dtype.

    Args:
        z: `[n, d]` samples of `q`.
        scores: `[n, d]` values of ``grad log p(z)`` at `z`.
        kernel: a name in `KERNELS` or a translation-invariant `Kernel`; a
            `bandwidth="median"` is `median_bandwidth(z)`.
        **kernel_settings: the kernel's settings, see `get_kernel`.

    Returns:
        The `[n, d]` tensor ``phi(z_j)``.
    """
    kernel = get_kernel(kernel, **kernel_settings)
    z, scores = check_pair(tf.stop_gradient(z), tf.stop_gradient(scores))
    kernel = kernel.resolved(z)
    dtype = z.dtype
    z, scores = tf.cast(z, tf.float64), tf.cast(scores, tf.float64)
    targets = tf.identity(z)
    with tf.GradientTape() as tape:
        tape.watch(targets)
        matrix = kernel(z, targets)
        total = tf.reduce_sum(matrix)
    # sum_i grad_{z_i} k(z_i, z_j) = -grad_{z_j} sum_i k(z_i, z_j).
    repulsion = -tape.gradient(total, targets)
    attraction = tf.matmul(matrix, scores, transpose_a=True)
    num_samples = tf.cast(tf.shape(z)[0], tf.float64)
    return tf.stop_gradient(tf.cast((attraction + repulsion) / num_samples, dtype))


def stein_surrogate_loss(
    z, scores, kernel: str | Kernel = "tutorial", **kernel_settings
) -> tf.Tensor:
    """A loss whose gradient in ``z_j`` is ``-phi(z_j) / n`` (InfoVAE appendix B).

    ```
    loss = -1/n sum_j stop_gradient(phi(z_j)) . z_j
    ```

    Back-propagated into an encoder that produced ``z``, it gives the Stein
    variational gradient of ``KL(q(z) || p(z))`` with respect to the encoder's
    parameters, averaged over the batch like the other terms of the models.
    Its value is not a divergence: only its gradient means something.

    Args:
        z: `[n, d]` codes (gradients flow into them).
        scores: `[n, d]` values of ``grad log p(z)`` at `z`.
        kernel: a name in `KERNELS` or a translation-invariant `Kernel`.
        **kernel_settings: the kernel's settings, see `get_kernel`.
    """
    phi = stein_variational_gradient(z, scores, kernel, **kernel_settings)
    return -tf.reduce_mean(tf.reduce_sum(phi * z, axis=1))
