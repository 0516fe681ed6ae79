"""The output directory of a run: new, --overwrite, --resume, finished, and refusals."""

import json

import pytest

from mmdvae import outputs

SETTINGS = {"seed": 0, "sizes": [2, 3]}


def check(directory, **keywords):
    return outputs.check(directory, SETTINGS, **keywords)


def test_a_missing_or_empty_directory_is_a_new_run_and_nothing_is_written(tmp_path):
    assert check(tmp_path / "a" / "b") == outputs.NEW
    assert check(tmp_path) == outputs.NEW
    assert list(tmp_path.iterdir()) == []
    outputs.prepare(tmp_path / "a" / "b", {**SETTINGS, "epochs": 3})
    assert json.loads((tmp_path / "a" / "b" / outputs.RUN_FILE).read_text()) == {
        "seed": 0, "sizes": [2, 3], "epochs": 3}


def test_a_non_empty_directory_needs_resume_or_overwrite(tmp_path):
    (tmp_path / "notes.txt").write_text("kept")
    with pytest.raises(outputs.OutputError) as refusal:
        check(tmp_path)
    assert refusal.value.command_line() == (
        f"--out {tmp_path} is not empty; choose another directory, pass --resume to "
        f"continue its run or --overwrite to start afresh")
    assert str(refusal.value).startswith(f"Argument `out` (out='{tmp_path}') is not empty")
    with pytest.raises(outputs.OutputError, match=r"--resume needs an interrupted run .* "
                       r"\(run.json is missing\)"):
        check(tmp_path, resume=True)
    assert check(tmp_path, overwrite=True) == outputs.NEW
    with pytest.raises(outputs.OutputError, match="not both"):
        check(tmp_path, resume=True, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "kept"


def test_resume_needs_the_same_settings(tmp_path):
    outputs.prepare(tmp_path, {**SETTINGS, "epochs": 3})
    assert check(tmp_path, resume=True) == outputs.RESUMABLE
    with pytest.raises(outputs.OutputError) as refusal:
        outputs.check(tmp_path, {"seed": 1, "sizes": (2, 3), "other": None}, resume=True,
                      label=lambda key: f"--{key}")
    assert refusal.value.command_line() == (
        f"--resume must repeat the run's settings recorded in {tmp_path / outputs.RUN_FILE}; "
        f"changed: --seed 0 -> 1")
    (tmp_path / outputs.RUN_FILE).write_text("[1, 2")
    with pytest.raises(outputs.OutputError, match="run.json is corrupt"):
        check(tmp_path, resume=True)


def test_an_empty_directory_may_start_a_resumed_run(tmp_path):
    with pytest.raises(outputs.OutputError, match="--resume needs an interrupted run"):
        check(tmp_path / "new", resume=True)
    assert check(tmp_path / "new", resume=True, start_if_missing=True) == outputs.NEW


def test_a_finished_run_is_read_back_never_overwritten(tmp_path):
    outputs.prepare(tmp_path, SETTINGS)
    (tmp_path / "results.json").write_text("{}")
    assert check(tmp_path, resume=True, finished_file="results.json") == outputs.FINISHED
    for keywords in ({}, {"overwrite": True}):
        with pytest.raises(outputs.OutputError, match=r"holds a finished run \(results.json\)"):
            check(tmp_path, finished_file="results.json", **keywords)


def test_prepare_removes_what_an_earlier_run_left(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "state.json").write_text("{}")
    (tmp_path / "model.keras").write_text("old")
    (tmp_path / "figures").mkdir()
    outputs.prepare(tmp_path, SETTINGS, remove=("backup", "model.keras", "history.json"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["figures", outputs.RUN_FILE]


def test_paths_that_cannot_hold_a_run_are_refused(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("")
    with pytest.raises(outputs.OutputError, match="exists and is not a directory"):
        check(blocker)
    with pytest.raises(outputs.OutputError) as refusal:
        check(blocker / "run")
    assert refusal.value.command_line() == (
        f"--out {blocker / 'run'} cannot be created: {blocker} is a file")


def test_a_failed_block_leaves_no_empty_directory(tmp_path):
    with pytest.raises(SystemExit), outputs.removed_if_left_empty(tmp_path / "a" / "b"):
        (tmp_path / "a" / "b" / "figures").mkdir(parents=True)
        raise SystemExit("error: no data")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(SystemExit), outputs.removed_if_left_empty(tmp_path / "c"):
        outputs.prepare(tmp_path / "c", SETTINGS)
        raise SystemExit("error: training failed")
    assert (tmp_path / "c" / outputs.RUN_FILE).is_file()
