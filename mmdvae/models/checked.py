"""Keras' entry points with the data checked before any work.

``CheckedModel`` is the ``keras.Model`` every mmdvae model derives from (through
``Autoencoder``): ``fit``, ``evaluate``, ``predict``, ``train_on_batch``,
``test_on_batch`` and ``predict_on_batch`` check their data with
``mmdvae.validation`` and the ``tf.distribute`` strategy they run in with
``mmdvae.distribute``, then call Keras' own; a model built by its constructor
is not built again by Keras under a strategy. A model deriving from it has an
``image_shape``, a ``likelihood`` and a ``min_batch_size``.
"""

import keras
import tensorflow as tf

from mmdvae import distribute, validation


class CheckedModel(keras.Model):
    """A ``keras.Model`` whose entry points check their data first (``mmdvae.validation``)."""

    # Every Keras entry point checks its data (`mmdvae.validation`) and the
    # strategy it runs in before any work. A target `y` of the images' rank is what
    # the decoder reconstructs; `sample_weight` weights each example's terms (see
    # `compute_terms`); `class_weight` is refused: an autoencoder has no classes.

    def _check_call(self, method, class_weight=None):
        distribute.check_scope(self, method)
        if class_weight is not None:
            raise ValueError(
                f"Argument `class_weight` weights the classes of a classifier's labels; "
                f"{type(self).__name__} reconstructs its inputs and has no classes: pass "
                f"`sample_weight` (one weight per image) instead; received "
                f"class_weight={class_weight!r}."
            )

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, **kwargs):
        """``keras.Model.fit`` after checking the data and counts (``mmdvae.validation``).

        ``y`` of the images' rank is what the decoder reconstructs (``fit(noisy,
        clean)``: a denoising autoencoder); ``sample_weight`` weights each
        example's terms (``compute_terms``); ``class_weight`` is refused.
        """
        self._check_call("fit", class_weight)
        validation.check_fit_inputs(
            self, x, y, batch_size, sample_weight,
            {"epochs": epochs, "validation_split": validation_split,
             "validation_data": validation_data, **kwargs})
        if isinstance(x, tf.data.Dataset):
            # A dataset keeps its own order (shuffle it with `mmdvae.data.load`);
            # Keras would otherwise warn that its default shuffle=True is ignored.
            shuffle = False
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, verbose=verbose,
                           callbacks=callbacks, validation_split=validation_split,
                           validation_data=validation_data, shuffle=shuffle,
                           sample_weight=sample_weight, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, **kwargs):
        """``keras.Model.evaluate`` after checking the data; ``y`` and weights as in ``fit``."""
        self._check_call("evaluate")
        validation.check_counts({"steps": steps})
        validation.check_data(self, x, batch_size, argument="x", y=y,
                              sample_weight=sample_weight, steps=steps)
        return super().evaluate(x, y, batch_size=batch_size, verbose=verbose,
                                sample_weight=sample_weight, steps=steps, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """``keras.Model.predict`` (the reconstructions) after checking the data."""
        self._check_call("predict")
        validation.check_counts({"steps": steps})
        validation.check_data(self, x, batch_size, argument="x", batch_needs_loss=False,
                              steps=steps)
        return super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps,
                               callbacks=callbacks)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy, Keras builds an unbuilt model from the elementwise mean of
        # the replicas' first batches, which fails when the replicas hold different
        # numbers of rows (a batch not divisible by them). The model and its
        # optimizer are built by the constructor and `compile`.
        optimizer = getattr(self, "optimizer", None)
        if all(layer.built for layer in self._flatten_layers()) and (
                optimizer is None or optimizer.built):
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One step on one batch, checked as ``fit`` checks its data."""
        self._check_call("train_on_batch", class_weight)
        validation.check_batch(self, x, y, sample_weight)
        return super().train_on_batch(x, y, sample_weight=sample_weight,
                                      return_dict=return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss terms of one batch, checked as ``evaluate`` checks its data."""
        self._check_call("test_on_batch")
        validation.check_batch(self, x, y, sample_weight)
        return super().test_on_batch(x, y, sample_weight=sample_weight,
                                     return_dict=return_dict)

    def predict_on_batch(self, x):
        """The reconstructions of one batch, checked as ``predict`` checks its data."""
        self._check_call("predict_on_batch")
        validation.check_batch(self, x, batch_needs_loss=False)
        return super().predict_on_batch(x)
