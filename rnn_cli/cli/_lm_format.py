"""Writing a language model's per-line scores (`evaluate --per-line`): tab-separated
with a header line, or one JSON object a line; each line flushed as it is scored."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rnn_cli.predict.lm import LineScore

COLUMNS = ("line", "logprob", "log10prob", "tokens", "oov", "ppl", "ppl_no_oov")


def write_line_scores(scores: Iterable[LineScore], as_json: bool, out: TextIO) -> int:
    """Write each score as it comes (the header with the first one); the number written."""
    count = 0
    for score in scores:
        if as_json:
            out.write(json.dumps(score.to_dict()) + "\n")
        else:
            if count == 0:
                out.write("\t".join(COLUMNS) + "\n")
            out.write(f"{score.line}\t{score.logprob:.4f}\t{score.log10prob:.4f}\t{score.tokens}\t{score.oov}\t"
                      f"{score.ppl:.2f}\t{score.ppl_no_oov:.2f}\n")
        out.flush()
        count += 1
    return count
