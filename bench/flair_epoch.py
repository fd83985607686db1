"""One training epoch of flair's SequenceTagger, timed: the reference that
`bench_tag.py speed --flair-python PY` compares rnn-cli's tagger against.

Run with a Python that has flair installed (a separate venv: flair is not a
dependency of rnn-cli):  PY bench/flair_epoch.py TRAIN GLOVE OUT_DIR [--threads N]
TRAIN is a CoNLL-2003 file (word first, NER tag last; .gz allowed), GLOVE the GloVe
text file (.gz allowed). The model has the size of the issue's comparison: GloVe
50-d word embeddings + flair's character features (a character dictionary built
from the corpus, so nothing is downloaded), BiLSTM 200, CRF, batch 32, SGD lr 0.1.
Prints one JSON line with the epoch's seconds and sentences/s on stdout."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from pathlib import Path


def _open(path: str):
    return gzip.open(path, "rt", encoding="utf-8") if path.endswith(".gz") else open(path, encoding="utf-8")


def write_two_columns(src: str, dst: Path) -> int:
    """Word and NER tag of each token, blank lines between sentences, no -DOCSTART-."""
    sentences, in_sentence = 0, False
    with _open(src) as fin, open(dst, "w", encoding="utf-8") as fout:
        for line in fin:
            cols = line.split()
            if not cols or cols[0] == "-DOCSTART-":
                if in_sentence:
                    fout.write("\n")
                    sentences, in_sentence = sentences + 1, False
                continue
            fout.write(f"{cols[0]} {cols[-1]}\n")
            in_sentence = True
        if in_sentence:
            fout.write("\n")
            sentences += 1
    return sentences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train")
    parser.add_argument("glove")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    import torch
    from flair.data import Dictionary
    from flair.datasets import ColumnCorpus
    from flair.embeddings import CharacterEmbeddings, StackedEmbeddings, WordEmbeddings
    from flair.models import SequenceTagger
    from flair.trainers import ModelTrainer

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    n = write_two_columns(args.train, args.out_dir / "train.txt")
    glove = args.out_dir / "glove.txt"  # flair reads GloVe text (no header) only from a plain .txt file
    if not glove.exists():
        with _open(args.glove) as fin, open(glove, "w", encoding="utf-8") as fout:
            shutil.copyfileobj(fin, fout)

    corpus = ColumnCorpus(args.out_dir, {0: "text", 1: "ner"}, train_file="train.txt",
                          sample_missing_splits=False, in_memory=True)
    chars = Dictionary()
    for sentence in corpus.train:
        for token in sentence:
            for ch in token.text:
                chars.add_item(ch)
    char_dict = args.out_dir / "chars.pkl"
    chars.save(str(char_dict))
    embeddings = StackedEmbeddings([WordEmbeddings(str(glove), no_header=True),
                                    CharacterEmbeddings(path_to_char_dict=str(char_dict))])
    tagger = SequenceTagger(hidden_size=200, embeddings=embeddings,
                            tag_dictionary=corpus.make_label_dictionary("ner", add_unk=False),
                            tag_type="ner", use_crf=True)
    trainer = ModelTrainer(tagger, corpus)
    started = time.perf_counter()
    trainer.train(str(args.out_dir / "model"), learning_rate=0.1, mini_batch_size=32, max_epochs=1,
                  save_final_model=False, create_file_logs=False, create_loss_file=False)
    seconds = time.perf_counter() - started
    print(f"# flair {__import__('flair').__version__}: {n} sentences, one epoch in {seconds:.1f} s",
          file=sys.stderr)
    print(json.dumps({"epoch_seconds": round(seconds, 1), "sentences": n,
                      "sentences_per_s": round(n / seconds, 1), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
