"""Command-line interface: ``python -m mmdvae train|evaluate|compare|reproduce ...``.

One module per command (``train``, ``evaluate``, ``compare``, ``reproduce``),
each with ``HELP``, ``DESCRIPTION``, ``add_arguments(parser)`` and
``run(args)``; ``arguments`` holds the argument types and the model flags.
Every model of ``mmdvae.models.registry`` can be trained; every constructor
argument that matters has a flag, and a flag that does not apply to the chosen
model is refused with one ``error:`` line. Mistakes are reported before any
data is loaded or any model is trained.

Importing this package imports no TensorFlow, Keras or matplotlib: a command
imports them when it runs, and only the chosen command's arguments are added
to the parser, so ``--help`` answers at once. Before TensorFlow is first
imported, ``main`` sets its environment for this process (``setdefault``,
so the caller's own settings win): ``TF_ENABLE_ONEDNN_OPTS=1`` (its oneDNN CPU
kernels, markedly faster where TensorFlow leaves them off) and
``TF_CPP_MIN_LOG_LEVEL=2`` (no info or warning messages of its C++ code),
the latter unless ``MMDVAE_TENSORFLOW_LOGS`` is set.
"""

import argparse
import os
import sys

from mmdvae.cli import compare, evaluate, reproduce, train

#: The commands: name -> module.
COMMANDS = {"train": train, "evaluate": evaluate, "compare": compare, "reproduce": reproduce}


def build_parser(commands=tuple(COMMANDS)) -> argparse.ArgumentParser:
    """The parser of every command, with the arguments of those in ``commands``."""
    parser = argparse.ArgumentParser(
        prog="python -m mmdvae",
        description="Train and inspect MMD variational autoencoders and their relatives.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=module.HELP,
                                          description=module.DESCRIPTION)
        if name in commands:
            module.add_arguments(subparser)
    return parser


def set_tensorflow_environment() -> None:
    """TensorFlow's settings for this process, unless TensorFlow is imported already."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if not os.environ.get("MMDVAE_TENSORFLOW_LOGS"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    """Runs the command of ``argv`` (default: ``sys.argv[1:]``); returns its exit status."""
    argv = sys.argv[1:] if argv is None else [str(argument) for argument in argv]
    set_tensorflow_environment()
    # The command is the first word; only its arguments are added (no other word of the
    # top-level parser takes a value).
    command = next((word for word in argv if not word.startswith("-")), None)
    args = build_parser([command] if command in COMMANDS else []).parse_args(argv)
    return COMMANDS[args.command].run(args)
