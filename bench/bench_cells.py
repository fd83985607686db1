"""Speed of the recurrent cells (not a test): `make bench-cells DATA=../shared/data`.

One table, one row per cell (lstm, gru, sru, sru-plain, rnn-tanh), on this CPU with
--threads threads:

  layer      one bidirectional layer alone, 200 units, T=40, batch 32, input 130, packed
             as the tagger packs it: forward + backward, ms per batch
  tagger     the default tagger (100-d words, char CNN, BiRNN 200 units, CRF) on the
             first CoNLL-2003 training sentences, batch 32: training tokens/s (forward,
             backward, SGD step, dropout on) and tagging tokens/s (Viterbi)
  lm         a 2x200 word LM on PTB, bptt 35, batch 20: training tokens/s and scoring
             tokens/s

Each figure is the best of --repeats passes over the same batches after a warm-up.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pack_padded_sequence

from rnn_cli.batches import LMBatch
from rnn_cli.data.sentences import read_tagged_file
from rnn_cli.data.tagging import build_vocabs, encode_batch
from rnn_cli.models.lm import RNNLM, LMConfig
from rnn_cli.models.rnn import CELLS, EncoderConfig, RNNEncoder
from rnn_cli.models.tagger import Tagger, TaggerConfig

ORDER = ["lstm", "gru", "sru", "sru-plain", "rnn-tanh"]


def best_of(fn: Any, repeats: int) -> float:
    fn()  # warm-up (and the SRU's one-time build)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def layer_ms(cell: str, repeats: int) -> float:
    torch.manual_seed(0)
    enc = RNNEncoder(EncoderConfig(cell=cell, input_size=130, hidden_size=200, bidirectional=True))
    x = torch.randn(40, 32, 130, requires_grad=True)
    lengths = torch.randint(20, 41, (32,))
    lengths[0] = 40

    def step() -> None:
        for _ in range(10):
            out, _ = enc(pack_padded_sequence(x, lengths, enforce_sorted=False))
            out.data.sum().backward()

    return best_of(step, repeats) / 10 * 1000


def tagger_rates(cell: str, sentences: list, repeats: int) -> tuple[float, float]:
    torch.manual_seed(0)
    vocabs = build_vocabs(sentences)
    model = Tagger(TaggerConfig(len(vocabs.words), len(vocabs.chars), len(vocabs.tags), cell=cell))
    order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
    batches = [encode_batch([sentences[i] for i in order[k : k + 32]], vocabs) for k in range(0, len(order), 32)]
    tokens = sum(len(s) for s in sentences)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def train() -> None:
        model.train()
        for batch in batches:
            opt.zero_grad()
            model.loss(batch).value.backward()
            opt.step()

    def tag() -> None:
        model.eval()
        with torch.inference_mode():
            for batch in batches:
                model.predict(batch)

    return tokens / best_of(train, repeats), tokens / best_of(tag, repeats)


def lm_rates(cell: str, ids: torch.Tensor, repeats: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = RNNLM(LMConfig(int(ids.max()) + 1, cell=cell, embedding_size=200, hidden_size=200, layers=2))
    batch, bptt = 20, 35
    rows = ids[: (ids.numel() // batch) * batch].view(batch, -1).t()  # (T, B)
    windows = [(rows[t : t + bptt], rows[t + 1 : t + 1 + bptt]) for t in range(0, rows.size(0) - bptt - 1, bptt)]
    tokens = sum(y.numel() for _, y in windows)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)

    def train() -> None:
        model.train()
        hidden = None
        for x, y in windows:
            opt.zero_grad()
            out = model.loss(LMBatch(x, y, hidden))
            out.value.backward()
            opt.step()
            hidden = tuple(h.detach() for h in out.state) if isinstance(out.state, tuple) else out.state.detach()

    def score() -> None:
        model.eval()
        hidden = None
        with torch.inference_mode():
            for x, y in windows:
                hidden = model.loss(LMBatch(x, y, hidden)).state

    return tokens / best_of(train, repeats), tokens / best_of(score, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=1000, help="CoNLL-2003 training sentences for the tagger")
    parser.add_argument("--lm-tokens", type=int, default=30000, help="PTB training tokens for the LM")
    parser.add_argument("--cells", default=",".join(ORDER))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sentences = [s for s in read_tagged_file(str(args.data_dir / "conll2003" / "eng.train.gz"), "conll", 0, -1,
                                             "upos", "utf-8") if len(s)][: args.sentences]
    with gzip.open(args.data_dir / "ptb" / "ptb.train.txt.gz", "rt", encoding="utf-8") as fh:
        words = fh.read(20 * args.lm_tokens).split()[: args.lm_tokens]
    index: dict[str, int] = {}
    ids = torch.tensor([index.setdefault(w, len(index)) for w in words])
    rows = []
    for cell in args.cells.split(","):
        if cell not in CELLS:
            sys.exit(f"unknown cell {cell!r} ({', '.join(CELLS)})")
        layer = layer_ms(cell, args.repeats)
        tag_train, tag_apply = tagger_rates(cell, sentences, args.repeats)
        lm_train, lm_score = lm_rates(cell, ids, args.repeats)
        row = {"cell": cell, "layer_ms": layer, "tagger_train_tok_s": tag_train, "tagger_tag_tok_s": tag_apply,
               "lm_train_tok_s": lm_train, "lm_score_tok_s": lm_score, "threads": args.threads}
        print(json.dumps(row), file=sys.stderr)
        rows.append(row)
    base = next((r for r in rows if r["cell"] == "lstm"), rows[0])
    print(f"{torch.get_num_threads()} thread(s), CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"torch {torch.__version__}; speed-ups against {base['cell']}\n")
    print("| cell | BiRNN layer fwd+bwd (ms) | tagger training (tok/s) | tagger tagging (tok/s) | "
          "LM training (tok/s) | LM scoring (tok/s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        cells = [_figure(r, base, "layer_ms", lower_is_better=True)] + [
            _figure(r, base, key) for key in ("tagger_train_tok_s", "tagger_tag_tok_s", "lm_train_tok_s",
                                              "lm_score_tok_s")]
        print(f"| {r['cell']} | " + " | ".join(cells) + " |")


def _figure(row: dict[str, Any], base: dict[str, Any], key: str, lower_is_better: bool = False) -> str:
    ratio = base[key] / row[key] if lower_is_better else row[key] / base[key]
    return f"{row[key]:,.1f} ({ratio:.2f}x)" if lower_is_better else f"{row[key]:,.0f} ({ratio:.2f}x)"


if __name__ == "__main__":
    main()
