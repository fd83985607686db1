"""The LM trainer: it learns, it repeats with a seed, it resumes exactly, and its
files are safe to load."""

import math
import pickle
from collections import Counter
from dataclasses import replace

import pytest
import torch

from rnn_cli import checkpoint
from rnn_cli.config import from_dict
from rnn_cli.errors import CheckpointError, ConfigError
from rnn_cli.training.configs import TrainLMConfig
from rnn_cli.training.events import Done, Evaluated
from rnn_cli.training.lm import train_lm
from rnn_cli.training.loop import metrics_path, state_path

TINY = TrainLMConfig(level="char", layers=1, hidden_size=48, embedding_size=16, dropout=0.1, bptt=25,
                     batch_size=16, optimizer="adam", lr=0.01, clip=5.0, epochs=2, seed=7)


def run(cfg, corpus, out, **kw):
    events = list(train_lm(cfg, str(corpus["train"]), out, dev=str(corpus["valid"]), **kw))
    return events, next(e for e in events if isinstance(e, Done))


def unigram_perplexity(train: str, valid: str) -> float:
    counts = Counter(train)
    total, types = sum(counts.values()), len(set(train) | set(valid))
    nll = -sum(math.log((counts[c] + 1) / (total + types)) for c in valid)
    return math.exp(nll / len(valid))


def test_lm_learns_far_below_unigram_perplexity(tiny_corpus, tmp_path):
    _, done = run(replace(TINY, epochs=3), tiny_corpus, tmp_path / "m.pt")
    train_text = tiny_corpus["train"].read_text()
    valid_text = tiny_corpus["valid"].read_text()
    unigram = unigram_perplexity(train_text, valid_text)
    assert done.summary["dev_ppl"] < 0.7 * unigram, (done.summary["dev_ppl"], unigram)


def test_same_seed_gives_identical_weights(tiny_corpus, tmp_path):
    cfg = replace(TINY, epochs=1)
    run(cfg, tiny_corpus, tmp_path / "a.pt")
    run(cfg, tiny_corpus, tmp_path / "b.pt")
    a = checkpoint.load(tmp_path / "a.pt")["state_dict"]
    b = checkpoint.load(tmp_path / "b.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_after_epoch_matches_uninterrupted_run(tiny_corpus, tmp_path):
    cfg = replace(TINY, variable_bptt=True)
    run(cfg, tiny_corpus, tmp_path / "full.pt")
    run(replace(cfg, epochs=1), tiny_corpus, tmp_path / "part.pt")
    events, _ = run(cfg, tiny_corpus, tmp_path / "part.pt", resume=True)
    assert sum(isinstance(e, Evaluated) for e in events) == 1  # only epoch 2 was trained
    full = torch.load(state_path(tmp_path / "full.pt"), weights_only=True)["model_state"]
    part = torch.load(state_path(tmp_path / "part.pt"), weights_only=True)["model_state"]
    assert all(torch.equal(full[k], part[k]) for k in full)
    assert len(metrics_path(tmp_path / "part.pt").read_text().splitlines()) == 2


def test_interrupt_mid_epoch_then_resume_matches_uninterrupted_run(tiny_corpus, tmp_path):
    cfg = replace(TINY, epochs=1, dropout=0.3)
    run(cfg, tiny_corpus, tmp_path / "full.pt")
    calls = {"n": 0}

    def stop_after_30_steps():
        calls["n"] += 1
        return calls["n"] >= 30

    _, done = run(cfg, tiny_corpus, tmp_path / "cut.pt", should_stop=stop_after_30_steps)
    assert done.interrupted
    assert torch.load(state_path(tmp_path / "cut.pt"), weights_only=True)["progress"]["batches_done"] == 30
    run(cfg, tiny_corpus, tmp_path / "cut.pt", resume=True)
    full = torch.load(state_path(tmp_path / "full.pt"), weights_only=True)["model_state"]
    cut = torch.load(state_path(tmp_path / "cut.pt"), weights_only=True)["model_state"]
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_checkpoint_holds_plain_data_and_metrics(tiny_corpus, tmp_path):
    run(replace(TINY, epochs=1), tiny_corpus, tmp_path / "m.pt")
    payload = checkpoint.load(tmp_path / "m.pt", task="lm")
    assert payload["format_version"] == checkpoint.FORMAT_VERSION
    assert payload["train_config"]["level"] == "char"
    assert "\n" in payload["vocab"]["tokens"]
    assert "dev_ppl" in payload["metrics"]
    model, config = checkpoint.build_model(payload)
    assert config.vocab_size == len(payload["vocab"]["tokens"])


class Payload:
    def __reduce__(self):
        import os

        return (os.system, ("touch HACKED",))


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_hostile_pickle_is_refused_without_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "task": "lm", "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        checkpoint.load(path)
    assert not (tmp_path / "HACKED").exists()
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(CheckpointError):
        checkpoint.load(path)
    assert not (tmp_path / "HACKED").exists()


def test_wrong_task_truncated_and_newer_files(tmp_path):
    good = tmp_path / "t.pt"
    checkpoint.save(good, checkpoint.make_payload("tagger", {}, {}, {}, {}, {}))
    with pytest.raises(CheckpointError, match="tagger model, this command needs a language model"):
        checkpoint.load(good, task="lm")
    data = good.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        checkpoint.load(tmp_path / "cut.pt")
    checkpoint.save(tmp_path / "new.pt", {**checkpoint.make_payload("lm", {}, {}, {}, {}, {}), "format_version": 99})
    with pytest.raises(CheckpointError, match="newer"):
        checkpoint.load(tmp_path / "new.pt")


def test_config_rejects_unknown_keys_and_bad_values():
    with pytest.raises(ConfigError, match="unknown option"):
        from_dict(TrainLMConfig, {"hiden_size": 3})
    with pytest.raises(ConfigError, match="must be int"):
        from_dict(TrainLMConfig, {"hidden_size": "big"})
    with pytest.raises(ConfigError, match="--dropout"):
        from_dict(TrainLMConfig, {"dropout": 2.0})
    assert from_dict(TrainLMConfig, {"lr": 1}).lr == 1.0
