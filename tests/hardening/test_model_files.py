"""Every command that reads a model file x every way a model file can be wrong:
exit status 2 and one line naming the file; a hostile pickle is refused unrun."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from rnn_cli import checkpoint
from rnn_cli.errors import CheckpointError
from tests.hardening.conftest import CLS_GOOD, TAG_GOOD, TEXT_GOOD, one_error_line

# command -> (task of a model it accepts, argv builder from (model path, data dir))
COMMANDS = {
    "generate": ("lm", lambda m, d: ["generate", m, "-n", "3", "--device", "cpu"]),
    "tag": ("tagger", lambda m, d: ["tag", m, d / "in.conll", "--device", "cpu"]),
    "classify": ("classifier", lambda m, d: ["classify", m, d / "in.tsv", "--device", "cpu"]),
    "evaluate": ("tagger", lambda m, d: ["evaluate", m, d / "in.conll", "--device", "cpu"]),
    "info": ("lm", lambda m, d: ["info", m]),
}
MARKER = "hostile-payload-ran"


class Hostile:
    """Unpickling this would create the marker file (via exec)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('ran')",))


def _flip(data: bytes, start: int, count: int) -> bytes:
    b = bytearray(data)
    for i in range(start, start + count):
        b[i] ^= 0x5A
    return bytes(b)


def _bad_model(case: str, good: Path, other: Path, d: Path) -> tuple[Path, str]:
    """Write the bad model file for `case`; return its path and the text its error must hold."""
    path = d / f"{case}.pt"
    data = good.read_bytes()
    if case == "missing":
        return path, "no such model file"
    if case == "directory":
        path.mkdir()
        return path, "is a directory"
    if case == "empty":
        path.write_bytes(b"")
        return path, "not an rnn-cli model file (the file is empty)"
    if case == "text-file":
        path.write_bytes(TEXT_GOOD.encode())
        return path, "not an rnn-cli model file"
    if case == "truncated":
        path.write_bytes(data[: len(data) // 2])
        return path, "truncated or corrupt"
    if case == "bit-flips-in-weights":
        path.write_bytes(_flip(data, len(data) // 3, 64))
        return path, "corrupt"
    if case == "bit-flips-in-index":
        path.write_bytes(_flip(data, len(data) - 200, 64))
        return path, "corrupt"
    if case == "newer-format":
        checkpoint.save(path, {**checkpoint.load(good), "format_version": checkpoint.FORMAT_VERSION + 1})
        return path, f"model format version {checkpoint.FORMAT_VERSION + 1} is newer"
    if case == "wrong-task":
        return other, "this command needs a"
    if case == "hostile-zip":
        torch.save({"format_version": 1, "task": "lm", "kind": "model", "config": Hostile(d / MARKER)}, path)
        return path, "refused to load"
    if case == "hostile-pickle":
        path.write_bytes(pickle.dumps({"format_version": 1, "task": "lm", "x": Hostile(d / MARKER)}))
        return path, "not an rnn-cli model file"
    raise AssertionError(case)


CASES = ["missing", "directory", "empty", "text-file", "truncated", "bit-flips-in-weights", "bit-flips-in-index",
         "newer-format", "wrong-task", "hostile-zip", "hostile-pickle"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", CASES)
def test_bad_model_file(invoke, models, tmp_path, command, case):
    task, argv = COMMANDS[command]
    (tmp_path / "in.conll").write_text(TAG_GOOD)
    (tmp_path / "in.tsv").write_text(CLS_GOOD)
    if case == "wrong-task" and command in ("evaluate", "info"):
        pytest.skip(f"{command} takes a model of any task")
    other = models["classifier" if task != "classifier" else "lm"]
    path, text = _bad_model(case, models[task], other, tmp_path)
    res = invoke(*argv(path, tmp_path))
    assert res.exit_code == 2, (res.stdout, res.stderr)
    message = one_error_line(res)
    assert f"{path}: " in message and text in message, message
    assert not (tmp_path / MARKER).exists()


def test_the_good_models_pass_the_same_commands(invoke, models, tmp_path):
    """The control: with the right model, every command above succeeds."""
    (tmp_path / "in.conll").write_text(TAG_GOOD)
    (tmp_path / "in.tsv").write_text(CLS_GOOD)
    for command, (task, argv) in COMMANDS.items():
        res = invoke(*argv(models[task], tmp_path))
        assert res.exit_code == 0, (command, res.stderr)


def test_hostile_payload_would_run_if_unpickled_unsafely(tmp_path):
    """The payload is real: plain `pickle.loads` runs it (so the refusal above means something)."""
    data = pickle.dumps(Hostile(tmp_path / MARKER))
    pickle.loads(data)
    assert (tmp_path / MARKER).read_text() == "ran"


def test_hostile_checkpoint_refused_by_the_library(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "task": "tagger", "state_dict": {"w": Hostile(tmp_path / MARKER)}}, path)
    with pytest.raises(CheckpointError, match="refused to load.*GLOBAL"):
        checkpoint.load(path)
    assert not (tmp_path / MARKER).exists()


def test_unreadable_model_file(invoke, models, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = tmp_path / "m.pt"
    path.write_bytes(models["lm"].read_bytes())
    path.chmod(0)
    res = invoke("info", path)
    assert res.exit_code == 2 and f"{path}: permission denied" in one_error_line(res)


def test_debug_shows_the_traceback_for_a_model_error(invoke, tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(b"PK\x03\x04 cut short")
    res = invoke("--debug", "info", path)
    assert res.exit_code == 2 and "Traceback" in res.stderr and "CheckpointError" in res.stderr


def test_unreadable_model_file_simulated(invoke, models, tmp_path, monkeypatch):
    """The permission path as a non-root user meets it (root can read a mode-000 file)."""
    import builtins

    path = tmp_path / "m.pt"
    path.write_bytes(models["lm"].read_bytes())
    real_open = builtins.open

    def guarded(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "open", guarded, raising=False)
    res = invoke("info", path)
    assert res.exit_code == 2 and f"{path}: permission denied" in one_error_line(res)


MUTATIONS = {
    "no-vocab": lambda p: p.pop("vocab"),
    "empty-vocab": lambda p: p.__setitem__("vocab", {}),
    "vocab-of-numbers": lambda p: p.__setitem__("vocab", {k: list(range(len(v))) for k, v in p["vocab"].items()}),
    "no-train-config": lambda p: p.pop("train_config"),
    "train-config-a-list": lambda p: p.__setitem__("train_config", [1, 2]),
    "config-none": lambda p: p.__setitem__("config", None),
    "no-state-dict": lambda p: p.pop("state_dict"),
    "weights-of-wrong-shape": lambda p: p.__setitem__("state_dict", {k: torch.zeros(1) for k in p["state_dict"]}),
    "metrics-none": lambda p: p.__setitem__("metrics", None),
    "unknown-task": lambda p: p.__setitem__("task", "parser"),
    "fold-of-another-vocabulary": lambda p: p["vocab"].__setitem__("fold", ["chars"]),
    "fold-a-string": lambda p: p["vocab"].__setitem__("fold", "words"),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
@pytest.mark.parametrize("command", ["generate", "tag", "classify", "info"])
def test_damaged_plain_data_model(invoke, models, tmp_path, command, mutation):
    """A plain-data file with the wrong layout (hand-made, or from a buggy tool) is
    refused in one line, never an internal error deep inside the command."""
    if command == "info" and mutation == "weights-of-wrong-shape":
        pytest.skip("info reports what the file holds without building the model")
    task, argv = COMMANDS[command]
    (tmp_path / "in.conll").write_text(TAG_GOOD)
    (tmp_path / "in.tsv").write_text(CLS_GOOD)
    payload = checkpoint.load(models[task])
    MUTATIONS[mutation](payload)
    path = tmp_path / "damaged.pt"
    checkpoint.save(path, payload)
    res = invoke(*argv(path, tmp_path))
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert f"{path}: " in one_error_line(res)
