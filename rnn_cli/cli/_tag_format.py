"""Writing `tag`'s predictions: CoNLL columns, inline word/TAG, or JSON lines."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TextIO

from rnn_cli.data.conll import write_conll
from rnn_cli.data.schemes import PLAIN, to_spans
from rnn_cli.predict.tagger import Prediction

FORMATS = ("conll", "jsonl", "inline")


def _prob(p: float) -> str:
    return f"{p:.4f}"


def write_prediction(p: Prediction, fmt: str, out: TextIO, scheme: str) -> None:
    """Write one sentence's prediction; `scheme` is the output tags' scheme ("plain": no spans).

    conll: the input columns, then the tag, or the k best tags (a `# score p1 ... pk` line
    first), then the marginal probability with --probs. inline: `word/TAG`, `word/TAG/p`
    with probabilities; k best: one `p<TAB>word/TAG ...` line per sequence.
    jsonl: tokens, tags, spans, probs, nbest [{"tags", "prob", "spans"}]."""
    tokens = p.sentence.tokens
    if fmt == "jsonl":
        row: dict = {"tokens": tokens, "tags": p.tags}
        if scheme != PLAIN:
            row["spans"] = _spans(tokens, p.tags, scheme)
        if p.probs is not None:
            row["probs"] = [round(x, 6) for x in p.probs]
        if p.nbest is not None:
            row["nbest"] = [{"tags": tags, "prob": round(prob, 6),
                             **({"spans": _spans(tokens, tags, scheme)} if scheme != PLAIN else {})}
                            for tags, prob in p.nbest]
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "inline":
        if p.nbest is not None:
            for tags, prob in p.nbest:
                out.write(_prob(prob) + "\t" + " ".join(f"{w}/{t}" for w, t in zip(tokens, tags)) + "\n")
        elif p.probs is not None:
            out.write(" ".join(f"{w}/{t}/{_prob(x)}" for w, t, x in zip(tokens, p.tags, p.probs)) + "\n")
        else:
            out.write(" ".join(f"{w}/{t}" for w, t in zip(tokens, p.tags)) + "\n")
    else:
        sentence = p.sentence
        columns = [tags for tags, _ in p.nbest] if p.nbest is not None else [p.tags]
        if p.nbest is not None:
            header = "# score " + " ".join(_prob(prob) for _, prob in p.nbest)
            sentence = replace(sentence, comments=[*sentence.comments, header])
        if p.probs is not None:
            columns.append([_prob(x) for x in p.probs])
        write_conll([sentence], out, [columns])


def _spans(tokens: list[str], tags: list[str], scheme: str) -> list[dict]:
    return [{"type": t, "start": a, "end": b, "text": " ".join(tokens[a:b])} for t, a, b in to_spans(tags, scheme)]
