"""`rnn-cli tag`: tag sentences with a trained tagger, streaming."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import typer

from rnn_cli.cli._console import handle_errors, warn
from rnn_cli.cli._options import Device, Quantize, QuantizeOpt, Threads

if TYPE_CHECKING:
    from rnn_cli.data.conll import Sentence


@handle_errors
def command(
    model: str = typer.Argument(..., help="A tagger from train-tagger."),
    data: str = typer.Argument("-", help="CoNLL, CoNLL-U or tokenized text, one sentence a line (- for stdin)."),
    input_format: str = typer.Option("auto", "--input-format", metavar="auto|conll|conllu|text",
                                     help="auto, conll, conllu or text (auto: decided "
                                     "on the first lines, of files and stdin alike; a note on stderr says what was "
                                     "chosen when another format was plausible too)."),
    output_format: str = typer.Option("conll", "--format", metavar="conll|jsonl|inline",
                                      help="conll (the input's own layout), jsonl or inline."),
    write_field: str = typer.Option("", "--write-field", metavar="upos|xpos|misc",
                                    help="CoNLL-U input: the field that gets the tag, upos, "
                                    "xpos or misc (as Tag=...; default: the field a POS model was trained on, "
                                    "misc for chunk and entity models)."),
    scheme: str = typer.Option("", metavar="iob1|bio|bioes",
                               help="Output tag scheme (iob1, bio, bioes; default: the training data's)."),
    word_column: int = typer.Option(0, help="Word column of CoNLL input."),
    probs: bool = typer.Option(False, "--probs", help="Add each token's marginal probability of its tag "
                               "(forward-backward; for IOB1 output, of its entity type)."),
    nbest: int = typer.Option(0, "--nbest", metavar="K", help="Write the K most probable tag sequences "
                              "(conll: K tag columns after a '# score p1 ... pK' line; probabilities sum to <= 1)."),
    max_length: int = typer.Option(1000, "--max-length", metavar="N", help="Tag a sentence longer than N "
                                   "tokens in pieces of at most N, each on its own (an entity across a cut comes "
                                   "out as two; --nbest gives one sequence), with a note on stderr: a missing "
                                   "sentence break cannot exhaust memory. 0: no limit."),
    batch_size: int = typer.Option(64, help="Sentences per batch."),
    encoding: str = typer.Option("utf-8", metavar="ENCODING", help="Text encoding of the input."),
    device: Device = typer.Option("auto", help="auto picks CUDA when present."),
    threads: Threads = 0,
    quantize: QuantizeOpt = Quantize.none,
) -> None:
    """Tag each sentence; output keeps the input as it was, with the tags added.

    MODEL is a model file from train-tagger, or a TorchScript export of one (rnn-cli
    export).

    CoNLL in: every input byte as it was (separators, line ends, blank and -DOCSTART-
    lines), the predicted tag appended as a new last column. CoNLL-U in: the tag in
    --write-field, so the output stays 10-column CoNLL-U. Text in: token<TAB>tag lines,
    a blank line after each sentence. inline: word/TAG word/TAG. jsonl: {"tokens":
    [...], "tags": [...], "spans": [...]} (with "probs" and "nbest" when asked for).
    """
    from rnn_cli.cli._tag_format import FORMATS, WRITE_FIELDS, write_prediction, write_rest
    from rnn_cli.data.schemes import PLAIN
    from rnn_cli.data.sentences import detect_input_format, hinted, read_sentences
    from rnn_cli.data.text import STDIN, display_name
    from rnn_cli.errors import ConfigError, DataFormatError
    from rnn_cli.predict.tagger import load_tagger, predict
    from rnn_cli.seed import select_device, set_threads

    if output_format not in FORMATS:
        raise ConfigError(f"--format: unknown output format '{output_format}' (conll, jsonl or inline)")
    if scheme and scheme not in ("iob1", "bio", "bioes"):
        raise ConfigError(f"--scheme: unknown tag scheme '{scheme}' (iob1, bio or bioes)")
    if batch_size < 1:
        raise ConfigError("--batch-size must be >= 1")
    if nbest < 0:
        raise ConfigError("--nbest must be >= 0 (0: off)")
    if max_length < 0:
        raise ConfigError("--max-length must be >= 0 (0: no limit)")
    if write_field and write_field not in WRITE_FIELDS:
        raise ConfigError(f"--write-field: unknown field '{write_field}' (upos, xpos or misc)")
    set_threads(threads)
    dev = select_device(device.value)
    tagger = load_tagger(model, dev, quantize=None if quantize == Quantize.none else quantize.value)
    if scheme and tagger.train_scheme == PLAIN:
        raise ConfigError(f"--scheme: {model} tags a plain tag set, which has no scheme")
    detection = detect_input_format(data, input_format, encoding, is_tag=tagger.knows_tag)
    sentences = read_sentences(data, detection.format, word_column=word_column, tag_column=None, encoding=encoding,
                               layout=True)
    if detection.ambiguous:  # in its one line, an input error says how the input was read
        sentences = hinted(sentences, detection.hint())
    out_scheme = PLAIN if tagger.train_scheme == PLAIN else (scheme or tagger.scheme)
    field = write_field or (tagger.config.get("tag_field", "upos") if tagger.train_scheme == PLAIN else "misc")
    notes = SplitNotes(display_name(data), max_length)
    rest: list[Sentence] = []  # the lines after the last sentence come as an empty sentence

    def words(items: Iterable[Sentence]) -> Iterator[Sentence]:
        for s in items:
            if len(s) > 0:
                yield s
            else:
                rest.append(s)

    count = 0
    for p in predict(tagger, words(sentences), batch_size, dev, scheme or None,
                     probs=probs, nbest=nbest, max_length=max_length, on_split=notes):
        write_prediction(p, output_format, sys.stdout, out_scheme, field)
        sys.stdout.flush()
        count += 1
    if detection.ambiguous:  # at the end, so that an error stays the one line on stderr
        warn(detection.note(display_name(data)))
    notes.close()
    if count == 0 and data != STDIN:
        raise DataFormatError(display_name(data), None, "file is empty (no sentences)")
    if output_format == "conll":
        for s in rest:
            write_rest(s, sys.stdout, nbest, probs)


class SplitNotes:
    """The notes for sentences tagged in pieces: the first few one by one, then a count."""

    SHOWN = 3

    def __init__(self, name: str, max_length: int) -> None:
        self.name, self.max_length, self.count = name, max_length, 0

    def __call__(self, sentence: Sentence, pieces: int) -> None:
        self.count += 1
        if self.count <= self.SHOWN:
            warn(f"{self.name}:{sentence.first_line}: a sentence of {len(sentence)} tokens, tagged in {pieces} "
                 f"pieces of at most {self.max_length} (--max-length)")

    def close(self) -> None:
        if self.count > self.SHOWN:
            warn(f"{self.name}: {self.count} sentences longer than {self.max_length} tokens were tagged in "
                 "pieces (--max-length)")
