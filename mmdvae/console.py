"""The command line's own process: TensorFlow's start-up messages kept off the screen.

``python -m mmdvae`` imports the package before it runs its ``__main__``, so
the package calls ``quiet_tensorflow`` first thing when, and only when, it is
being started as that command (``started_as_command_line``); importing
``mmdvae`` anywhere else changes nothing global. Set ``MMDVAE_TENSORFLOW_LOGS=1``
to see TensorFlow's messages.
"""

import os
import sys


def started_as_command_line() -> bool:
    """Whether this process is ``python -m mmdvae`` and the package is being located."""
    arguments = list(getattr(sys, "orig_argv", []))
    located = sys.argv[:1] == ["-m"]
    return located and any(
        first == "-m" and second == "mmdvae"
        for first, second in zip(arguments, arguments[1:], strict=False)
    )


def quiet_tensorflow() -> None:
    """Sends what native code writes to standard error to ``os.devnull``.

    TensorFlow's C++ libraries print CUDA registration errors and XLA notes
    straight to file descriptor 2, before and outside Python's logging, on a
    machine without a GPU too. Python's own ``sys.stderr`` (tracebacks,
    warnings, ``error:`` lines) keeps writing to the terminal through a copy of
    the descriptor. Also sets TensorFlow's defaults for this process: its log
    level, and its oneDNN CPU kernels on (they make training markedly faster on
    CPUs where TensorFlow leaves them off).
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if os.environ.get("MMDVAE_TENSORFLOW_LOGS"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    terminal = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = os.fdopen(terminal, "w", buffering=1)
