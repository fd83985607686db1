"""Where output goes wrong: a reader that goes away (`| head -1`), a full disk
(`/dev/full`), and a failure while writing a file (the previous file stays intact).
Pipes and devices are real subprocesses, as a shell user meets them."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_cli import checkpoint
from rnn_cli.data.atomic import atomic_open, atomic_write_text
from tests.conftest import ROOT
from tests.hardening.conftest import CLS_GOOD, TAG_GOOD, one_error_line

ENV = {**{k: v for k, v in os.environ.items() if k != "RNN_CLI_DEBUG"}, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
RNN_CLI = f"{sys.executable} -m rnn_cli"


def _shell(command: str, tmp_path: Path) -> tuple[bytes, bytes, int]:
    """Run a bash pipeline; return (stdout, stderr, exit status of its first command)."""
    status = tmp_path / "status"
    res = subprocess.run(["bash", "-c", f"{command}; echo ${{PIPESTATUS[0]}} > {status}"], capture_output=True,
                         env=ENV, stdin=subprocess.DEVNULL, timeout=300)
    return res.stdout, res.stderr, int(status.read_text())


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory) -> dict[str, Path]:
    """Inputs far longer than a pipe buffer, so the writer is still busy when `head` leaves."""
    d = tmp_path_factory.mktemp("big")
    (d / "big.txt").write_text("John Smith paid 20 dollars .\nMary sat on 3 chairs .\n" * 5000)
    (d / "big.tsv").write_text(CLS_GOOD * 5000)
    (d / "big.conll").write_text(TAG_GOOD * 5000)
    return {"tag": d / "big.txt", "classify": d / "big.tsv", "convert": d / "big.conll"}


@pytest.mark.parametrize("command", ["tag", "classify", "generate", "convert"])
def test_reader_going_away_ends_quietly(models, big_inputs, tmp_path, command):
    args = {"tag": f"tag {models['tagger']} {big_inputs['tag']} --input-format text --device cpu",
            "classify": f"classify {models['classifier']} {big_inputs['classify']} --device cpu",
            "generate": f"generate {models['lm']} -n 1000000 --device cpu",
            "convert": f"convert {big_inputs['convert']} --to bioes"}[command]
    out, err, status = _shell(f"{RNN_CLI} {args} | head -1", tmp_path)
    assert len(out.splitlines()) == 1
    assert err == b"", err.decode()
    assert status == 141  # 128 + SIGPIPE, as `seq 1e9 | head -1` ends


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("command", ["tag", "classify", "generate", "evaluate", "info", "convert"])
def test_full_disk_on_stdout_is_one_clear_line(models, tmp_path, command):
    (tmp_path / "in.conll").write_text(TAG_GOOD * 200)
    (tmp_path / "in.tsv").write_text(CLS_GOOD * 200)
    args = {"tag": f"tag {models['tagger']} {tmp_path / 'in.conll'}",
            "classify": f"classify {models['classifier']} {tmp_path / 'in.tsv'}",
            "generate": f"generate {models['lm']} -n 20000",
            "evaluate": f"evaluate --gold {tmp_path / 'in.conll'} --pred {tmp_path / 'in.conll'} --json",
            "info": f"info {models['lm']}",
            "convert": f"convert {tmp_path / 'in.conll'} --to bioes"}[command]
    _, err, status = _shell(f"{RNN_CLI} {args} > /dev/full", tmp_path)
    assert status == 2, err.decode()
    assert err.decode().splitlines() == ["rnn-cli: error: cannot write output: No space left on device"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_convert_output_to_a_full_device(tmp_path):
    """`-o /dev/full`: the device is written (not replaced by a renamed file) and the error names it."""
    (tmp_path / "in.conll").write_text(TAG_GOOD * 200)
    _, err, status = _shell(f"{RNN_CLI} convert {tmp_path / 'in.conll'} --to bioes -o /dev/full", tmp_path)
    assert status == 2
    assert err.decode().splitlines() == ["rnn-cli: error: /dev/full: No space left on device"]
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert not [p for p in os.listdir("/dev") if p.startswith(".full.")]


def test_convert_failing_halfway_keeps_the_previous_output(invoke, tmp_path):
    src = tmp_path / "in.conll"
    src.write_text(TAG_GOOD * 50 + "\nbad X B-NAME extra\n")  # a bad line after 100 good sentences
    out = tmp_path / "out.conll"
    out.write_text("previous\n")
    res = invoke("convert", src, "--to", "bioes", "-o", out)
    assert res.exit_code == 2 and f"{src}:" in one_error_line(res)
    assert out.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.conll", "out.conll"]  # no temporary left


def test_convert_output_into_a_directory(invoke, tmp_path):
    src = tmp_path / "in.conll"
    src.write_text(TAG_GOOD)
    res = invoke("convert", src, "--to", "bioes", "-o", tmp_path)
    assert res.exit_code == 2 and f"{tmp_path}: is a directory" in one_error_line(res)


def _fail_fsync(monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)


def test_model_save_on_a_full_disk_keeps_the_previous_model(models, tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    path.write_bytes(models["lm"].read_bytes())
    before = path.read_bytes()
    payload = checkpoint.load(path)
    _fail_fsync(monkeypatch)
    with pytest.raises(OSError) as exc:
        checkpoint.save(path, {**payload, "metrics": {"epoch": 99}})
    assert exc.value.filename == str(path) and exc.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_model_save_failing_midway_keeps_the_previous_model(models, tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(models["lm"].read_bytes())
    before = path.read_bytes()
    with pytest.raises(RuntimeError), atomic_open(path, "wb") as fh:
        fh.write(b"PK\x03\x04 half a model")
        raise RuntimeError("killed while writing")
    assert path.read_bytes() == before
    assert checkpoint.load(path)["task"] == "lm"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def test_metrics_log_on_a_full_disk_keeps_the_previous_log(tmp_path, monkeypatch):
    log = tmp_path / "m.metrics.jsonl"
    atomic_write_text(log, '{"epoch": 1}\n')
    _fail_fsync(monkeypatch)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(log, '{"epoch": 1}\n{"epoch": 2}\n')
    assert log.read_text() == '{"epoch": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["m.metrics.jsonl"]


def test_atomic_files_get_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o644


@pytest.mark.parametrize("command", ["tag", "classify"])
def test_endless_stdin_into_a_closed_pipe_does_not_hang(models, tmp_path, command):
    """`yes | rnn-cli tag MODEL | head -1`: the input never ends, the output is closed; the
    background reader must not keep the process alive."""
    model = models["tagger" if command == "tag" else "classifier"]
    res = subprocess.run(["bash", "-c", f"yes 'John Smith paid 20 dollars .' | {RNN_CLI} {command} {model} "
                          f"--device cpu | head -1; echo ${{PIPESTATUS[1]}} >&2"],
                         capture_output=True, env=ENV, stdin=subprocess.DEVNULL, timeout=120)
    assert len(res.stdout.splitlines()) == 1
    assert res.stderr.decode().split() == ["141"]


@pytest.mark.parametrize("command", ["train-lm", "train-tagger", "train-classifier"])
@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_unwritable_model_path_fails_before_training(invoke, tmp_path, command, where):
    """`-o` naming a directory, or a path under a file, is refused at once (exit 2, one
    line naming it), before any data is read: here the training file does not even exist."""
    (tmp_path / "plain").write_text("x")
    out = tmp_path if where == "directory" else tmp_path / "plain" / "m.pt"
    missing = tmp_path / "missing.txt"
    args = [command, missing] if command == "train-lm" else [command, missing, "--dev", missing]
    res = invoke(*args, "-o", out)
    line = one_error_line(res)
    assert res.exit_code == 2, line
    assert "missing.txt" not in line and str(out) in line
    assert ("is a directory" if where == "directory" else "is not a directory") in line


@pytest.mark.parametrize("command", ["tag", "classify", "generate", "evaluate", "train-classifier"])
def test_threads_option_sets_torch_threads_and_refuses_negatives(invoke, models, tmp_path, command):
    """`--threads N` reaches torch (checked in process); a negative count is a usage error."""
    import torch

    tsv = tmp_path / "in.tsv"
    tsv.write_text(CLS_GOOD)
    conll = tmp_path / "in.conll"
    conll.write_text(TAG_GOOD)
    args = {
        "tag": ["tag", models["tagger"], conll],
        "classify": ["classify", models["classifier"], tsv],
        "generate": ["generate", models["lm"], "--max-tokens", "5"],
        "evaluate": ["evaluate", models["classifier"], tsv],
        "train-classifier": ["train-classifier", tsv, "--dev", tsv, "--epochs", "1", "--hidden-size", "4",
                             "--embedding-size", "4", "-o", tmp_path / "m.pt", "--quiet"],
    }[command]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        res = invoke(*args, "--threads", "2")
        assert res.exit_code == 0, (res.stderr, res.exception)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    bad = invoke(*args, "--threads", "-1")
    assert bad.exit_code == 2 and "--threads must be >= 0" in one_error_line(bad)
