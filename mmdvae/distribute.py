"""Data-parallel training on ``tf.distribute``: what is global, what is per replica.

Under a strategy, Keras 3 runs a model's ``train_step`` once per replica on
the replica's part of the global batch and the optimizer sums the replicas'
gradients. The helpers below make a step on ``N`` replicas equal a step on
one device with the whole batch:

- ``gather``: the codes of every replica, in replica order (the global
  batch), also when the replicas hold different numbers of rows.
  Differentiable: the gradient of ``all_gather`` sums the replicas' upstream
  gradients and hands each replica its own rows. The MMD and the Stein term
  (``mmdvae.divergences``) are computed on gathered codes, and the
  per-example terms (reconstruction, KL) are means over gathered values
  (``example_mean``), so every replica holds the same, global-batch value of
  every term, whatever the split of the batch.
- ``scale_loss``: the loss a replica differentiates is divided by ``N``,
  Keras' convention (``keras.src.losses.loss.scale_loss_for_distribution``):
  the sum over replicas of ``global loss / N`` has the gradient of the global
  loss.
- ``replica_rows``: random draws made per example (the reparameterisation
  noise, the adversarial autoencoder's prior draws) are drawn once for the
  whole global batch, from the same seed on every replica, and each replica
  keeps its own rows: the draws are independent across the global batch and
  equal those of one device.

Outside a strategy, or with one replica, every helper returns its input
unchanged. ``make_strategy`` builds the strategies the command line offers.
"""

import contextlib
import json
import os
import threading
import warnings

import tensorflow as tf

from mmdvae import checks

STRATEGIES = ("none", "mirrored", "multi-worker")


def _replica_context():
    """The replica context of a step on more than one replica, else ``None``."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def num_replicas() -> int:
    """Replicas that run the current step together (1 outside a strategy)."""
    context = _replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def gather(values):
    """``values`` of every replica concatenated on axis 0 in replica order.

    The replicas may hold different numbers of rows (a global batch not divisible
    by the replicas, the smaller last batch of an epoch, a replica with none):
    each pads its rows to the longest, the padded blocks are gathered, and the
    padding is left out.
    """
    context = _replica_context()
    if context is None:
        return values
    rows = tf.shape(values)[0]
    counts = context.all_gather(tf.reshape(rows, [1]), axis=0)
    longest = tf.reduce_max(counts)
    padding = tf.concat([[[0, longest - rows]], tf.zeros([values.shape.rank - 1, 2], tf.int32)],
                        axis=0)
    padded = context.all_gather(tf.pad(values, padding), axis=0)
    starts = tf.range(context.num_replicas_in_sync) * longest
    kept = tf.ragged.range(starts, starts + counts).flat_values
    return tf.gather(_dense_gradient(padded), kept)


@tf.custom_gradient
def _dense_gradient(values):
    """The identity, whose gradient is a dense tensor (``all_gather``'s gradient needs one)."""
    return tf.identity(values), tf.convert_to_tensor


#: The sample weights of the step being traced, one slot per thread: a strategy
#: traces each replica's step in a thread of its own.
_step = threading.local()


@contextlib.contextmanager
def example_weights(weights):
    """Within the block, ``example_mean`` weights the examples by ``weights`` (or not: ``None``)."""
    previous = getattr(_step, "weights", None)
    _step.weights = None if weights is None else tf.reshape(weights, [-1])
    try:
        yield
    finally:
        _step.weights = previous


def example_mean(values):
    """The mean of per-example ``values`` over the global batch, weighted by the sample weights.

    ```
    mean = sum_i w_i values_i / sum_i w_i
    ```

    with ``w_i`` the weights of the enclosing ``example_weights`` block (``w_i = 1``
    outside one, or for ``None``; the mean is 0 when every weight is 0). Every
    replica holds the same value.
    """
    weights = getattr(_step, "weights", None)
    if weights is None:
        return tf.reduce_mean(gather(values))
    weights = tf.cast(weights, values.dtype)
    return tf.math.divide_no_nan(tf.reduce_sum(gather(weights * values)),
                                 tf.reduce_sum(gather(weights)))


def scale_loss(loss):
    """The loss a replica differentiates: ``loss / num_replicas`` (Keras' convention)."""
    replicas = num_replicas()
    return loss if replicas == 1 else loss / tf.cast(replicas, loss.dtype)


def replica_rows(draw, num_rows):
    """This replica's ``num_rows`` rows of ``draw(global_rows)``.

    ``draw(n)`` returns a tensor of ``n`` rows; it must make the same draws on
    every replica (a seed the replicas share, such as the model's
    ``keras.random.SeedGenerator``, whose state is mirrored).
    """
    context = _replica_context()
    if context is None:
        return draw(num_rows)
    num_rows = tf.cast(num_rows, tf.int32)
    counts = context.all_gather(tf.reshape(num_rows, [1]), axis=0)
    start = tf.reduce_sum(counts[: context.replica_id_in_sync_group])
    return draw(tf.reduce_sum(counts))[start:start + num_rows]


def is_multi_worker() -> bool:
    """Whether the current strategy spans several workers (processes)."""
    strategy = tf.distribute.get_strategy()
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and (
        strategy.num_replicas_in_sync > len(strategy.extended.worker_devices)
    )


def step_logs(logs: dict) -> dict:
    """The logs a step returns, shaped for Keras' reduction across replicas.

    Keras 3.15 reduces the logs of a multi-worker step with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on scalars
    ("Invalid reduction dimension 0 for input with 0 dimensions",
    tensorflow/tensorflow#72388); one-element vectors reduce to the mean scalar.
    """
    if not is_multi_worker():
        return logs
    return {name: tf.reshape(value, [1]) for name, value in logs.items()}


def uses_strategy(model) -> bool:
    """Whether ``model`` was built, or is being compiled, inside a strategy's scope."""
    return tf.distribute.has_strategy() or getattr(model, "_distribute_strategy", None) is not None


def check_scope(model, method: str) -> None:
    """Refuses ``model.<method>`` inside the scope of a strategy the model was not built in.

    A model's variables are mirrored across devices only when it is built inside
    ``strategy.scope()``; Keras would fail later with a bare ``AssertionError``.
    """
    if not tf.distribute.has_strategy():
        return
    current = tf.distribute.get_strategy()
    built_in = getattr(model, "_distribute_strategy", None)
    if built_in is current:
        return
    where = ("outside any strategy's scope" if built_in is None
             else f"in the scope of another {type(built_in).__name__}")
    raise ValueError(
        f"{type(model).__name__} was built {where}, and `{method}` was called inside the "
        f"scope of a {type(current).__name__}; its variables are not on the strategy's "
        f"devices. Build and compile the model inside `with strategy.scope():`, or call "
        f"`{method}` outside the scope (a model built in a scope uses its strategy "
        f"wherever it is called)."
    )


def check_jit_compile(model, jit_compile):
    """``jit_compile``, or ``False`` with a warning when ``model`` is under a strategy.

    Keras 3.15 compiles the whole ``strategy.run`` of a step with XLA, which
    fails when the replicas' variables sit on different devices ("Trying to
    access resource ... located in device ... CPU:1 from device ... CPU:0",
    keras-team/keras#19005); Keras' own ``jit_compile="auto"`` turns XLA off
    under a strategy for this reason.
    """
    if jit_compile and jit_compile != "auto" and uses_strategy(model):
        warnings.warn(
            f"{type(model).__name__} trains under a tf.distribute strategy, where "
            f"Keras cannot compile the step with XLA; received "
            f"jit_compile={jit_compile!r}, proceeding with jit_compile=False.",
            stacklevel=3,
        )
        return False
    return jit_compile


def make_strategy(name: str, devices=None):
    """The strategy of the command line's ``--strategy``; ``None`` for ``"none"``.

    ``"mirrored"``: ``tf.distribute.MirroredStrategy`` over ``devices`` (all
    GPUs, else the CPU, by default). ``"multi-worker"``:
    ``tf.distribute.MultiWorkerMirroredStrategy`` configured by the
    ``TF_CONFIG`` environment variable (the cluster and this worker's task),
    which is checked first. Create it at the start of the program, before any
    other TensorFlow work.
    """
    checks.check_choice("strategy", name, STRATEGIES)
    if name == "none":
        if devices is not None:
            raise ValueError(
                f"Argument `devices` needs strategy='mirrored'; received "
                f"devices={devices!r} with strategy='none'."
            )
        return None
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if devices is not None:
        raise ValueError(
            f"Argument `devices` needs strategy='mirrored' (a multi-worker strategy "
            f"uses each worker's devices); received devices={devices!r}."
        )
    check_tf_config(os.environ.get("TF_CONFIG"))
    return tf.distribute.MultiWorkerMirroredStrategy()


def check_tf_config(text):
    """Checks the ``TF_CONFIG`` of a multi-worker run: a cluster of workers and this task."""
    example = ('{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}')
    if not text:
        raise ValueError(
            f"strategy='multi-worker' needs the environment variable TF_CONFIG, e.g. "
            f"{example}; received none."
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"TF_CONFIG must be JSON such as {example}; received {text!r} ({error})."
        ) from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise ValueError(
            f"TF_CONFIG must hold a `cluster` and a `task`, e.g. {example}; "
            f"received TF_CONFIG={text!r}."
        )
    members = cluster.get(task.get("type"))
    index = task.get("index")
    if (task.get("type") not in ("chief", "worker") or not isinstance(members, list)
            or isinstance(index, bool) or not isinstance(index, int)
            or not 0 <= index < len(members)):
        raise ValueError(
            f"TF_CONFIG's `task` must be {{'type': 'worker' or 'chief', 'index': i}} "
            f"with a `cluster` entry of that type holding task i; received "
            f"TF_CONFIG={text!r}."
        )
