"""Reconstruction and KL terms, as pure TensorFlow functions.

Every function returns one value per example (shape ``[batch]``); the models
average over the batch. Which reduction over pixels a term uses is part of its
name, because the weight of every regulariser only means something relative to
it (see the InfoVAE paper, Zhao, Song and Ermon, AAAI 2019, section 5).
"""

import math

import tensorflow as tf

#: Lower bound of a learned Gaussian decoder's standard deviation, as in the
#: InfoVAE authors' evaluation script.
MIN_DECODER_STD = 0.005


def _flatten(images):
    return tf.reshape(images, [tf.shape(images)[0], -1])


def mean_squared_error(images, reconstructions):
    """Squared error averaged over pixels, per example.

    The MMD-VAE tutorial's ``reduce_mean(square(x_r - x))``: averaging this over
    the batch gives exactly the tutorial's number. A Gaussian decoder with fixed
    variance, up to scale and constant.
    """
    return tf.reduce_mean(tf.square(_flatten(reconstructions - images)), axis=-1)


def bernoulli_negative_log_likelihood(images, logits):
    """``-log p(x|z)`` of a Bernoulli decoder, summed over pixels, per example.

    The sigmoid cross-entropy of the decoder's logits; images take values in
    ``[0, 1]`` (binary or grey levels).
    """
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    return tf.reduce_sum(_flatten(cross_entropy), axis=-1)


def gaussian_negative_log_likelihood(images, mean, std):
    """``-log p(x|z)`` of a per-pixel Gaussian decoder, summed over pixels.

    ```
    (x - mean)^2 / (2 std^2) + log std + log(2 pi) / 2
    ```
    """
    terms = (
        tf.square(images - mean) / (2.0 * tf.square(std))
        + tf.math.log(std)
        + 0.5 * math.log(2.0 * math.pi)
    )
    return tf.reduce_sum(_flatten(terms), axis=-1)


def kl_divergence_standard_normal(z_mean, z_log_var):
    """Closed-form ``KL(N(mean, diag exp(log_var)) || N(0, I))``, per example.

    ```
    0.5 * sum_over_latent_dims(mean^2 + exp(log_var) - log_var - 1)
    ```
    """
    return 0.5 * tf.reduce_sum(
        tf.square(z_mean) + tf.exp(z_log_var) - z_log_var - 1.0, axis=-1
    )


def categorical_negative_log_likelihood(one_hot, logits):
    """``-log p(x|z)`` of a categorical decoder over the last axis, per example.

    ``one_hot`` holds one-hot (or relaxed) values; the softmax cross-entropy is
    summed over every other axis.
    """
    terms = -tf.reduce_sum(one_hot * tf.nn.log_softmax(logits, axis=-1), axis=-1)
    return tf.reduce_sum(tf.reshape(terms, [tf.shape(terms)[0], -1]), axis=-1)


def gaussian_log_density(x, mean, log_var):
    """``log N(x; mean, diag exp(log_var))`` summed over the last axis."""
    return -0.5 * tf.reduce_sum(
        math.log(2.0 * math.pi) + log_var + tf.square(x - mean) * tf.exp(-log_var),
        axis=-1,
    )
