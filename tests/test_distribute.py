"""Data-parallel training on tf.distribute strategies (``mmdvae.distribute``).

The strategy runs happen in fresh processes (tests/scripts/), since the CPU
must be split into logical devices before TensorFlow initialises its devices
and a multi-worker run needs one process per worker.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import mmdvae
from mmdvae import distribute

SCRIPTS = Path(__file__).resolve().parent / "scripts"
ROOT = SCRIPTS.parents[1]

#: Models whose distributed step must equal one device's (tests/scripts/distributed_steps.py).
EQUAL_CASES = ["mmd_vae", "info_vae_mmd", "info_vae_stein", "vimae", "aae", "elbo_vae"]
ALL_CASES = [*EQUAL_CASES, "mutual_ae", "mutual_ae_exact"]
SAVED_CASES = ["aae", "vimae"]
#: Models trained on batches the replicas cannot split evenly (tests/scripts/distributed_steps.py).
UNEVEN_CASES = ["mmd_vae", "aae", "mutual_ae", "elbo_vae"]
#: The two-replica run in two processes that run at once, about equal halves of the work:
#: (cases, uneven cases). Together every case of ALL_CASES and UNEVEN_CASES.
TWO_REPLICA_PARTS = [
    (["mmd_vae", "info_vae_mmd", "info_vae_stein", "vimae", "elbo_vae"], ["elbo_vae"]),
    (["aae", "mutual_ae", "mutual_ae_exact"], ["mmd_vae", "aae", "mutual_ae"]),
]


def _environment():
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    environment.pop("TF_CONFIG", None)
    return environment


def _run_steps(directory, num_devices, parts, *options):
    """Runs distributed_steps.py once per part of ``(cases, uneven cases)``, all at once.

    Each process writes its own results file in ``directory``; returns them merged.
    """
    processes = []
    try:
        for index, (cases, uneven_cases) in enumerate(parts):
            command = [sys.executable, str(SCRIPTS / "distributed_steps.py"), str(num_devices),
                       str(directory), *cases, f"--results=results_{num_devices}_{index}.json",
                       *options]
            if uneven_cases:
                command.append("--uneven=" + ",".join(uneven_cases))
            with open(directory / f"steps_{index}.log", "w") as log:
                processes.append(subprocess.Popen(command, env=_environment(),
                                                  stdout=subprocess.DEVNULL, stderr=log))
        for process in processes:
            process.wait(timeout=900)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    results = {}
    for index, process in enumerate(processes):
        if process.returncode != 0:
            log = (directory / f"steps_{index}.log").read_text()
            pytest.fail(f"distributed_steps.py failed:\n{log[-4000:]}")
        results.update(json.loads(
            (directory / f"results_{num_devices}_{index}.json").read_text()))
    return results


@pytest.fixture(scope="module")
def two_replicas(tmp_path_factory):
    """Results on 2 logical devices; the distributed copies ask for XLA; some are saved."""
    assert sorted(case for cases, _ in TWO_REPLICA_PARTS for case in cases) == sorted(ALL_CASES)
    assert sorted(case for _, cases in TWO_REPLICA_PARTS for case in cases) == sorted(
        UNEVEN_CASES)
    directory = tmp_path_factory.mktemp("two_replicas")
    results = _run_steps(directory, 2, TWO_REPLICA_PARTS, "--jit",
                         "--save=" + ",".join(SAVED_CASES))
    return directory, results


def _check_equal_to_one_device(result, gradient_tolerance=1e-5):
    for name, (single, distributed) in result["logs"].items():
        assert abs(single - distributed) <= 1e-5 * max(1.0, abs(single)), name
    # Each weight's change under SGD(1) is minus its gradient.
    assert result["gradient"] <= gradient_tolerance
    assert result["gradient_scale"] > 1e-2
    assert result["weights"] <= 1e-4
    assert result["weights_changed"] > 1e-2
    np.testing.assert_allclose(*result["history"], rtol=1e-5, atol=1e-6)


# --- Without a strategy every helper is the identity ----------------------------


def test_helpers_change_nothing_without_a_strategy():
    values = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    asked = []

    def draw(rows):
        asked.append(rows)
        return tf.ones([rows, 2])

    assert distribute.num_replicas() == 1
    assert distribute.gather(values) is values
    assert distribute.scale_loss(values) is values
    assert distribute.replica_rows(draw, 3).shape == (3, 2) and asked == [3]
    logs = {"loss": tf.constant(1.0)}
    assert distribute.step_logs(logs) is logs
    assert not distribute.is_multi_worker()


def test_xla_is_kept_without_a_strategy():
    model = mmdvae.MMDVAE(latent_dim=2, image_shape=(8, 8, 1), network="mlp")
    model.compile(jit_compile=True)
    assert model.jit_compile is True


# --- The command line's strategies ----------------------------------------------


def test_make_strategy_refuses_unknown_names_and_misplaced_devices():
    assert distribute.make_strategy("none") is None
    with pytest.raises(ValueError, match=r"`strategy`.*'mirrored'.*'ring'"):
        distribute.make_strategy("ring")
    with pytest.raises(ValueError, match=r"`devices`.*strategy='none'"):
        distribute.make_strategy("none", devices=["/cpu:0"])
    with pytest.raises(ValueError, match=r"`devices`.*strategy='mirrored'"):
        distribute.make_strategy("multi-worker", devices=["/cpu:0"])


@pytest.mark.parametrize("tf_config, message", [
    (None, "needs the environment variable TF_CONFIG"),
    ("{cluster", "must be JSON"),
    ('{"cluster": {"worker": ["a:1"]}}', "must hold a `cluster` and a `task`"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}', "task i"),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "task i"),
])
def test_multi_worker_needs_a_valid_tf_config(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError, match=message):
        distribute.make_strategy("multi-worker")


def test_tf_config_of_workers_and_a_chief_passes():
    distribute.check_tf_config(json.dumps(
        {"cluster": {"chief": ["a:1"], "worker": ["b:1", "c:1"]},
         "task": {"type": "worker", "index": 1}}))
    distribute.check_tf_config(json.dumps(
        {"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chief", "index": 0}}))


# --- MirroredStrategy on 2 logical CPU devices ----------------------------------


@pytest.mark.parametrize("case", EQUAL_CASES)
def test_two_replicas_step_equals_one_device(two_replicas, case):
    _, results = two_replicas
    assert results["num_replicas"] == 2
    _check_equal_to_one_device(results[case])


@pytest.mark.parametrize("case", ALL_CASES)
def test_every_model_trains_under_mirrored_strategy_with_xla_turned_off(two_replicas, case):
    _, results = two_replicas
    result = results[case]
    assert result["jit_compile"] is False
    assert len(result["warnings"]) == 1 and "jit_compile=True" in result["warnings"][0]
    assert np.isfinite(result["history"][1]).all()
    assert result["weights_changed"] > 1e-3


@pytest.mark.parametrize("case", ["mutual_ae", "mutual_ae_exact"])
def test_mutual_ae_step_equals_one_device(two_replicas, case):
    # I_hat is a mean over the global batch's prior codes and decoder samples (or, on one
    # categorical variable, the sum over its values). r(z|x)'s gradient is the difference
    # of two ~2 gamma |I_hat - M| times larger ones, hence the wider gradient tolerance
    # (its step is measured to 1.5e-5 on 2 replicas).
    _check_equal_to_one_device(two_replicas[1][case], gradient_tolerance=1e-4)


@pytest.mark.parametrize("case", SAVED_CASES)
def test_saved_under_a_strategy_loads_and_resumes(two_replicas, case):
    directory, results = two_replicas
    # Resumed inside the strategy from the file: the same 2 next steps.
    assert results[case]["resume"] == 0.0
    assert results[case]["resumed_iterations"] == 13
    # Loaded here, without a strategy: the same codes and images.
    model = keras.saving.load_model(directory / f"{case}.keras")
    saved = np.load(directory / f"{case}.npz")
    np.testing.assert_allclose(model.encode(saved["images"]), saved["codes"], atol=1e-6)
    np.testing.assert_allclose(model.decode(saved["codes"]), saved["reconstructions"],
                               atol=1e-6)


@pytest.mark.parametrize("case", UNEVEN_CASES)
def test_batches_the_replicas_cannot_split_evenly_train_as_on_one_device(two_replicas, case):
    # 401 images at batch 200: the last batch of 1 image leaves a replica without rows.
    # At batch 201 the replicas hold 101 and 100 rows. Each fit is one epoch; the last
    # one weights the examples (`sample_weight`), gathered with them.
    result = two_replicas[1][f"uneven_{case}"]
    for key in ("200", "201", "200_weighted"):
        single, distributed = result[f"losses_{key}"]
        assert set(distributed) == set(single)
        for name, value in single.items():
            assert np.isfinite(distributed[name]), name
            assert distributed[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    assert result["steps"] == 3 + 2 + 3
    assert result["weights"] <= 1e-4


@pytest.mark.slow
def test_four_replicas_step_equals_one_device(tmp_path):
    results = _run_steps(tmp_path, 4, [(ALL_CASES, [])])
    assert results["num_replicas"] == 4
    for case in EQUAL_CASES:
        _check_equal_to_one_device(results[case])
    for case in ("mutual_ae", "mutual_ae_exact"):
        assert np.isfinite(results[case]["history"][1]).all()


# --- MultiWorkerMirroredStrategy: two processes on 127.0.0.1 ----------------------


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for listener in sockets:
            listener.bind(("127.0.0.1", 0))
        return [listener.getsockname()[1] for listener in sockets]
    finally:
        for listener in sockets:
            listener.close()


def _run_workers(directory, timeout=300):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes, logs = [], []
    try:
        for index in range(2):
            environment = _environment()
            environment["TF_CONFIG"] = json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
            logs.append(open(directory / f"worker_{index}.log", "w"))
            processes.append(subprocess.Popen(
                [sys.executable, str(SCRIPTS / "multi_worker_fit.py"), str(directory)],
                env=environment, stdout=subprocess.DEVNULL, stderr=logs[-1]))
        for process in processes:
            process.wait(timeout=timeout)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
    for index, process in enumerate(processes):
        if process.returncode != 0:
            log = (directory / f"worker_{index}.log").read_text()
            pytest.fail(f"worker {index} failed:\n{log[-4000:]}")


@pytest.mark.slow
def test_two_workers_train_like_one_device(tmp_path):
    _run_workers(tmp_path)
    sys.path.insert(0, str(SCRIPTS))
    try:
        import multi_worker_fit
    finally:
        sys.path.remove(str(SCRIPTS))
    for name, arguments in multi_worker_fit.MODELS.items():
        workers = [np.load(tmp_path / f"{name}_{index}.npz") for index in range(2)]
        assert int(workers[0]["num_replicas"]) == 2
        # Both workers end with the same variables and logs.
        for key in workers[0].files:
            np.testing.assert_array_equal(workers[0][key], workers[1][key], err_msg=key)
        # And match one device trained from the same start on the whole batches.
        model = getattr(mmdvae, name)(**arguments, **multi_worker_fit.COMMON)
        model.compile(optimizer=keras.optimizers.SGD(0.05), jit_compile=False)
        for index, variable in enumerate(model.variables):
            variable.assign(workers[0][f"before_{index}"])
        history = model.fit(multi_worker_fit.images(), batch_size=32, epochs=2, shuffle=False,
                            verbose=0)
        np.testing.assert_allclose(history.history["loss"], workers[0]["loss"], rtol=1e-5)
        for index, variable in enumerate(model.variables):
            np.testing.assert_allclose(variable.numpy(), workers[0][f"after_{index}"],
                                       atol=1e-5, err_msg=variable.path)
        evaluation = model.evaluate(multi_worker_fit.images(), batch_size=32, verbose=0,
                                    return_dict=True)
        assert evaluation["loss"] == pytest.approx(float(workers[0]["evaluation_loss"]),
                                                   rel=1e-5)
