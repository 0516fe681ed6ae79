"""What release 0.1 accepted and 0.2 renamed, in one place; everything here goes in 0.4.

- ``Model(reconstruction=...)``: now ``Model(likelihood=...)``;
- ``"reconstruction"`` in a saved model's config: now ``"likelihood"``;
- a saved ``MutualAE``'s ``"temperature"`` with likelihood ``"gaussian"`` or
  ``"categorical"``: now one ``"likelihood"`` entry (``"unbounded_gaussian"``, or
  a categorical likelihood holding its temperature);
- ``mmdvae train --reconstruction NAME``: now ``--likelihood NAME``.

The Python interface warns with a ``DeprecationWarning``; the command line,
whose users are not programmers, with a ``FutureWarning``. A ``.keras`` file
saved by 0.1 loads until 0.4; saving it again writes the current config.
"""

import argparse
import sys
import warnings

#: The release that removes every shim of this module.
REMOVED_IN = "0.4"


def _stacklevel_outside_package() -> int:
    """The ``stacklevel`` of the first caller outside mmdvae and Keras (whose loading
    code calls ``from_config``), for a warning issued by the function calling this."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] in (
            "mmdvae", "keras"):
        frame, level = frame.f_back, level + 1
    return level


def likelihood_argument(likelihood, kwargs: dict):
    """``likelihood``, or the value of its 0.1 name ``reconstruction`` popped from ``kwargs``.

    Removed in 0.4. Passing both with different values is a ``ValueError``.
    """
    if "reconstruction" not in kwargs:
        return likelihood
    reconstruction = kwargs.pop("reconstruction")
    if likelihood is not None and likelihood != reconstruction:
        raise ValueError(
            f"Arguments `likelihood` and `reconstruction` (its former name) "
            f"disagree; received likelihood={likelihood!r}, "
            f"reconstruction={reconstruction!r}. Pass `likelihood` only."
        )
    warnings.warn(
        f"Argument `reconstruction` is now called `likelihood`; the former name "
        f"goes in mmdvae {REMOVED_IN}.",
        DeprecationWarning, stacklevel=_stacklevel_outside_package(),
    )
    return reconstruction


def _warn_old_file(what: str) -> None:
    warnings.warn(
        f"This model was saved by mmdvae 0.1 ({what}); it loads until mmdvae "
        f"{REMOVED_IN}. Save it again to keep it loadable.",
        DeprecationWarning, stacklevel=_stacklevel_outside_package(),
    )


def upgrade_config(config: dict) -> dict:
    """A model config saved by 0.1 with its ``reconstruction`` key renamed ``likelihood``.

    Removed in 0.4. A current config is returned as it is.
    """
    if "reconstruction" not in config:
        return config
    config = dict(config)
    _warn_old_file("its config names the likelihood `reconstruction`")
    config["likelihood"] = config.pop("reconstruction")
    return config


def upgrade_mutual_ae_config(config: dict) -> dict:
    """A ``MutualAE`` config saved by 0.1 with its likelihood as today's entry.

    In 0.1 the likelihood was ``"gaussian"`` (an unbounded mean) or
    ``"categorical"`` with a separate ``temperature``. Removed in 0.4.
    """
    if "temperature" not in config:
        return config
    from mmdvae import likelihoods

    config = dict(config)
    _warn_old_file("its config holds a `temperature`")
    temperature = config.pop("temperature")
    config["likelihood"] = (
        likelihoods.serialize(likelihoods.Categorical(temperature))
        if config.get("likelihood") == "categorical" else "unbounded_gaussian")
    return config


class ReconstructionFlag(argparse.Action):
    """``--reconstruction NAME``, 0.1's name of ``--likelihood NAME`` (hidden; removed in 0.4).

    Stores ``NAME`` as the likelihood and warns with a ``FutureWarning``. Add it with
    ``group.add_argument("--reconstruction", dest="likelihood", action=ReconstructionFlag,
    help=argparse.SUPPRESS, choices=...)``.
    """

    def __call__(self, parser, namespace, values, option_string=None):
        warnings.warn(
            f"--reconstruction is now called --likelihood; the former name goes in "
            f"mmdvae {REMOVED_IN}.",
            FutureWarning, stacklevel=2,
        )
        setattr(namespace, self.dest, values)
