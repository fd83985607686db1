"""The commands as a shell user runs them: real subprocesses, stdout for results,
stderr for the rest, exit status 2 with one line for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_cli import checkpoint


def one_error_line(res) -> str:
    err = res.stderr.decode().strip().splitlines()
    assert len(err) == 1, res.stderr.decode()
    assert "Traceback" not in res.stderr.decode()
    return err[0]


def run_in_one_process(*argvs: list[str]) -> subprocess.CompletedProcess:
    """Run each argv through the CLI in one fresh interpreter (each must exit 0); the
    last stdout line says whether torch was imported."""
    code = (
        "import sys\n"
        "from rnn_cli.cli.app import main\n"
        f"for argv in {list(argvs)!r}:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        "print('torch' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res


def test_help_does_not_import_torch():
    res = run_in_one_process(["--help"], *([name, "--help"] for name in (
        "train-lm", "generate", "evaluate", "train-tagger", "tag", "convert", "info", "export")))
    assert res.stdout.strip().splitlines()[-1] == "False"


def test_scoring_tagged_files_does_not_import_torch(tmp_path):
    pred = tmp_path / "pred.txt"
    pred.write_text("John B-PER B-PER\nsat O O\n\nMary B-PER O\n")
    res = run_in_one_process(["evaluate", "--conlleval", str(pred)],
                             ["evaluate", "--gold", str(pred), "--pred", str(pred)])
    assert "PER\t100.00\t50.00\t66.67\t2" in res.stdout  # John found, Mary missed
    assert res.stdout.strip().splitlines()[-1] == "False"


def test_version_and_module_entry_point(cli):
    res = cli("--version")
    assert res.returncode == 0 and res.stdout.decode().startswith("rnn-cli ")


def test_train_writes_model_metrics_and_json_summary(char_model, tiny_corpus):
    assert char_model.exists()
    lines = char_model.with_suffix(".metrics.jsonl").read_text().splitlines()
    assert len(lines) == 2 and "dev_ppl" in json.loads(lines[-1])
    assert char_model.with_suffix(".state.pt").exists()


def test_train_stdout_is_json_and_logs_go_to_stderr(cli, tiny_corpus, tmp_path):
    res = cli("train-lm", str(tiny_corpus["valid"]), "--level", "char", "--layers", "1", "--hidden-size", "8",
              "--embedding-size", "4", "--epochs", "1", "--batch-size", "4", "--device", "cpu",
              "-o", str(tmp_path / "m.pt"))
    assert res.returncode == 0, res.stderr.decode()
    summary = json.loads(res.stdout)
    assert summary["model"] == str(tmp_path / "m.pt") and summary["epochs"] == 1
    assert "epoch 1" in res.stderr.decode()
    quiet = cli("train-lm", str(tiny_corpus["valid"]), "--level", "char", "--layers", "1", "--hidden-size", "8",
                "--epochs", "1", "--batch-size", "4", "--device", "cpu", "-q", "-o", str(tmp_path / "q.pt"))
    assert quiet.returncode == 0 and quiet.stderr == b""


def test_generate_streams_text_and_repeats_with_seed(cli, char_model):
    a = cli("generate", str(char_model), "--prompt", "ROMEO:", "-n", "50", "--seed", "3", "--device", "cpu")
    b = cli("generate", str(char_model), "--prompt", "ROMEO:", "-n", "50", "--seed", "3", "--device", "cpu")
    c = cli("generate", str(char_model), "--prompt", "ROMEO:", "-n", "50", "--seed", "4", "--device", "cpu")
    assert a.returncode == 0, a.stderr.decode()
    assert a.stdout == b.stdout != c.stdout
    assert len(a.stdout.decode().rstrip("\n")) >= 40  # 50 characters, newlines included
    assert a.stderr == b""


def test_generate_greedy_equals_top_k_1_and_beam_1(cli, char_model):
    args = ["generate", str(char_model), "--prompt", "The ", "-n", "30", "--device", "cpu"]
    greedy = cli(*args, "--greedy").stdout
    assert greedy == cli(*args, "--top-k", "1", "--seed", "9").stdout == cli(*args, "--beam", "1").stdout


def test_generate_prompt_from_stdin_and_jsonl(cli, char_model):
    res = cli("generate", str(char_model), "-n", "20", "--num-samples", "3", "--format", "jsonl",
              "--device", "cpu", stdin="KING")
    rows = [json.loads(line) for line in res.stdout.decode().splitlines()]
    assert [r["sample"] for r in rows] == [1, 2, 3]
    assert all(r["prompt"] == "KING" and len(r["text"]) == 20 for r in rows)


def test_generate_warns_on_unknown_prompt_words(cli, word_model):
    res = cli("generate", str(word_model), "--prompt", "the zzzunknownzzz", "-n", "5", "--device", "cpu")
    assert res.returncode == 0
    assert "zzzunknownzzz" in res.stderr.decode() and "<unk>" in res.stderr.decode()
    assert len(res.stdout.decode().split()) >= 1


def test_evaluate_text_and_json(cli, char_model, tiny_corpus):
    res = cli("evaluate", str(char_model), str(tiny_corpus["valid"]), "--json", "--device", "cpu")
    assert res.returncode == 0, res.stderr.decode()
    result = json.loads(res.stdout)
    assert result["tokens"] == len(tiny_corpus["valid"].read_text())
    assert result["bpc"] < 4.0  # a uniform guess over ~60 characters is 5.9 bits
    stored = checkpoint.load(char_model)["metrics"]["dev_bpc"]
    assert result["bpc"] == pytest.approx(stored, rel=1e-3)  # same model, same file
    text = cli("evaluate", str(char_model), str(tiny_corpus["valid"]), "--device", "cpu").stdout.decode()
    assert text.startswith("bits per character\t")


def test_info(cli, char_model):
    res = cli("info", str(char_model), "--json")
    info = json.loads(res.stdout)
    assert info["task"] == "lm" and info["train_config"]["level"] == "char" and info["parameters"] > 0
    yaml_text = cli("info", str(char_model), "--config").stdout.decode()
    assert "level: char" in yaml_text


def test_config_file_supplies_options_and_command_line_wins(cli, tiny_corpus, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("level: char\nlayers: 1\nhidden-size: 12\nembedding_size: 6\nepochs: 1\nbatch_size: 4\n")
    res = cli("train-lm", str(tiny_corpus["valid"]), "--config", str(cfg), "--hidden-size", "10",
              "--device", "cpu", "-q", "-o", str(tmp_path / "m.pt"))
    assert res.returncode == 0, res.stderr.decode()
    stored = checkpoint.load(tmp_path / "m.pt")["train_config"]
    assert stored["level"] == "char" and stored["hidden_size"] == 10 and stored["embedding_size"] == 6
    cfg.write_text("hiden_size: 3\n")
    bad = cli("train-lm", str(tiny_corpus["valid"]), "--config", str(cfg), "-o", str(tmp_path / "x.pt"))
    assert bad.returncode == 2 and "unknown option(s): hiden_size" in one_error_line(bad)


def test_resume_from_the_command_line(cli, tiny_corpus, tmp_path):
    common = ["train-lm", str(tiny_corpus["valid"]), "--level", "char", "--layers", "1", "--hidden-size", "8",
              "--batch-size", "4", "--device", "cpu", "-q", "-o", str(tmp_path / "m.pt")]
    assert cli(*common, "--epochs", "1").returncode == 0
    res = cli(*common, "--epochs", "2", "--resume")
    assert res.returncode == 0 and json.loads(res.stdout)["epochs"] == 2
    assert len((tmp_path / "m.metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "undecodable", "bad-option", "bad-value"])
def test_bad_input_exits_2_with_one_line(cli, tmp_path, case):
    target = tmp_path / "in.txt"
    args = ["train-lm", str(target), "-o", str(tmp_path / "m.pt"), "--device", "cpu"]
    if case == "directory":
        args[1] = str(tmp_path)
    elif case == "empty":
        target.write_text("")
    elif case == "undecodable":
        target.write_bytes(b"ok line\n\xff\xfe bad\n")
    elif case == "bad-option":
        target.write_text("a b c\n")
        args += ["--cell", "transformer"]
    elif case == "bad-value":
        target.write_text("a b c\n")
        args += ["--dropout", "1.5"]
    res = cli(*args)
    assert res.returncode == 2, res.stderr.decode()
    line = one_error_line(res)
    expected = {"missing": f"{target}: no such file", "directory": "is a directory",
                "empty": f"{target}: file is empty", "undecodable": f"{target}:2:",
                "bad-option": "--cell", "bad-value": "--dropout"}[case]
    assert expected in line
    assert not (tmp_path / "m.pt").exists()


def test_wrong_task_and_corrupt_model(cli, tmp_path, tiny_corpus):
    tagger = tmp_path / "tagger.pt"
    checkpoint.save(tagger, checkpoint.make_payload("tagger", {}, {}, {}, {}, {}))
    res = cli("generate", str(tagger))
    assert res.returncode == 2
    assert "is a tagger model, this command needs a language model" in one_error_line(res)
    lm_only = tmp_path / "lm.pt"
    checkpoint.save(lm_only, checkpoint.make_payload("lm", {}, {}, {}, {}, {}))
    res = cli("tag", str(lm_only), str(tiny_corpus["valid"]))
    assert res.returncode == 2
    assert "is a language model, this command needs a tagger model" in one_error_line(res)
    res = cli("evaluate", str(tagger), str(tiny_corpus["valid"]))  # a tagger file with no config
    assert res.returncode == 2 and str(tagger) in one_error_line(res)
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"PK\x03\x04 not really a model")
    res = cli("info", str(broken))
    assert res.returncode == 2 and str(broken) in one_error_line(res)
    res = cli("generate", str(tmp_path / "nope.pt"))
    assert res.returncode == 2 and "no such model file" in one_error_line(res)


def test_bad_sampling_options_exit_2(cli, char_model):
    res = cli("generate", str(char_model), "--temperature", "-1", "--device", "cpu")
    assert res.returncode == 2 and "--temperature must be >= 0" in one_error_line(res)


def test_generate_into_closed_pipe_is_quiet(char_model):
    cmd = f"{sys.executable} -m rnn_cli generate {char_model} -n 100000 --device cpu | head -c 10"
    res = subprocess.run(["bash", "-c", cmd], capture_output=True)
    assert len(res.stdout) == 10
    assert b"Traceback" not in res.stderr and res.stderr == b""


def test_ctrl_c_keeps_the_last_good_model_and_resume_finishes(tiny_corpus, tmp_path):
    import os
    import signal
    import time

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "m.pt"
    base = [sys.executable, "-m", "rnn_cli", "train-lm", str(tiny_corpus["train"]), "--valid",
            str(tiny_corpus["valid"]), "--level", "char", "--layers", "1", "--hidden-size", "16", "--bptt", "20",
            "--batch-size", "8", "--patience", "0", "--device", "cpu", "-o", str(out)]
    args = base + ["--epochs", "50"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    metrics = out.with_suffix(".metrics.jsonl")
    deadline = time.time() + 240
    while not metrics.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert metrics.exists(), proc.stderr.read().decode() if proc.poll() is not None else "no epoch finished"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr.decode()
    assert "--resume" in stderr.decode() and b"Traceback" not in stderr
    assert json.loads(stdout)["interrupted"] is True
    payload = checkpoint.load(out, task="lm")  # the best model so far is intact
    assert payload["metrics"]["epoch"] >= 1
    state = torch_load_state(out.with_suffix(".state.pt"))["progress"]
    resumed = subprocess.run(base + ["--epochs", str(state["epoch"] + 1), "--resume", "-q"],
                             stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=240)
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert json.loads(resumed.stdout)["epochs"] == state["epoch"] + 1


def torch_load_state(path):
    import torch

    return torch.load(path, weights_only=True)
