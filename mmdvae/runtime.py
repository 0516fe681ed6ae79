"""What the machine and Keras' dtype policy decide: precision, oneDNN and XLA.

- ``full_precision(values)``: half-precision network outputs cast to float32,
  so that every loss term sums in float32 or wider under a mixed-precision
  policy (``mixed_bfloat16``, ``mixed_float16``);
- ``onednn_enabled()``: whether TensorFlow runs its oneDNN CPU kernels here;
- ``default_jit_compile()``: whether XLA is the faster training step here,
  what ``compile(jit_compile="auto")`` chooses;
- ``resolve_jit_compile(jit_compile, ...)``: that choice for a compile call,
  with a strategy or eager execution taken into account.

Example:

```python
from mmdvae import runtime

runtime.default_jit_compile()   # False on a CPU with oneDNN on, True elsewhere
```
"""

import os

import tensorflow as tf


def full_precision_dtype(dtype) -> tf.DType:
    """float32 for a half-precision ``dtype`` (float16, bfloat16), else ``dtype`` itself."""
    dtype = tf.as_dtype(dtype)
    return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype


def full_precision(values):
    """``values`` in float32 when they are half precision (float16, bfloat16), else as they are.

    Under a Keras mixed-precision policy (``mixed_bfloat16``, ``mixed_float16``)
    the networks compute in half precision; their codes and outputs are cast here
    so that the likelihood, the KL and the MMD sum in float32 or wider.
    """
    return tf.cast(values, full_precision_dtype(values.dtype))


def onednn_enabled() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels in this process.

    TensorFlow turns them on by default on Linux x86 CPUs with AVX-512 VNNI or
    BF16, AVX-VNNI or AMX (``DefaultOneDnnPolicy`` in tensorflow/core/util/port.cc);
    ``TF_ENABLE_ONEDNN_OPTS=0`` or ``1`` decides instead when set.
    """
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # A TensorFlow without the query: take the environment's word.
        return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "0").lower() in ("1", "true")
    return bool(_pywrap_util_port.IsMklEnabled())


def has_gpu() -> bool:
    """Whether TensorFlow sees a GPU in this process."""
    return bool(tf.config.list_physical_devices("GPU"))


def default_jit_compile() -> bool:
    """``compile(jit_compile="auto")``: whether XLA is the faster training step here.

    ``False`` on a CPU where TensorFlow's oneDNN kernels are on (``onednn_enabled``),
    ``True`` elsewhere (a GPU; a CPU without oneDNN). On a 2-core AVX-512 Xeon,
    where oneDNN is on, the tutorial's MMD-VAE trained 1.6 times faster
    without XLA; with oneDNN off (an AVX2-only CPU), XLA was the faster step
    (``benchmarks/RESULTS.md``). Both steps give the same numbers up to float32
    rounding, but draw different random numbers from the same seed: TensorFlow's
    random kernels and XLA's are different generators.
    """
    if has_gpu():
        return True
    return not onednn_enabled()


def resolve_jit_compile(jit_compile, run_eagerly: bool = False,
                        under_strategy: bool = False) -> bool:
    """The ``jit_compile`` a compile call uses: ``True``, ``False`` or ``"auto"`` resolved.

    ``"auto"`` is ``default_jit_compile()``, and ``False`` with ``run_eagerly``
    or under a ``tf.distribute`` strategy (see ``mmdvae.distribute``). Any other
    value is a ``ValueError``.
    """
    if isinstance(jit_compile, str) and jit_compile == "auto":
        return default_jit_compile() and not run_eagerly and not under_strategy
    if isinstance(jit_compile, str) or jit_compile not in (True, False):
        raise ValueError(
            f"Argument `jit_compile` must be True, False or 'auto'; received "
            f"jit_compile={jit_compile!r}."
        )
    return bool(jit_compile)
