"""`--keep-all-vectors`: the words of the vectors file that no training, dev or test file
holds are kept in the saved model, not in training.

They never reach a training batch, so training leaves them out: in the model's
embedding table, every optimiser step would update all of their rows (with the
400,000 words of GloVe 6B, 2.8x slower steps and a 258 MB training state). Each time
the model is saved they are appended to its word vocabulary and to every word
embedding table (each member's, in an ensemble) with their pretrained vectors; the
test set is scored with the saved model's weights cut back to the training rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnn_cli.data.embeddings import all_vector_words


@dataclass
class ExtraWords:
    words: list[str]  # appended to the word vocabulary, in the vectors file's order
    vectors: torch.Tensor  # (len(words), dim): their pretrained vectors
    size_key: str  # the model config's entry that holds the word vocabulary's size

    @classmethod
    def of(cls, vectors: Any, vocab_words: list[str], size_key: str) -> ExtraWords:
        """The words of `vectors` (gensim KeyedVectors) not in `vocab_words`."""
        words = all_vector_words(vectors, set(vocab_words))
        rows = np.stack([vectors[w] for w in words]) if words else np.zeros((0, vectors.vector_size), np.float32)
        return cls(words, torch.from_numpy(np.asarray(rows, dtype=np.float32)), size_key)

    def widen(self, config: dict[str, Any], vocab: dict[str, list[str]],
              state: dict[str, torch.Tensor]) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, torch.Tensor]]:
        """The model config, vocabulary and weights to save: the extra words appended."""
        n = len(vocab["words"])
        state = {k: torch.cat([v, self.vectors.to(v.dtype)]) if _word_table(k, v, n) else v for k, v in state.items()}
        return ({**config, self.size_key: n + len(self.words)}, {**vocab, "words": vocab["words"] + self.words},
                state)

    def narrow(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Saved weights back to the training model's rows."""
        n = self.vectors.size(0)
        return {k: v[:-n] if n and _word_table(k, v, None) else v for k, v in state.items()}


def _word_table(key: str, value: torch.Tensor, rows: int | None) -> bool:
    """A word embedding table (the tagger's, a classifier's, an ensemble member's, a
    DMN's: `...embedding.weight`, not the character embedding), of `rows` rows if given."""
    return (key.endswith("embedding.weight") and not key.startswith("chars.") and value.dim() == 2
            and (rows is None or value.size(0) == rows))
