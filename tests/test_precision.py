"""Mixed precision and the compiled training step.

Under a Keras mixed-precision policy the networks compute in half precision while the
likelihood, the KL and the MMD sum in float32 (the MMD's means in float64); the
``jit_compile="auto"`` default of ``compile`` gives the plain step's numbers.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import LATENT_DIM, compile_model, fix_random_numbers, tiny_images, tiny_model

import mmdvae
from mmdvae import kernels, runtime
from mmdvae.models import registry

#: bfloat16 keeps 8 significant bits (unit roundoff 2^-8 = 0.4 %); the terms of the tiny
#: networks sum a few layers of such roundings: measured within 1e-5 of float32 for the
#: losses and 0.15 % for the ELBO's KL.
BFLOAT16_LOSS_RTOL = 1e-2
#: The MMD computed from float32 codes with float64 means, against a float64 NumPy MMD of
#: the same codes: float32 rounding of the distances only.
MMD_RTOL = 1e-6


@pytest.fixture
def policy(request):
    """Sets the global Keras dtype policy for one test and restores float32 after it."""
    keras.mixed_precision.set_global_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_global_policy("float32")


def numpy_mmd(x, y):
    """The biased MMD with the tutorial kernel exp(-||x - y||^2 / d^2), in float64."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    dim = x.shape[1]

    def kernel_mean(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / dim**2).mean()

    return kernel_mean(x, x) + kernel_mean(y, y) - 2.0 * kernel_mean(x, y)


def terms_and_codes(name, arguments, images):
    model = tiny_model(name, **arguments)
    fix_random_numbers(model)
    images = tf.constant(images)
    terms = model.compute_terms(images, training=True)
    z, _, _ = model.posterior(images, training=True)
    return model, {key: float(value) for key, value in terms.items()}, terms, z


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("name, arguments", [
    ("mmd", {"network": "conv"}),
    ("elbo", {}),
    ("aae", {}),
])
def test_mixed_bfloat16_networks_are_half_and_the_loss_is_float32(policy, name, arguments):
    images = tiny_images()
    keras.mixed_precision.set_global_policy("float32")
    _, expected, _, _ = terms_and_codes(name, arguments, images)
    keras.mixed_precision.set_global_policy(policy)
    model, values, terms, z = terms_and_codes(name, arguments, images)

    outputs = model.encoder(tf.constant(images))
    assert all(output.dtype == tf.bfloat16 for output in tf.nest.flatten(outputs))
    assert model.decoder(z).dtype == tf.bfloat16
    assert z.dtype == tf.float32
    assert all(term.dtype == tf.float32 for term in terms.values())
    for key, value in expected.items():
        np.testing.assert_allclose(values[key], value, rtol=BFLOAT16_LOSS_RTOL, err_msg=key)
    # The networks did run in bfloat16: the numbers are not float32's.
    assert values["loss"] != expected["loss"]


@pytest.mark.parametrize("policy", ["mixed_bfloat16"], indirect=True)
def test_mixed_bfloat16_mutual_ae_sums_its_exact_bound_in_float32(policy):
    """A single categorical variable: ``I_hat`` summed over its 5 values from half networks."""
    one_hot = tf.constant(np.eye(5, dtype="float32")[np.arange(16) % 5])

    def terms():
        model = tiny_model(mmdvae.MutualAE, latent_dim=1, image_shape=(5,),
                           likelihood="categorical", information=0.7)
        fix_random_numbers(model)
        return model, model.compute_terms(one_hot, training=True)

    keras.mixed_precision.set_global_policy("float32")
    _, expected = terms()
    keras.mixed_precision.set_global_policy(policy)
    model, values = terms()
    assert model.exact_bound
    assert model.decoder(tf.zeros([1, 1])).dtype == tf.bfloat16
    assert all(output.dtype == tf.bfloat16
               for output in tf.nest.flatten(model.inference_network(one_hot)))
    for key, value in values.items():
        assert value.dtype == tf.float32, key
        np.testing.assert_allclose(float(value), float(expected[key]),
                                   rtol=BFLOAT16_LOSS_RTOL, atol=1e-4, err_msg=key)
    assert float(values["mutual_information_bound"]) != float(
        expected["mutual_information_bound"])


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"], indirect=True)
def test_the_mmd_of_half_precision_networks_keeps_its_float64_accuracy(policy):
    model, values, _, z = terms_and_codes("mmd", {}, tiny_images())
    prior_samples = model.prior_samples(len(z))
    assert z.dtype == tf.float32 and prior_samples.dtype == tf.float32
    np.testing.assert_allclose(values["mmd"], float(kernels.compute_mmd(z, prior_samples)),
                               rtol=1e-7)
    np.testing.assert_allclose(values["mmd"], numpy_mmd(z, prior_samples), rtol=MMD_RTOL)


@pytest.mark.parametrize("policy", ["mixed_float16"], indirect=True)
def test_mixed_float16_scales_the_loss(policy):
    """Keras wraps the optimizer in a LossScaleOptimizer; the step scales the loss.

    With SGD an update is proportional to the gradient, so an unscaled loss would
    give updates 2^15 times too small.
    """
    images = tiny_images()
    updates = {}
    for current in ("float32", policy):
        keras.mixed_precision.set_global_policy(current)
        model = tiny_model("mmd")
        fix_random_numbers(model)
        model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=False)
        before = [np.array(weight) for weight in model.autoencoder_weights]
        model.train_on_batch(images)
        updates[current] = [np.array(weight) - old
                            for weight, old in zip(model.autoencoder_weights, before, strict=True)]
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    for half, single in zip(updates[policy], updates["float32"], strict=True):
        # float16 products on a CPU: the decoder's gradients measured within 3.4 % of
        # float32's; an unscaled loss would differ by ~100 %.
        assert np.linalg.norm(half - single) <= 0.1 * np.linalg.norm(single)


def test_auto_jit_compile_is_a_boolean_from_the_machine():
    model = tiny_model("mmd")
    model.compile()
    assert isinstance(model.jit_compile, bool)
    assert model.jit_compile == runtime.default_jit_compile()
    model.compile(jit_compile=True)
    assert model.jit_compile is True
    with pytest.raises(ValueError, match="jit_compile='yes'"):
        model.compile(jit_compile="yes")


def test_the_jit_choice_follows_the_onednn_kernels_and_the_call():
    # XLA where TensorFlow's oneDNN CPU kernels are off (or on a GPU), else the graph kernels.
    assert runtime.default_jit_compile() is (runtime.has_gpu() or not runtime.onednn_enabled())
    auto = runtime.default_jit_compile()
    assert runtime.resolve_jit_compile("auto") is auto
    assert runtime.resolve_jit_compile("auto", run_eagerly=True) is False
    assert runtime.resolve_jit_compile("auto", under_strategy=True) is False
    assert runtime.resolve_jit_compile(True, under_strategy=True) is True
    assert runtime.resolve_jit_compile(np.bool_(False)) is False
    for bad in ("yes", 2, None):
        with pytest.raises(ValueError, match=f"must be True, False or 'auto'; received "
                                             f"jit_compile={bad!r}"):
            runtime.resolve_jit_compile(bad)


def test_full_precision_casts_half_precision_only():
    for dtype, expected in ((tf.float16, tf.float32), (tf.bfloat16, tf.float32),
                            (tf.float32, tf.float32), (tf.float64, tf.float64)):
        values = tf.constant([1.5, -2.25], dtype=dtype)
        assert runtime.full_precision(values).dtype == expected
        np.testing.assert_array_equal(runtime.full_precision(values), [1.5, -2.25])


def test_auto_jit_compile_is_off_under_a_strategy_without_a_warning(recwarn):
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = tiny_model("mmd")
        model.compile()
    assert model.jit_compile is False
    assert not [warning for warning in recwarn if "jit_compile" in str(warning.message)]


@pytest.mark.parametrize("name", ["mmd", "elbo"])
def test_the_compiled_step_gives_the_plain_steps_losses(name):
    """20 steps of the default networks with XLA and without, on the same fixed draws."""
    images = tiny_images(num_images=320)
    losses = {}
    for jit_compile in (False, True):
        model = tiny_model(name, network="dcgan")
        fix_random_numbers(model)
        model.compile(jit_compile=jit_compile)
        losses[jit_compile] = [
            float(model.train_on_batch(images[start:start + 16], return_dict=True)["loss"])
            for start in range(0, 320, 16)
        ]
    # Adam turns rounding-level gradient differences into updates of up to ~1e-6 after
    # 20 steps; the losses then agree to a few float32 roundings.
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-5)


@pytest.fixture
def compiled_updates(monkeypatch):
    """The updates ``Autoencoder.apply_gradients`` hands to an XLA ``tf.function``."""
    compiled = []
    function = tf.function

    def recording_function(*arguments, **options):
        if (options.get("jit_compile") and arguments
                and "apply_gradients" in getattr(arguments[0], "__qualname__", "")):
            compiled.append(arguments[0])
        return function(*arguments, **options)

    monkeypatch.setattr(tf, "function", recording_function)
    return compiled


def keras_update(optimizer, gradients, weights):
    """The optimizer's update as Keras runs it, op by op in the step's graph."""
    optimizer.apply_gradients(zip(gradients, weights, strict=True))


@pytest.mark.parametrize("name", ["mmd", "aae"])
def test_the_compiled_update_of_a_graph_step_gives_keras_updates(name, compiled_updates):
    """Without XLA for the step, the optimizers' updates are XLA-compiled (the fast
    path of large models, here of every size); 20 steps give the losses of Keras' own
    updates within float32 rounding."""
    images = tiny_images(num_images=320)
    losses, weights = {}, {}
    for path in ("compiled update", "keras update"):
        model = tiny_model(name, network="dcgan")
        fix_random_numbers(model)
        compile_model(model, jit_compile=False)
        if path == "keras update":
            model.apply_gradients = keras_update
        else:
            model.compiled_update_min_weights = 0
        losses[path] = [
            float(model.train_on_batch(images[start:start + 16], return_dict=True)["loss"])
            for start in range(0, 320, 16)
        ]
        weights[path] = [np.array(weight) for weight in model.weights]
    # The compiled path ran: an XLA function per optimizer when the step was traced.
    assert len(compiled_updates) == (2 if name == "aae" else 1)
    # Adam turns rounding-level differences of near-zero gradients into larger
    # updates (see test_the_compiled_step_gives_the_plain_steps_losses).
    np.testing.assert_allclose(losses["compiled update"], losses["keras update"], rtol=1e-5)
    for compiled, plain in zip(weights["compiled update"], weights["keras update"],
                               strict=True):
        np.testing.assert_allclose(compiled, plain, atol=1e-5)
    # Training happened: the losses moved.
    assert losses["keras update"][-1] < losses["keras update"][0]


def test_a_small_model_keeps_keras_update(compiled_updates):
    """Below ``compiled_update_min_weights`` the update is not worth XLA's compilation."""
    model = tiny_model("mmd")
    model.compile(jit_compile=False)
    assert sum(weight.shape.num_elements() for weight in model.autoencoder_weights) < (
        model.compiled_update_min_weights)
    model.train_on_batch(tiny_images()[:16])
    assert compiled_updates == []


# === Every model through every public method under both policies ===

#: The same weights in half precision against float32: float16 keeps 11 significant bits
#: and bfloat16 8, over the few layers of the tiny networks.
PUBLIC_OUTPUT_ATOL = {"mixed_float16": 5e-3, "mixed_bfloat16": 5e-2}
#: A few units of the last place of each half precision (2^-11 and 2^-8).
SERVED_ATOL = {"mixed_float16": 1e-3, "mixed_bfloat16": 1e-2}


def public_outputs(model, images, codes):
    """What the inference methods return, as float32 NumPy arrays."""
    outputs = {"encode": model.encode(images), "decode": model.decode(codes),
               "sample": model.sample(4, seed=2), "reconstruct": model.reconstruct(images),
               "predict": model.predict(images, verbose=0)}
    for name, value in outputs.items():
        assert value.dtype == tf.float32 or value.dtype == np.float32, name
    return {name: np.asarray(value) for name, value in outputs.items()}


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"], indirect=True)
@pytest.mark.parametrize("name", list(registry.MODELS))
def test_every_public_method_of_every_model_works_in_mixed_precision(policy, name, tmp_path):
    from mmdvae import evaluation

    images = tiny_images(16)
    codes = np.random.default_rng(1).normal(size=(4, LATENT_DIM)).astype("float32")
    keras.mixed_precision.set_global_policy("float32")
    reference = tiny_model(name)
    expected = public_outputs(reference, images, codes)
    expected_error = evaluation.reconstruction_error(reference, images)
    keras.mixed_precision.set_global_policy(policy)
    model = tiny_model(name)
    assert model.compute_dtype != "float32"

    # Inference: the float32 model's numbers to half precision, in float32 arrays.
    outputs = public_outputs(model, images, codes)
    for key, value in expected.items():
        np.testing.assert_allclose(outputs[key], value, atol=PUBLIC_OUTPUT_ATOL[policy],
                                   err_msg=key)
    error = evaluation.reconstruction_error(model, images)
    for key, value in expected_error.items():
        np.testing.assert_allclose(error[key], value, rtol=PUBLIC_OUTPUT_ATOL[policy],
                                   err_msg=key)

    # Training and evaluation: one step, finite logs, moved weights.
    compile_model(model, jit_compile=False)
    before = [np.array(weight) for weight in model.autoencoder_weights]
    logs = model.fit(images, batch_size=16, epochs=1, verbose=0).history
    assert all(np.isfinite(values[-1]) for values in logs.values()), logs
    moved = any(not np.array_equal(old, np.array(new))
                for old, new in zip(before, model.autoencoder_weights, strict=True))
    if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) and not moved:
        # Dynamic loss scaling skips a step whose scaled gradients overflow float16,
        # and halves the scale.
        assert float(model.optimizer.dynamic_scale) < 2.0**15
    else:
        assert moved
    evaluated = model.evaluate(images, verbose=0, return_dict=True)
    assert all(np.isfinite(value) for value in evaluated.values()), evaluated

    # The evaluation functions, every measure the model allows.
    mse_variance = 0.1 if evaluation.likelihood.is_mean_squared_error(model) else None
    labels = np.arange(16) % 2
    results = evaluation.evaluate(
        model, images, labels, images, labels, num_labelled=(4,), log_likelihood_images=2,
        importance_samples=4, prior_proposal_samples=4, num_generated=4,
        mse_variance=mse_variance, mmd_test_samples=8, num_permutations=9)
    flat = evaluation.flatten(results)
    assert "reconstruction_error.mse_per_pixel" in flat and "mmd" in flat
    assert all(np.isfinite(value) for value in flat.values()), flat

    # Saving and loading keep the policy's numbers; the export serves float32.
    trained = public_outputs(model, images, codes)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_array_equal(loaded.reconstruct(images), trained["reconstruct"])
    np.testing.assert_array_equal(loaded.decode(codes), trained["decode"])
    mmdvae.export_saved_model(model, tmp_path / "exported")
    served = tf.saved_model.load(str(tmp_path / "exported"))
    # The SavedModel's graph kernels round half precision differently from eager ones.
    atol = SERVED_ATOL[policy]
    np.testing.assert_allclose(served.decode(tf.constant(codes)), trained["decode"], atol=atol)
    np.testing.assert_allclose(served.reconstruct(tf.constant(images)), trained["reconstruct"],
                               atol=atol)
    np.testing.assert_allclose(served.sample(tf.constant(4), tf.constant(2)), trained["sample"],
                               atol=atol)
