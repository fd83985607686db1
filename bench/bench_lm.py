"""Language-model benchmarks (not tests): `make bench-lm DATA=../shared/data`.

word: Penn Treebank, the non-regularised "small" model of Zaremba et al. 2014
      (2x200 LSTM, BPTT 20, batch 20, init +-0.1, SGD lr 1 halved each epoch
      after epoch 4, clip 5, 13 epochs, no dropout). Target test ppl <= 115.
      Their loss is summed over the 20 time steps (and averaged over the
      batch); ours is averaged over all tokens, so the same updates are lr 20
      and clip 0.25 here (the values pytorch/examples uses for that reason).
char: tiny-shakespeare, last 10% held out as validation, 2x256 LSTM, reported
      in bits per character. Target <= 2.25 bpc.

`--throughput-steps N` only times N training steps of rnn-cli's loop and of a
plain PyTorch reference loop (the shape of pytorch/examples word_language_model:
log-softmax + NLLLoss, per-step loss.item(), manual SGD update) on the same
model and batches, and prints both speeds and their ratio.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch
from torch import nn

from rnn_cli.batches import LMBatch
from rnn_cli.data.batching import lay_out_streams, window_lengths
from rnn_cli.data.lm_corpus import build_vocab, encode_corpus, read_tokens
from rnn_cli.data.text import read_text
from rnn_cli.models.lm import RNNLM
from rnn_cli.models.rnn import detach_hidden
from rnn_cli.predict.lm import evaluate_lm_file, load_lm
from rnn_cli.recipes import recipe_config
from rnn_cli.training.events import Done, Evaluated, Info
from rnn_cli.training.lm import TrainLMConfig, model_config, train_lm
from rnn_cli.training.optim import build_optimizer

CONFIGS = {
    "word": recipe_config(TrainLMConfig, "zaremba-small"),
    "char": recipe_config(TrainLMConfig, "char-rnn"),
}


def data_root(path: Path) -> Path:
    """Accept the data folder itself (`../shared/data`) or its `ptb/` folder."""
    if (path / "ptb.train.txt.gz").exists() or (path / "input.txt").exists():
        return path.parent
    return path


def files(task: str, data_dir: Path, out_dir: Path) -> tuple[str, str, str | None]:
    data_dir = data_root(data_dir)
    if task == "word":
        ptb = data_dir / "ptb"
        return str(ptb / "ptb.train.txt.gz"), str(ptb / "ptb.valid.txt.gz"), str(ptb / "ptb.test.txt.gz")
    text = read_text(str(data_dir / "tinyshakespeare" / "input.txt"))
    cut = text.rindex("\n", 0, int(len(text) * 0.9)) + 1  # at a line end near 90%
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "shakespeare.train.txt").write_text(text[:cut])
    (out_dir / "shakespeare.valid.txt").write_text(text[cut:])
    return str(out_dir / "shakespeare.train.txt"), str(out_dir / "shakespeare.valid.txt"), None


class ReferenceLM(nn.Module):
    """The pytorch/examples model shape: log-softmax output, NLLLoss outside."""

    def __init__(self, ntoken: int, ninp: int, nhid: int, nlayers: int) -> None:
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers)
        self.decoder = nn.Linear(nhid, ntoken)

    def forward(self, x, hidden):  # type: ignore[no-untyped-def]
        out, hidden = self.rnn(self.encoder(x), hidden)
        return torch.log_softmax(self.decoder(out).view(-1, self.decoder.out_features), dim=1), hidden


def throughput(cfg: TrainLMConfig, train: str, steps: int) -> dict[str, float]:
    tokens = read_tokens(train, cfg.level)
    vocab = build_vocab(tokens, cfg.level)
    x_all, y_all = lay_out_streams(encode_corpus(tokens, vocab, cfg.level), cfg.batch_size)
    windows = list(window_lengths(x_all.size(0), cfg.bptt))[: steps + 10]
    results = {}

    torch.manual_seed(0)
    model = RNNLM(model_config(cfg, len(vocab)))
    model.train()
    opt = build_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    params = list(model.parameters())
    hidden = None
    for i, (r, n) in enumerate(windows):
        if i == 10:
            start = time.perf_counter()
        hidden = detach_hidden(hidden)
        out = model.loss(LMBatch(x_all[r : r + n], y_all[r : r + n], hidden))
        loss, hidden = out.value, out.state
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.clip, foreach=True)
        opt.step()
    results["rnn_cli_tokens_per_s"] = sum(n for _, n in windows[10:]) * cfg.batch_size / (time.perf_counter() - start)

    torch.manual_seed(0)
    ref = ReferenceLM(len(vocab), cfg.embedding_size, cfg.hidden_size, cfg.layers)
    ref.train()
    criterion = nn.NLLLoss()
    hidden, total = None, 0.0
    for i, (r, n) in enumerate(windows):
        if i == 10:
            start = time.perf_counter()
        if hidden is not None:
            hidden = tuple(h.detach() for h in hidden)
        ref.zero_grad()
        output, hidden = ref(x_all[r : r + n], hidden)
        loss = criterion(output, y_all[r : r + n].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), cfg.clip)
        for p in ref.parameters():
            p.data.add_(p.grad, alpha=-cfg.lr)
        total += loss.item()
    results["reference_tokens_per_s"] = sum(n for _, n in windows[10:]) * cfg.batch_size / (time.perf_counter() - start)
    results["speedup"] = results["rnn_cli_tokens_per_s"] / results["reference_tokens_per_s"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=sorted(CONFIGS))
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench"))
    parser.add_argument("--epochs", type=int, help="override the configuration's epochs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                        help="softmax-layer precision in training")
    parser.add_argument("--throughput-steps", type=int, default=0, help="only time N training steps")
    args = parser.parse_args()

    cfg = CONFIGS[args.task]
    cfg = TrainLMConfig(**{**cfg.__dict__, "precision": args.precision})
    if args.epochs is not None:
        cfg = TrainLMConfig(**{**cfg.__dict__, "epochs": args.epochs})
    train, valid, test = files(args.task, args.data_dir, args.out_dir)
    device = torch.device(args.device)
    print(f"# {args.task}: torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}",
          file=sys.stderr)
    if args.throughput_steps:
        print(json.dumps({"task": args.task, **throughput(cfg, train, args.throughput_steps)}))
        return

    out = args.out_dir / f"{args.task}-{args.precision}.pt"
    started = time.perf_counter()
    records = []
    summary: dict = {}
    for event in train_lm(cfg, train, out, dev=valid, test=test, device=device):
        if isinstance(event, Evaluated):
            records.append(event.record)
            r = event.record
            print(f"epoch {r['epoch']:2d}  lr {r['lr']:.4g}  train ppl {r['train_ppl']:8.2f}  "
                  f"dev ppl {r['dev_ppl']:8.2f}  dev bpc {r['dev_bpc']:.4f}  "
                  f"{r['tokens_per_s']:,.0f} tok/s", file=sys.stderr, flush=True)
        elif isinstance(event, Info):
            print(event.message, file=sys.stderr)
        elif isinstance(event, Done):
            summary = event.summary
    train_seconds = time.perf_counter() - started
    lm = load_lm(str(out), device)
    eval_file = test or valid
    t0 = time.perf_counter()
    scored = evaluate_lm_file(lm, eval_file, device, cfg.eval_batch_size, cfg.bptt)
    eval_seconds = time.perf_counter() - t0
    result = {
        "task": args.task,
        "device": str(device),
        "precision": args.precision,
        "threads": torch.get_num_threads(),
        "epochs": len(records),
        "train_tokens_per_s": round(sum(r["tokens_per_s"] for r in records) / max(len(records), 1), 1),
        "eval_tokens_per_s": round(scored["tokens"] / eval_seconds, 1),
        "best_valid_ppl": summary.get("dev_ppl"),
        "best_valid_bpc": summary.get("dev_bpc"),
        "test_ppl": summary.get("test_ppl"),
        "test_bpc": summary.get("test_bpc"),
        "total_seconds": round(train_seconds, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
