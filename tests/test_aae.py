"""The adversarial autoencoder's two updates and two optimizers (``mmdvae.AAE``)."""

import keras
import numpy as np
import pytest
from tiny import tiny_model

import mmdvae


def test_aae_updates_touch_only_their_own_weights(images):
    model = tiny_model(mmdvae.AAE, discriminator_units=(8,))
    model.compile(discriminator_optimizer=keras.optimizers.Adam(1e-2), jit_compile=False,
                  run_eagerly=True)

    def snapshot(weights):
        return [np.array(weight) for weight in weights]

    autoencoder = model.autoencoder_weights
    discriminator = model.discriminator.trainable_weights
    assert not {id(w) for w in autoencoder} & {id(w) for w in discriminator}
    seen = {}
    discriminator_update = model.after_autoencoder_update

    def spy(batch, terms):
        seen["autoencoder"] = snapshot(autoencoder)
        seen["discriminator"] = snapshot(discriminator)
        return discriminator_update(batch, terms)

    model.after_autoencoder_update = spy
    autoencoder_before = snapshot(autoencoder)
    discriminator_before = snapshot(discriminator)
    model.fit(images[:16], batch_size=16, epochs=1, verbose=0)
    autoencoder_after = snapshot(autoencoder)
    discriminator_after = snapshot(discriminator)

    # The autoencoder update changed every encoder/decoder weight and no discriminator one.
    assert all(not np.array_equal(a, b)
               for a, b in zip(autoencoder_before, seen["autoencoder"], strict=True))
    assert all(np.array_equal(a, b)
               for a, b in zip(discriminator_before, seen["discriminator"], strict=True))
    # The discriminator update changed every discriminator weight and no encoder/decoder one.
    assert all(np.array_equal(a, b)
               for a, b in zip(seen["autoencoder"], autoencoder_after, strict=True))
    assert all(not np.array_equal(a, b)
               for a, b in zip(seen["discriminator"], discriminator_after, strict=True))


def test_aae_fit_without_discriminator_optimizer_is_refused(images):
    model = tiny_model(mmdvae.AAE)
    model.compile()
    with pytest.raises(ValueError, match="discriminator_optimizer"):
        model.fit(images[:32], epochs=1, verbose=0)
    # Evaluation needs no discriminator update.
    results = model.evaluate(images[:32], verbose=0, return_dict=True)
    assert 0.0 <= results["discriminator_accuracy"] <= 1.0


def test_aae_save_restores_both_optimizers(images, tmp_path):
    images = images[:32]
    model = tiny_model(mmdvae.AAE, discriminator_units=(8,))
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  discriminator_optimizer=keras.optimizers.RMSprop(5e-4), jit_compile=False)
    model.fit(images, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "aae.keras")
    loaded = keras.saving.load_model(tmp_path / "aae.keras")
    assert isinstance(loaded.discriminator_optimizer, keras.optimizers.RMSprop)
    np.testing.assert_allclose(float(loaded.discriminator_optimizer.learning_rate), 5e-4)
    np.testing.assert_allclose(float(loaded.optimizer.learning_rate), 2e-3)
    assert int(loaded.discriminator_optimizer.iterations) == 2
    for ours, theirs in zip(model.discriminator_optimizer.variables,
                            loaded.discriminator_optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    loaded.fit(images, batch_size=16, epochs=1, verbose=0)


@pytest.mark.parametrize("build, match", [
    (lambda: mmdvae.AAE(latent_dim=2, lambda_=-1.0), "lambda_.*-1.0"),
    (lambda: mmdvae.AAE(latent_dim=2, discriminator_units=(0,)), "discriminator_units"),
])
def test_bad_aae_arguments_are_named(build, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build()
