"""Networks of one's own: ``encoder=`` and ``decoder=`` Keras models on the models.

A functional encoder and a subclassed decoder (``tests/tiny.py``) train, save,
load in a fresh process, export to a SavedModel that serves without mmdvae,
and run under ``tf.distribute.MirroredStrategy``; networks of the wrong shape
are refused when the model is built. (Every registered model trains with them
in the harness of ``test_models.py``.)
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import (
    IMAGE_SHAPE,
    LATENT_DIM,
    ResidualDecoder,
    compile_model,
    functional_encoder,
    tiny_images,
)

import mmdvae

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

#: name -> (model class, whether its encoder is Gaussian: given as a (mean, log_var) pair).
MODELS = {"mmd_vae": (mmdvae.MMDVAE, False), "elbo_vae": (mmdvae.ELBOVAE, True),
          "aae": (mmdvae.AAE, False)}


def build(name, seed=0):
    model_class, gaussian = MODELS[name]
    keras.utils.set_random_seed(seed)
    likelihood = mmdvae.likelihoods.get(model_class.default_likelihood)
    encoder = functional_encoder(LATENT_DIM, pair=gaussian)
    decoder = ResidualDecoder(likelihood.parameter_shape(IMAGE_SHAPE))
    return model_class(LATENT_DIM, image_shape=IMAGE_SHAPE, encoder=encoder, decoder=decoder,
                       seed=seed)


def _run(script, environment=None, cwd=ROOT):
    """Runs ``script`` in a fresh Python process; returns the JSON of its last line."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(environment or {})}
    finished = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=cwd,
                              env=environment, capture_output=True, text=True, timeout=600)
    if finished.returncode != 0:
        pytest.fail(f"the fresh process failed:\n{finished.stderr[-4000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The three models trained, saved (.keras), exported, and their outputs on probe images."""
    directory = tmp_path_factory.mktemp("own_networks")
    images = tiny_images(32)
    probe = tiny_images(6, seed=1)
    models, changed = {}, {}
    for name in MODELS:
        model = compile_model(build(name))
        before = [np.array(weight) for weight in model.autoencoder_weights]
        model.fit(images, batch_size=16, epochs=1, verbose=0)
        changed[name] = all(not np.array_equal(old, new) for old, new in
                            zip(before, model.autoencoder_weights, strict=True))
        model.save(directory / f"{name}.keras")
        model.export(directory / name)
        np.savez(directory / f"{name}.npz", probe=probe,
                 codes=np.asarray(model.encode(probe)),
                 reconstructions=np.asarray(model.reconstruct(probe)))
        models[name] = model
    return directory, models, changed


def test_own_networks_are_the_models_and_train(trained):
    _, models, changed = trained
    for name, model in models.items():
        assert type(model.decoder) is ResidualDecoder
        assert model.encoder.name == "own_encoder"
        assert model.network is None and model.given_networks == ("encoder", "decoder")
        # Every weight of the encoder and the decoder moved in training.
        assert changed[name], name


def test_gaussian_encoder_pair_is_the_mean_and_log_variance(trained):
    _, models, _ = trained
    model = models["elbo_vae"]
    probe = tiny_images(6, seed=1)
    z_mean, z_log_var = (np.asarray(values) for values in model.encoder(probe))
    np.testing.assert_array_equal(model.encode(probe), z_mean)
    _, posterior_mean, posterior_log_var = model.posterior(tf.constant(probe))
    np.testing.assert_array_equal(posterior_mean, z_mean)
    np.testing.assert_allclose(posterior_log_var, np.clip(z_log_var, *mmdvae.models.base
                                                          .LOG_VARIANCE_RANGE), rtol=1e-6)


def test_saved_models_load_in_a_fresh_process(trained):
    directory, _, _ = trained
    differences = _run(f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        import keras, numpy as np
        import tiny  # registers ResidualDecoder
        differences = {{}}
        for name in {sorted(MODELS)!r}:
            model = keras.models.load_model({str(directory)!r} + f"/{{name}}.keras")
            saved = np.load({str(directory)!r} + f"/{{name}}.npz")
            assert type(model.decoder).__name__ == "ResidualDecoder", type(model.decoder)
            differences[name] = [
                float(np.max(np.abs(model.encode(saved["probe"]) - saved["codes"]))),
                float(np.max(np.abs(model.reconstruct(saved["probe"])
                                    - saved["reconstructions"])))]
        print(json.dumps(differences))
    """)
    assert sorted(differences) == sorted(MODELS)
    for name, (codes, reconstructions) in differences.items():
        assert codes <= 1e-6 and reconstructions <= 1e-6, name


def test_exported_models_serve_without_mmdvae(trained):
    directory, _, _ = trained
    differences = _run(f"""
        import json, sys
        import numpy as np
        import tensorflow as tf
        differences = {{}}
        for name in {sorted(MODELS)!r}:
            served = tf.saved_model.load({str(directory)!r} + f"/{{name}}")
            saved = np.load({str(directory)!r} + f"/{{name}}.npz")
            probe = tf.constant(saved["probe"])
            differences[name] = [
                float(np.max(np.abs(served.encode(probe)["z"].numpy() - saved["codes"]))),
                float(np.max(np.abs(served.reconstruct(probe).numpy()
                                    - saved["reconstructions"])))]
        assert "mmdvae" not in sys.modules
        print(json.dumps(differences))
    """, environment={"PYTHONPATH": ""}, cwd=directory)
    assert sorted(differences) == sorted(MODELS)
    for name, (codes, reconstructions) in differences.items():
        assert codes <= 1e-6 and reconstructions <= 1e-6, name


def test_own_networks_under_a_mirrored_strategy():
    """One SGD step on 2 logical devices equals one device's, with networks of one's own."""
    result = _run(f"""
        import json, sys
        import tensorflow as tf
        tf.config.set_logical_device_configuration(
            tf.config.list_physical_devices("CPU")[0],
            [tf.config.LogicalDeviceConfiguration()] * 2)
        sys.path.insert(0, {str(TESTS)!r})
        import keras, numpy as np
        import mmdvae
        from tiny import ResidualDecoder, functional_encoder, tiny_images

        def build():
            keras.utils.set_random_seed(0)
            model = mmdvae.MMDVAE(3, image_shape=(8, 8, 1), encoder=functional_encoder(3),
                                  decoder=ResidualDecoder((8, 8, 1)), seed=1)
            model.compile(optimizer=keras.optimizers.SGD(1.0), jit_compile=False)
            return model

        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            distributed = build()
        single = build()
        single.set_weights(distributed.get_weights())
        before = distributed.get_weights()
        images = tiny_images(32)
        logs = [model.fit(images, batch_size=32, epochs=1, verbose=0, shuffle=False).history
                for model in (distributed, single)]
        print(json.dumps({{
            "replicas": strategy.num_replicas_in_sync,
            "loss": [log["loss"][0] for log in logs],
            "mmd": [log["mmd"][0] for log in logs],
            "weights": max(float(np.max(np.abs(a - b))) for a, b in
                           zip(distributed.get_weights(), single.get_weights())),
            "changed": max(float(np.max(np.abs(a - b))) for a, b in
                           zip(distributed.get_weights(), before)),
        }}))
    """)
    assert result["replicas"] == 2
    np.testing.assert_allclose(*result["loss"], rtol=1e-5)
    np.testing.assert_allclose(*result["mmd"], rtol=1e-5)
    assert result["changed"] > 1e-3
    assert result["weights"] <= 1e-5


# --- Shapes checked when the model is built ------------------------------------


def _dense_encoder(size, image_shape=IMAGE_SHAPE):
    return keras.Sequential([keras.Input(image_shape), keras.layers.Flatten(),
                             keras.layers.Dense(size)])


@pytest.mark.parametrize("build_model, error, parts", [
    pytest.param(lambda: mmdvae.MMDVAE(3, image_shape=(8, 8, 1), network="mlp",
                                       encoder=_dense_encoder(4)),
                 ValueError, ["Argument `encoder` must output one tensor of shape (batch, 3)",
                              "encoder_type='deterministic' with latent_dim=3",
                              "has shape (batch, 4)"],
                 id="deterministic-code-size"),
    pytest.param(lambda: mmdvae.ELBOVAE(3, image_shape=(8, 8, 1), network="mlp",
                                        encoder=_dense_encoder(3)),
                 ValueError, ["Argument `encoder` must output a (z_mean, z_log_var) pair of "
                              "shape (batch, 3) each, or one tensor of shape (batch, 6)",
                              "encoder_type='gaussian'", "has shape (batch, 3)"],
                 id="gaussian-needs-two-values"),
    pytest.param(lambda: mmdvae.ELBOVAE(3, image_shape=(8, 8, 1), network="mlp",
                                        encoder=functional_encoder(2, pair=True)),
                 ValueError, ["Argument `encoder`", "(batch, 2), (batch, 2)"],
                 id="gaussian-pair-size"),
    pytest.param(lambda: mmdvae.ELBOVAE(3, image_shape=(8, 8, 1), network="mlp",
                                        likelihood="gaussian",
                                        decoder=ResidualDecoder((8, 8, 1))),
                 ValueError, ["Argument `decoder` must output one tensor of shape "
                              "(batch, 8, 8, 2)", "likelihood 'gaussian'",
                              "has shape (batch, 8, 8, 1)"],
                 id="decoder-likelihood-parameters"),
    pytest.param(lambda: mmdvae.AAE(3, image_shape=(8, 8, 1), network="mlp",
                                    decoder=ResidualDecoder((8, 8))),
                 ValueError, ["Argument `decoder` must output one tensor of shape "
                              "(batch, 8, 8, 1)", "has shape (batch, 8, 8)"],
                 id="decoder-rank"),
    pytest.param(lambda: mmdvae.MMDVAE(3, image_shape=(8, 8, 1), network="mlp",
                                       encoder=_dense_encoder(3, image_shape=(4, 4, 1))),
                 ValueError, ["Argument `encoder` must take images of shape (batch, 8, 8, 1)"],
                 id="encoder-input-shape"),
    pytest.param(lambda: mmdvae.MMDVAE(3, image_shape=(8, 8, 1), network="mlp",
                                       encoder=lambda images: images),
                 TypeError, ["Argument `encoder` must be a Keras model", "function"],
                 id="not-a-keras-model"),
])
def test_networks_of_the_wrong_shape_are_refused_when_built(build_model, error, parts):
    with pytest.raises(error) as raised:
        build_model()
    message = str(raised.value)
    assert "\n" not in message
    for part in parts:
        assert part in message


# --- Signals of one dimension ---------------------------------------------------


def test_mmd_vae_on_signals_of_one_dimension():
    """A Conv1D residual encoder and decoder, a Gaussian likelihood, on length-16 signals."""
    length, latent_dim = 16, 2
    keras.utils.set_random_seed(0)
    inputs = keras.Input((length, 1))
    hidden = keras.layers.Conv1D(8, 3, padding="same", activation="relu")(inputs)
    hidden = hidden + keras.layers.Conv1D(8, 3, padding="same", activation="relu")(hidden)
    codes = keras.layers.Dense(latent_dim)(keras.layers.Flatten()(hidden))
    encoder = keras.Model(inputs, codes)
    decoder = keras.Sequential([
        keras.Input((latent_dim,)), keras.layers.Dense(length // 2 * 8, activation="relu"),
        keras.layers.Reshape((length // 2, 8)),
        keras.layers.Conv1DTranspose(8, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv1D(2, 3, padding="same"),   # mean and scale per time step
    ])
    model = mmdvae.MMDVAE(latent_dim, image_shape=(length, 1), encoder=encoder,
                          decoder=decoder, likelihood="unbounded_gaussian", seed=0)
    rng = np.random.default_rng(0)
    phases = rng.uniform(0, 2 * np.pi, size=(32, 1, 1))
    signals = np.sin(np.linspace(0, 2 * np.pi, length)[None, :, None] + phases)
    signals = signals.astype("float32")
    model.compile()
    model.fit(signals, batch_size=16, epochs=2, verbose=0)

    assert model.reconstruct(signals).shape == signals.shape
    assert model.sample(3, seed=0).shape == (3, length, 1)
    results = model.evaluate(signals, batch_size=32, verbose=0, return_dict=True)
    # The Gaussian negative log-likelihood of each signal, in float64 NumPy.
    outputs = np.asarray(decoder(model.encode(signals)), np.float64)
    mean, scale = outputs[..., :1], 0.005 + np.logaddexp(0.0, outputs[..., 1:])
    negative_log_likelihood = np.sum(
        (signals - mean) ** 2 / (2 * scale**2) + np.log(scale) + 0.5 * np.log(2 * np.pi),
        axis=(1, 2))
    np.testing.assert_allclose(results["reconstruction_loss"],
                               negative_log_likelihood.mean(), rtol=1e-4)


def test_mutual_ae_copies_a_given_encoder_for_its_inference_network():
    keras.utils.set_random_seed(0)
    encoder = functional_encoder(LATENT_DIM, pair=True)
    model = mmdvae.MutualAE(LATENT_DIM, image_shape=IMAGE_SHAPE, encoder=encoder,
                            network="mlp", seed=0)
    assert model.inference_network is not model.encoder
    assert ([tuple(weight.shape) for weight in model.inference_network.weights]
            == [tuple(weight.shape) for weight in encoder.weights])
    names = {id(weight) for weight in model.encoder.weights}
    assert not any(id(weight) in names for weight in model.inference_network.weights)


def test_notebook_06_runs(run_notebook):
    text, images = run_notebook("06_own_networks.ipynb")
    assert "Argument `decoder` must output one tensor of shape (batch, 64, 1)" in text
    assert "loaded reconstructions equal: True" in text
    assert "served reconstructions equal: True" in text
    assert len(images) >= 1
