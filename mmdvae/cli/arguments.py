"""The command line's argument types, the model flags and the names they offer.

The names (models, networks, likelihoods, measures, ...) are the library's
own, written out here so that building the parsers of ``train``, ``evaluate``
and ``compare``, and so their ``--help``, needs no TensorFlow; the tests check
them against ``mmdvae.models.registry``, ``mmdvae.networks``,
``mmdvae.evaluation`` and the other modules that define them.
"""

import argparse
import math

#: The models of ``mmdvae.models.registry.MODELS``: name -> summary.
MODELS = {
    "mmd": "MMD-VAE of the InfoVAE tutorial (alpha = 1, MMD)",
    "elbo": "ELBO VAE; beta-VAE with beta != 1",
    "infovae": "InfoVAE, alpha = 0.5, lambda = 100, Gaussian encoder, Bernoulli likelihood",
    "aae": "adversarial autoencoder (two optimizers)",
    "vimae-n": "VIMAE with the normal prior",
    "vimae-l": "VIMAE with the logistic prior of the normal's variance (less entropy than "
               "the normal, the paper's premise)",
    "mutual": "Mutual Autoencoder, I(z, x) = 1 nat",
}
#: ``mmdvae.networks.NETWORKS``.
NETWORKS = ("dcgan", "conv", "mlp", "dcgan_bn")
#: ``mmdvae.models.base.ENCODER_TYPES``.
ENCODER_TYPES = ("deterministic", "gaussian")
#: ``mmdvae.likelihoods.LIKELIHOODS``.
LIKELIHOODS = ("mse", "bernoulli", "gaussian", "unbounded_gaussian", "categorical",
               "discretized_logistic", "pixelcnn")
#: ``mmdvae.priors.PRIORS``.
PRIORS = ("normal", "logistic", "logistic_unit_variance", "uniform")
#: ``mmdvae.models.info_vae.DIVERGENCES``.
DIVERGENCES = ("mmd", "stein")
#: ``mmdvae.kernels.KERNELS`` and ``mmdvae.kernels.ESTIMATORS``.
KERNELS = ("tutorial", "rbf", "inverse_multiquadric")
ESTIMATORS = ("biased", "unbiased")
#: ``mmdvae.distribute.STRATEGIES``.
STRATEGIES = ("none", "mirrored", "multi-worker")
#: ``mmdvae.evaluation.METRICS`` and ``mmdvae.evaluation.CLASSIFIERS``.
METRICS = ("log_likelihood", "prior_log_likelihood", "mmd", "mmd_test", "log_det_covariance",
           "mutual_information", "active_units", "reconstruction_error", "latent_accuracy",
           "class_cross_entropy", "classifier_frechet_distance")
CLASSIFIERS = ("knn", "svm", "logistic")

#: The figures ``train --figures`` draws while training.
FIGURE_CHOICES = ("samples", "reconstructions", "scatter", "morph", "interpolations", "density")
TWO_DIMENSIONAL_FIGURES = ("morph", "density")


def one_line(error) -> str:
    """An exception's message on one line, for an ``error:`` line."""
    return " ".join(str(error).split())


# === Argument types ===


def integer(minimum):
    """An integer >= ``minimum``."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            raise argparse.ArgumentTypeError(f"must be {kind}; received {text}")
        return value

    return parse


positive_int = integer(1)


def number(minimum=None, strict=False):
    """A finite number, >= ``minimum`` (> with ``strict``) when it is given."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        low = minimum is None or (value > minimum if strict else value >= minimum)
        if not math.isfinite(value) or not low:
            bound = "" if minimum is None else f" {'>' if strict else '>='} {minimum:g}"
            raise argparse.ArgumentTypeError(f"must be a finite number{bound}; received {text}")
        return value

    return parse


def bandwidth(text):
    """A kernel bandwidth: a finite number > 0, or ``median``."""
    if text == "median":
        return text
    try:
        return number(0.0, strict=True)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"must be a finite number > 0 or 'median'; received {text}") from None


def integer_list(text):
    """Comma-separated positive integers, e.g. ``512,512``."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of positive integers; received {text}")
    return values


def image_size(text):
    """``HEIGHTxWIDTH``, or one size for both."""
    try:
        sizes = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        sizes = ()
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"must be HEIGHTxWIDTH (e.g. 64x64) or one size; received {text}")
    return sizes


def figure_list(text):
    """``none`` or comma-separated names of ``FIGURE_CHOICES``."""
    names = [name for name in text.split(",") if name] if text != "none" else []
    unknown = [name for name in names if name not in FIGURE_CHOICES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"must be 'none' or a comma-separated list of {', '.join(FIGURE_CHOICES)}; "
            f"received {text}")
    return names


def seed(text):
    """A seed: an integer in ``[0, mmdvae.checks.MAX_SEED]``."""
    from mmdvae import checks

    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= checks.MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, {checks.MAX_SEED}]; received {text}")
    return value


# === The model flags ===

#: The model flags: flag -> (constructor argument, argparse settings, help).
MODEL_FLAGS = {
    "--network": ("network", {"choices": NETWORKS},
                  "encoder/decoder architecture (dcgan: the InfoVAE authors')"),
    "--encoder-type": ("encoder_type", {"choices": ENCODER_TYPES},
                       "deterministic z = f(x), or Gaussian q(z|x)"),
    "--likelihood": ("likelihood", {"choices": LIKELIHOODS}, "decoder likelihood"),
    "--prior": ("prior", {"choices": PRIORS}, "the prior p(z)"),
    "--lambda": ("lambda_", {"type": number(0.0)}, "weight of the divergence of q(z)"),
    "--alpha": ("alpha", {"type": number()}, "infovae: information preference (<= 1)"),
    "--beta": ("beta", {"type": number(0.0)}, "elbo, mutual: weight of the KL term"),
    "--divergence": ("divergence", {"choices": DIVERGENCES}, "infovae: D"),
    "--kernel": ("kernel", {"choices": KERNELS}, "kernel of the MMD or Stein term"),
    "--bandwidth": ("bandwidth", {"type": bandwidth},
                    "bandwidth of the rbf and inverse_multiquadric kernels, or 'median' "
                    "(the median heuristic on each batch)"),
    "--estimator": ("estimator", {"choices": ESTIMATORS}, "MMD estimator"),
    "--num-prior-samples": ("num_prior_samples", {"type": positive_int},
                            "prior draws per step of the MMD (default: the batch size)"),
    "--information": ("information", {"type": number(0.0)},
                      "mutual: the target I(z, x) in nats"),
    "--penalty-weight": ("penalty_weight", {"type": number(0.0)},
                         "mutual: weight of the information penalty"),
    "--discriminator-units": ("discriminator_units", {"type": integer_list},
                              "aae: discriminator widths, e.g. 512,512"),
}
#: The flag of each constructor argument.
FLAG_OF = {argument: flag for flag, (argument, _, _) in MODEL_FLAGS.items()}


def flag(name: str) -> str:
    """The flag of an ``args`` attribute: ``latent_dim`` -> ``--latent-dim``."""
    return FLAG_OF.get(name, "--" + name.replace("_", "-"))
