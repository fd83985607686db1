"""Writing `tag`'s predictions: the input's own layout (CoNLL columns, CoNLL-U),
token<TAB>tag lines for text, inline word/TAG, or JSON lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import TextIO

from rnn_cli.data.conll import Sentence, write_conll
from rnn_cli.data.rewrite import append_fields, set_conllu_fields, word_texts, write_kept
from rnn_cli.data.schemes import PLAIN, to_spans
from rnn_cli.predict.tagger import Prediction

FORMATS = ("conll", "jsonl", "inline")
WRITE_FIELDS = ("upos", "xpos", "misc")


def _prob(p: float) -> str:
    return f"{p:.4f}"


def write_prediction(p: Prediction, fmt: str, out: TextIO, scheme: str, write_field: str = "upos") -> None:
    """Write one sentence's prediction; `scheme` is the output tags' scheme ("plain": no spans).

    conll: the input as it was, with the tag (or the k best tags, a `# score p1 ... pk`
    line first) and, with --probs, the marginal probability appended as new columns
    (CoNLL), or the tag in `write_field` and `TagProb=`/`NBest=` in MISC (CoNLL-U);
    text input gives token<TAB>tag lines and a blank line. inline: `word/TAG`,
    `word/TAG/p` with probabilities; k best: one `p<TAB>word/TAG ...` line per sequence.
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
        _write_columns(p, out, write_field)


def _write_columns(p: Prediction, out: TextIO, write_field: str) -> None:
    sentence, layout = p.sentence, p.sentence.layout
    columns = [tags for tags, _ in p.nbest] if p.nbest is not None else [p.tags]
    probs = [_prob(x) for x in p.probs] if p.probs is not None else None
    header = ["# score " + " ".join(_prob(prob) for _, prob in p.nbest)] if p.nbest is not None else []
    if layout is None:
        write_legacy(sentence, out, columns + ([probs] if probs is not None else []), header)
    elif layout.fmt == "text":
        end = layout.lines[0][1] or "\n"
        for line in header:
            out.write(line + end)
        for i, token in enumerate(sentence.tokens):
            values = [col[i] for col in columns] + ([probs[i]] if probs is not None else [])
            out.write("\t".join([token, *values]) + end)
        out.write(end)
    elif layout.fmt == "conllu":
        words = []
        for i, text in enumerate(word_texts(sentence)):
            misc = {"TagProb": probs[i]} if probs is not None else {}
            if p.nbest is not None:
                misc["NBest"] = ",".join(col[i] for col in columns)
            words.append(set_conllu_fields(text, write_field, p.tags[i], misc))
        write_kept(sentence, out, words, header)
    else:
        extra = columns + ([probs] if probs is not None else [])
        words = [append_fields(text, [col[i] for col in extra]) for i, text in enumerate(word_texts(sentence))]
        write_kept(sentence, out, words, header, docstart=docstart_filler(len(columns), probs is not None))


def docstart_filler(tag_columns: int, probs: bool) -> Callable[[str], str]:
    """What `-DOCSTART-` lines get, so that every line keeps the same number of columns
    (conlleval refuses a file whose lines differ): O in each tag column, 1 as probability."""
    values = ["O"] * tag_columns + ([_prob(1.0)] if probs else [])
    return lambda text: append_fields(text, values)


def write_rest(sentence: Sentence, out: TextIO, nbest: int, probs: bool) -> None:
    """The lines after the last sentence (blank, -DOCSTART-), as the input had them."""
    if sentence.layout is not None and sentence.layout.fmt != "text":
        write_kept(sentence, out, docstart=docstart_filler(max(nbest, 1), probs))


def write_legacy(sentence: Sentence, out: TextIO, columns: list[list[str]], header: list[str]) -> None:
    """Rows tab-separated with `columns` appended (a sentence read without its layout)."""
    if header:
        sentence = replace(sentence, comments=[*sentence.comments, *header])
    write_conll([sentence], out, [columns])


def _spans(tokens: list[str], tags: list[str], scheme: str) -> list[dict]:
    return [{"type": t, "start": a, "end": b, "text": " ".join(tokens[a:b])} for t, a, b in to_spans(tags, scheme)]
