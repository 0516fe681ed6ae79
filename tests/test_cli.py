"""The command line: every registered model and flag, and one-line errors for mistakes."""

import json
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import keras
import numpy as np
import pytest
from tiny import ROOT, run_cli

import mmdvae
from mmdvae import checkpoints, cli, outputs, runtime
from mmdvae.cli import arguments as cli_arguments
from mmdvae.cli import train
from mmdvae.models import registry

#: A value of every model flag, as typed on the command line.
FLAG_VALUES = {
    "--network": "mlp", "--encoder-type": "gaussian", "--likelihood": "bernoulli",
    "--prior": "logistic", "--lambda": "2.5", "--alpha": "0.5", "--beta": "2.0",
    "--divergence": "stein", "--kernel": "rbf", "--bandwidth": "2.0",
    "--estimator": "unbiased", "--num-prior-samples": "50", "--information": "2.0",
    "--penalty-weight": "3.0", "--discriminator-units": "16,8",
}
#: A value some models need instead (the Mutual AE's likelihood must be reparameterised).
SPECIAL_VALUES = {("mutual", "--likelihood"): "unbounded_gaussian"}


def parse(*arguments):
    return cli.build_parser().parse_args(["train", "--out", "unused", *arguments])



@pytest.mark.parametrize("flags, expected", [
    ([], None), (["--jit"], True), (["--no-jit"], False),
])
def test_the_jit_flags_choose_the_compiled_step(flags, expected):
    """Without a flag the step is XLA-compiled where that is the faster step here."""
    args = parse("--network", "mlp", "--latent-dim", "2", *flags)
    model = registry.get("mmd").build(2, network="mlp")
    train.compile_model(model, args)
    assert model.jit_compile is (runtime.default_jit_compile() if expected is None else expected)


def test_jit_and_no_jit_together_are_refused(capsys):
    with pytest.raises(SystemExit):
        parse("--jit", "--no-jit")
    assert "not allowed with argument" in capsys.readouterr().err

def expected_config_value(text, argument):
    """The config's value for a flag's text, as the constructor stores it."""
    if argument == "discriminator_units":
        return [int(part) for part in text.split(",")]
    if argument == "likelihood":
        return text
    try:
        return int(text) if argument == "num_prior_samples" else float(text)
    except ValueError:
        return text


@pytest.mark.parametrize("model", registry.MODELS)
@pytest.mark.parametrize("flag", cli_arguments.MODEL_FLAGS)
def test_every_flag_of_every_model_builds_or_gets_one_line(model, flag, capsys):
    value = SPECIAL_VALUES.get((model, flag), FLAG_VALUES[flag])
    arguments = ["--model", model, "--latent-dim", "2", flag, value]
    if flag != "--network":
        arguments += ["--network", "mlp"]
    if flag == "--bandwidth" and "kernel" in registry.get(model).arguments:
        arguments += ["--kernel", "rbf"]  # the tutorial kernel takes no bandwidth
    args = parse(*arguments)
    argument = cli_arguments.MODEL_FLAGS[flag][0]
    entry = registry.get(model)
    if argument not in entry.arguments:
        with pytest.raises(SystemExit) as refusal:
            train.model_arguments(args)
        message = str(refusal.value)
        assert message.startswith(f"error: {flag} {value}") and "\n" not in message
        assert "does not apply" in message and f"--model {model}" in message
        return
    built = train.build_model(args, train.model_arguments(args), (28, 28, 1))
    assert isinstance(built, entry.model_class)
    assert built.get_config()[argument] == expected_config_value(value, argument)


def test_model_arguments_that_conflict_get_the_models_message():
    args = parse("--model", "infovae", "--alpha", "0.5", "--lambda", "0.1")
    with pytest.raises(SystemExit, match=r"^error: --model infovae: .*alpha \+ lambda_ - 1"):
        train.build_model(args, train.model_arguments(args), (28, 28, 1))
    args = parse("--model", "mmd", "--alpha", "0.5")
    with pytest.raises(SystemExit, match="--alpha 0.5 does not apply to --model mmd"):
        train.model_arguments(args)


@pytest.mark.parametrize("arguments, message", [
    (["--model", "vq"], "invalid choice: 'vq'"),
    (["--image-size", "0x4"], "--image-size: must be HEIGHTxWIDTH (e.g. 64x64)"),
    (["--latent-dim", "0"], "--latent-dim: must be a positive integer; received 0"),
    (["--seed", "-1"], "--seed: must be an integer >= 0; received -1"),
    (["--lambda", "nan"], "--lambda: must be a finite number >= 0; received nan"),
    (["--learning-rate", "0"], "--learning-rate: must be a finite number > 0; received 0"),
    (["--discriminator-units", "64,x"], "--discriminator-units: must be a comma-separated"),
    (["--figures", "loss"], "--figures: must be 'none' or a comma-separated list"),
])
def test_bad_flag_values_are_refused_by_the_parser(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--out", "unused", *arguments])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def error_of(arguments):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(arguments)
    message = str(exit_info.value.code)
    assert message.startswith("error: ") and "\n" not in message, message
    return message


TINY_RUN = ["--network", "mlp", "--latent-dim", "2", "--figures", "none"]


def test_mistakes_are_reported_before_data_or_training(tmp_path, monkeypatch, data_dir):
    monkeypatch.setenv("MMDVAE_DATA_DIR", str(data_dir))
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    message = error_of(["train", *TINY_RUN, "--out", str(blocker / "run")])
    assert f"--out {blocker / 'run'} cannot be created" in message
    message = error_of(["train", *TINY_RUN, "--train-size", "100000",
                        "--out", str(tmp_path / "big")])
    assert "train_size" in message and "100000" in message
    message = error_of(["train", *TINY_RUN, "--data-dir", str(tmp_path / "nowhere"),
                        "--out", str(tmp_path / "nodata")])
    assert "nowhere" in message and "MMDVAE_DATA_DIR" in message
    message = error_of(["train", *TINY_RUN, "--model", "mmd", "--bandwidth", "2",
                        "--out", str(tmp_path / "b")])
    assert "bandwidth" in message and "tutorial" in message
    message = error_of(["train", *TINY_RUN, "--model", "mmd",
                        "--discriminator-learning-rate", "0.1", "--out", str(tmp_path / "d")])
    assert "--discriminator-learning-rate 0.1 applies to --model aae only" in message


def test_a_corrupt_backup_is_named_corrupt(tmp_path):
    command = ["train", *TINY_RUN, "--out", str(tmp_path / "run")]
    # The run's record, as train writes it when the run starts.
    outputs.prepare(tmp_path / "run", vars(cli.build_parser().parse_args(command)))
    backup = tmp_path / "run" / "backup"
    backup.mkdir(parents=True)
    (backup / checkpoints.STATE_FILE).write_text('{"epoch": 1, "mod')
    message = error_of([*command, "--resume"])
    assert "state.json is corrupt" in message
    (backup / checkpoints.STATE_FILE).write_text(json.dumps(
        {"epoch": 1, "model": "epoch-1.keras", "history": {}}))
    (backup / "epoch-1.keras").write_bytes(b"not a zip file")
    message = error_of(["train", *TINY_RUN, "--out", str(tmp_path / "run"), "--resume",
                        "--epochs", "2"])
    assert "corrupt or incomplete" in message


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """An untrained 28x28 model file, for the evaluate command's checks."""
    path = tmp_path_factory.mktemp("model") / "model.keras"
    mmdvae.ELBOVAE(latent_dim=2, network="mlp", seed=0).save(path)
    return path


def test_evaluate_checks_its_arguments_before_any_work(saved_model, tmp_path, monkeypatch):
    from mmdvae import evaluation

    def expensive(*arguments, **keywords):
        raise AssertionError("an expensive measure ran before the arguments were checked")

    monkeypatch.setattr(evaluation, "evaluate", expensive)
    monkeypatch.setattr(evaluation, "train_image_classifier", expensive)
    message = error_of(["evaluate", str(saved_model), "--out", str(tmp_path)])
    assert f"--out {tmp_path} is a directory" in message
    message = error_of(["evaluate", str(saved_model), "--out", str(tmp_path / "e.json"),
                        "--mse-variance", "0.1"])
    assert "--mse-variance 0.1 applies to models with the mse likelihood only" in message
    assert "'bernoulli'" in message
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["evaluate", str(saved_model), "--out", "e.json", "--kernel", "nonsense"])
    assert exit_info.value.code == 2


def test_evaluate_names_a_corrupt_model_file(tmp_path):
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 truncated")
    message = error_of(["evaluate", str(broken), "--out", str(tmp_path / "e.json")])
    assert f"{broken} is corrupt: a .keras file is a zip archive" in message
    assert "File not found" not in message
    empty = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("metadata.json", "{}")
    message = error_of(["evaluate", str(empty), "--out", str(tmp_path / "e.json")])
    assert f"{empty} is not a readable .keras file" in message


def test_compare_names_a_corrupt_or_incomplete_evaluation(tmp_path):
    corrupt, incomplete = tmp_path / "a", tmp_path / "b"
    corrupt.mkdir()
    incomplete.mkdir()
    (corrupt / "evaluation.json").write_text('{"metrics": ')
    (incomplete / "evaluation.json").write_text('{"model": "m.keras"}')
    message = error_of(["compare", str(corrupt), "--out", str(tmp_path / "r.md")])
    assert "evaluation.json is corrupt" in message
    message = error_of(["compare", str(incomplete), "--out", str(tmp_path / "r.md")])
    assert 'has no "metrics" table' in message


def test_a_killed_run_resumes_with_every_epoch_and_its_figures(tmp_path, data_dir):
    """Killed as soon as the first backup appears; the resumed run ends the same."""
    out = tmp_path / "run"
    arguments = ["train", "--network", "mlp", "--latent-dim", "2", "--epochs", "3",
                 "--batch-size", "100", "--train-size", "2000", "--no-jit",
                 "--figures", "samples", "--out", str(out)]
    environment = {"MMDVAE_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "mmdvae", *arguments], cwd=ROOT,
                               env={**__import__("os").environ, **environment},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state_file = out / "backup" / checkpoints.STATE_FILE
    deadline = time.monotonic() + 600
    while not state_file.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    output = process.communicate()[0]
    assert process.returncode == -signal.SIGKILL, output[-3000:]
    state = json.loads(state_file.read_text())
    assert 1 <= state["epoch"] < 3, "the kill must interrupt the run"
    # The figures are drawn before the backup: a backed-up epoch has its figure.
    assert (out / "figures" / f"samples_epoch_{state['epoch']:04d}.png").is_file()

    again = run_cli([*arguments, "--resume"], data_dir, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"resuming after epoch {state['epoch']}" in again.stdout
    record = json.loads((out / "history.json").read_text())
    assert record["epochs"] == 3
    assert all(len(values) == 3 for values in record["history"].values())
    for name, values in state["history"].items():
        assert record["history"][name][: state["epoch"]] == values
    assert sorted(path.name for path in (out / "figures").glob("samples_epoch_*.png")) == [
        f"samples_epoch_{epoch:04d}.png" for epoch in (1, 2, 3)]
    weights = keras.saving.load_model(out / "model.keras").get_weights()

    done = run_cli([*arguments, "--resume", "--epochs", "2"], data_dir, timeout=600)
    assert done.returncode == 0
    assert "nothing left to train" in done.stdout and "finished 3 epochs" in done.stdout
    for before, after in zip(weights, keras.saving.load_model(out / "model.keras").get_weights(),
                             strict=True):
        np.testing.assert_array_equal(before, after)


def test_compare_tests_whether_two_runs_codes_differ(tmp_path, data_dir):
    """The same model twice: no difference found; another model: a clear one."""
    runs = {"first": 0, "same": 0, "other": 1}
    for name, seed in runs.items():
        run = tmp_path / name
        run.mkdir()
        keras.utils.set_random_seed(seed)
        mmdvae.MMDVAE(latent_dim=2, network="mlp", seed=seed).save(run / "model.keras")
        (run / "evaluation.json").write_text(json.dumps({"dataset": "mnist", "metrics": {}}))
    cli.main(["compare", *(str(tmp_path / name) for name in runs), "--two-sample", "300",
              "--data-dir", str(data_dir), "--out", str(tmp_path / "report.md")])
    report = (tmp_path / "report.md").read_text()
    rows = {line.split(" | ")[0].strip("| "): float(line.rsplit("|", 2)[1])
            for line in report.splitlines() if " vs " in line}
    assert set(rows) == {"first vs same", "first vs other", "same vs other"}
    assert rows["first vs same"] > 0.5
    assert rows["first vs other"] < 0.01 and rows["same vs other"] < 0.01


def test_train_takes_other_datasets_and_directories(tmp_path):
    """scikit-learn's real 8x8 digits by name, and a directory of PNG files with classes."""
    from PIL import Image

    cli.main(["train", "--dataset", "sklearn_digits", "--network", "conv", "--latent-dim", "2",
              "--epochs", "1", "--batch-size", "100", "--figures", "samples,scatter",
              "--out", str(tmp_path / "digits")])
    model = keras.saving.load_model(tmp_path / "digits" / "model.keras")
    assert model.image_shape == (8, 8, 1)
    rng = np.random.default_rng(0)
    for name in ("circles", "squares"):
        (tmp_path / "images" / name).mkdir(parents=True)
        for index in range(12):
            pixels = (rng.uniform(size=(10, 12, 3)) * 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "images" / name / f"{index}.png")
    cli.main(["train", "--dataset", str(tmp_path / "images"), "--image-size", "16x16",
              "--network", "conv", "--latent-dim", "2", "--epochs", "1", "--batch-size", "8",
              "--figures", "samples,scatter", "--out", str(tmp_path / "folder")])
    model = keras.saving.load_model(tmp_path / "folder" / "model.keras")
    assert model.image_shape == (16, 16, 3)
    assert (tmp_path / "folder" / "figures" / "latent_scatter_epoch_0001.png").is_file()
    message = error_of(["train", "--dataset", "no_such_dataset", "--out", str(tmp_path / "x")])
    assert "no_such_dataset" in message and "tensorflow-datasets" in message


def test_train_under_a_mirrored_strategy_saves_a_plain_model(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("MMDVAE_DATA_DIR", str(data_dir))
    arguments = ["train", "--strategy", "mirrored", "--model", "aae", *TINY_RUN,
                 "--train-size", "400", "--out", str(tmp_path / "run")]
    cli.main([*arguments, "--epochs", "1"])
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert isinstance(model, mmdvae.AAE) and int(model.optimizer.iterations) == 2
    cli.main([*arguments, "--epochs", "2", "--resume"])
    assert int(keras.saving.load_model(tmp_path / "run" / "model.keras")
               .optimizer.iterations) == 4
    monkeypatch.delenv("TF_CONFIG", raising=False)
    message = error_of(["train", "--strategy", "multi-worker", "--out", str(tmp_path / "m")])
    assert "TF_CONFIG" in message


def test_help_answers_without_tensorflow():
    """``--help`` and the commands' ``--help`` build their parsers without TensorFlow."""
    code = (
        "import contextlib, io, sys\n"
        "from mmdvae import cli\n"
        "for argv in (['--help'], ['train', '--help'], ['evaluate', '--help'],\n"
        "             ['compare', '--help']):\n"
        "    text = io.StringIO()\n"
        "    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):\n"
        "        cli.main(argv)\n"
        "    print(len(text.getvalue().splitlines()), '--latent-dim' in text.getvalue())\n"
        "print(sorted(name for name in ('tensorflow', 'keras', 'matplotlib') "
        "if name in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    top, train_help, evaluate_help, compare_help, imported = result.stdout.splitlines()
    assert top.endswith("False") and int(top.split()[0]) > 5
    assert train_help.endswith("True") and int(train_help.split()[0]) > 50
    assert evaluate_help.endswith("False") and int(evaluate_help.split()[0]) > 20
    assert compare_help.endswith("False") and int(compare_help.split()[0]) > 5
    assert imported == "[]"


def test_the_command_lines_names_are_the_librarys():
    """The names the parser offers without TensorFlow are those the library defines."""
    from mmdvae import distribute, evaluation, kernels, likelihoods, networks, priors
    from mmdvae.models import base, info_vae

    assert cli_arguments.MODELS == {name: entry.summary
                                    for name, entry in registry.MODELS.items()}
    assert cli_arguments.NETWORKS == networks.NETWORKS
    assert cli_arguments.ENCODER_TYPES == base.ENCODER_TYPES
    assert cli_arguments.LIKELIHOODS == likelihoods.LIKELIHOODS
    assert cli_arguments.PRIORS == priors.PRIORS
    assert cli_arguments.DIVERGENCES == info_vae.DIVERGENCES
    assert cli_arguments.KERNELS == kernels.KERNELS
    assert cli_arguments.ESTIMATORS == kernels.ESTIMATORS
    assert cli_arguments.STRATEGIES == distribute.STRATEGIES
    assert cli_arguments.METRICS == evaluation.METRICS
    assert cli_arguments.CLASSIFIERS == evaluation.CLASSIFIERS


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A one-epoch run on scikit-learn's 8x8 digits, without its history.json."""
    out = tmp_path_factory.mktemp("digits") / "run"
    assert cli.main(["train", "--dataset", "sklearn_digits", "--network", "mlp",
                     "--latent-dim", "2", "--epochs", "1", "--batch-size", "100",
                     "--figures", "samples", "--no-jit", "--out", str(out)]) == 0
    (out / "history.json").unlink()
    return out


def test_train_writes_its_record_and_model_once(digits_run):
    record = json.loads((digits_run / outputs.RUN_FILE).read_text())
    assert record["command"] == "train" and record["dataset"] == "sklearn_digits"
    assert record["latent_dim"] == 2 and record["epochs"] == 1
    state = json.loads((digits_run / "backup" / checkpoints.STATE_FILE).read_text())
    assert "arguments" not in state  # recorded once, in run.json
    # model.keras is the last epoch's backup, byte for byte; samples.png its figure.
    assert (digits_run / "model.keras").read_bytes() == (
        digits_run / "backup" / state["model"]).read_bytes()
    assert (digits_run / "samples.png").read_bytes() == (
        digits_run / "figures" / "samples_epoch_0001.png").read_bytes()


def test_evaluate_takes_the_dataset_of_the_run(digits_run, tmp_path, capsys):
    """The run's record names the dataset; its history.json is not needed."""
    out = tmp_path / "evaluation.json"
    assert cli.main(["evaluate", str(digits_run), "--metrics", "active_units",
                     "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning" not in captured.err
    record = json.loads(out.read_text())
    assert record["dataset"] == "sklearn_digits" and record["num_test_images"] == 297
    assert "on sklearn_digits test, 297 images" in captured.out


def test_resume_restores_the_model_without_building_one(digits_run, tmp_path, monkeypatch,
                                                        capsys):
    def build(*arguments, **keywords):
        raise AssertionError("--resume built a fresh model")

    monkeypatch.setattr(train, "build_model", build)
    monkeypatch.setattr(train, "compile_model", build)
    run = shutil.copytree(digits_run, tmp_path / "run")
    backup = keras.saving.load_model(run / "model.keras")
    assert cli.main(["train", "--dataset", "sklearn_digits", "--network", "mlp",
                     "--latent-dim", "2", "--epochs", "2", "--batch-size", "100",
                     "--figures", "samples", "--no-jit", "--out", str(run),
                     "--resume"]) == 0
    assert "resuming after epoch 1" in capsys.readouterr().out
    resumed = keras.saving.load_model(run / "model.keras")
    # One more epoch of the restored optimizer: 1500 images in batches of 100.
    assert int(backup.optimizer.iterations) == 15 and int(resumed.optimizer.iterations) == 30
    record = json.loads((run / "history.json").read_text())
    assert record["epochs"] == 2 and len(record["history"]["loss"]) == 2
    with pytest.raises(SystemExit, match="--resume must repeat the run's settings recorded in "
                       ".*changed: --latent-dim 2 -> 3"):
        cli.main(["train", "--dataset", "sklearn_digits", "--network", "mlp",
                  "--latent-dim", "3", "--epochs", "3", "--out", str(run), "--resume"])


def test_a_non_finite_loss_ends_the_run_with_one_error_line(tmp_path, capsys):
    out = tmp_path / "run"
    message = error_of(["train", "--dataset", "sklearn_digits", "--network", "mlp",
                        "--latent-dim", "2", "--epochs", "2", "--batch-size", "100",
                        "--learning-rate", "1e30", "--figures", "none", "--no-jit",
                        "--out", str(out)])
    assert message.startswith("error: Training stopped at batch ") and "not finite" in message
    assert f"saved to {out / 'model.keras'}" in message
    assert "Training stopped" not in capsys.readouterr().err  # said once, as the error line
    assert (out / "model.keras").is_file() and (out / "history.json").is_file()
