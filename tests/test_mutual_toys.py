"""The Mutual Autoencoder poster's two toys: with M > 0 the code carries M nats.

Slow (about a minute each on two shared CPU cores): ``pytest -m slow -s
tests/test_mutual_toys.py`` prints the estimated ``I(z, x)`` of each model.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmdvae

pytestmark = pytest.mark.slow


def final_information(model, data, epochs):
    keras.utils.set_random_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batches = tf.data.Dataset.from_tensor_slices(data).shuffle(len(data), seed=0).batch(100)
    model.fit(batches, epochs=epochs, verbose=0)
    # A fresh estimate on many prior samples, after training.
    prior_z = model.prior_samples(20_000, seed=tf.constant([7, 0]))
    samples = model.decoder_samples(prior_z)
    return float(model.information_bound(prior_z, samples))


def toy_models(information, **arguments):
    def build(penalty_weight):
        keras.utils.set_random_seed(0)
        return mmdvae.MutualAE(network="mlp", seed=0, information=information,
                               penalty_weight=penalty_weight, **arguments)
    return build(penalty_weight=0.0), build(penalty_weight=10.0)


@pytest.mark.parametrize("toy", ["uniform_digits", "splitting_the_normal"])
def test_mutual_ae_holds_the_information_the_vae_drops(toy):
    rng = np.random.default_rng(0)
    if toy == "uniform_digits":
        target = 1.5  # nats; H(x) = log 10 = 2.30
        data = np.eye(10, dtype="float32")[rng.integers(0, 10, size=10_000)]
        vae, mae = toy_models(target, latent_dim=1, image_shape=(10,),
                              likelihood="categorical")
    else:
        target = 1.0
        data = rng.normal(size=(10_000, 1)).astype("float32")
        vae, mae = toy_models(target, latent_dim=1, image_shape=(1,), likelihood="gaussian")
    vae_information = final_information(vae, data, epochs=4)
    mae_information = final_information(mae, data, epochs=4)
    print(f"\n{toy}: estimated I(z, x) of the VAE {vae_information:.3f} nats, "
          f"of the MutualAE (M = {target}) {mae_information:.3f} nats")
    assert abs(mae_information - target) < 0.25
    assert vae_information < 0.25
