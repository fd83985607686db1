"""The shared epoch loop, driven by the tagger trainer: a resumed run equals an
uninterrupted one, and an interrupted run keeps its last finished epoch."""

import torch

from rnn_cli.checkpoint import build_model, load
from rnn_cli.models.tagger import Tagger
from rnn_cli.training.events import Done
from rnn_cli.training.loop import metrics_path, state_path
from rnn_cli.training.tagger import TrainTaggerConfig, train_tagger

CFG = TrainTaggerConfig(epochs=2, batch_size=32, hidden_size=16, embedding_size=16, char_filters=8,
                        optimizer="adam", lr=0.01, dropout=0.2)


def run(samples, out, **kw):
    events = list(train_tagger(kw.pop("cfg", CFG), str(samples / "names.train.conll"),
                               str(samples / "names.dev.conll"), out, **kw))
    return events, events[-1]


def test_resume_after_an_epoch_gives_the_uninterrupted_weights(samples, tmp_path):
    _, full = run(samples, tmp_path / "full.pt")
    _, cut = run(samples, tmp_path / "part.pt", cfg=TrainTaggerConfig(**{**CFG.__dict__, "epochs": 1}))
    assert cut.summary["epochs"] == 1
    _, resumed = run(samples, tmp_path / "part.pt", resume=True)
    assert resumed.summary["epochs"] == 2 and full.summary["epochs"] == 2
    a = torch.load(state_path(tmp_path / "full.pt"), weights_only=True)["model_state"]
    b = torch.load(state_path(tmp_path / "part.pt"), weights_only=True)["model_state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert len(metrics_path(tmp_path / "part.pt").read_text().splitlines()) == 2


def test_stop_request_ends_with_an_interrupted_done_and_keeps_the_epoch(samples, tmp_path):
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 30  # 800 sentences / 32 = 25 steps: stop in epoch 2

    events, last = run(samples, tmp_path / "m.pt", should_stop=stop)
    assert isinstance(last, Done) and last.interrupted
    state = torch.load(state_path(tmp_path / "m.pt"), weights_only=True)
    assert state["progress"]["epoch"] == 1
    assert (tmp_path / "m.pt").exists()


def test_word_dropout_learns_the_unknown_word_vector(samples, tmp_path):
    """Without word dropout no training word maps to <unk>, so its vector (what unseen
    words get) keeps its random start; with it, words seen once stand in for <unk>."""
    rows = {}
    for p in (0.0, 0.5):
        cfg = TrainTaggerConfig(**{**CFG.__dict__, "epochs": 1, "singleton_dropout": p, "word_dropout": 0.0})
        run(samples, tmp_path / f"m{p}.pt", cfg=cfg)
        payload = load(tmp_path / f"m{p}.pt", task="tagger")
        model, _ = build_model(payload, "m")
        torch.manual_seed(cfg.seed)
        assert isinstance(model, Tagger)
        unk = payload["vocab"]["words"].index("<unk>")
        fresh = Tagger(model.config).embedding.weight[unk]
        rows[p] = (model.embedding.weight[unk].detach(), fresh)
    assert torch.equal(rows[0.0][1], rows[0.5][1])
    assert torch.allclose(rows[0.0][0], rows[0.0][1])  # never trained
    assert not torch.allclose(rows[0.5][0], rows[0.5][1], atol=1e-4)  # learned
