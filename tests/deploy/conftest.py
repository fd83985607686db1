"""Tiny trained models of each task (a few seconds in all), for the export, int8 and
Python API tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from tests.inprocess import ok

COMMON = ["--epochs", "1", "--device", "cpu", "-q"]


@pytest.fixture(scope="session")
def deploy_models(tmp_path_factory: pytest.TempPathFactory, word_model: Path) -> dict[str, Path]:
    """{"tagger", "softmax", "classifier", "ensemble", "lm"}: the tagger has a char CNN and a CRF, the
    softmax tagger a char LSTM and GRU cells, the classifier attention pooling over a BiLSTM, the
    ensemble three unidirectional GRU members."""
    import torch

    d = tmp_path_factory.mktemp("deploy-models")
    train = SAMPLES / "names.train.conll"
    small = d / "names.small.conll"
    small.write_text("\n\n".join(train.read_text().split("\n\n")[:300]) + "\n")
    cls_train = d / "genre.small.tsv"
    cls_train.write_text("".join((SAMPLES / "ewt.genre.train.tsv").read_text().splitlines(True)[:400]))
    runs = {
        "tagger": ["train-tagger", small, "--dev", small, "--embedding-size", "16", "--hidden-size", "16",
                   "--char-filters", "8", "--char-embedding-size", "8"],
        "softmax": ["train-tagger", small, "--dev", small, "--embedding-size", "16", "--hidden-size", "12",
                    "--char-encoder", "lstm", "--char-filters", "6", "--char-embedding-size", "8", "--cell", "gru",
                    "--decoder", "softmax", "--layers", "2"],
        "classifier": ["train-classifier", cls_train, "--dev", cls_train, "--embedding-size", "16", "--hidden-size",
                       "16", "--pooling", "attention"],
        "ensemble": ["train-classifier", cls_train, "--dev", cls_train, "--embedding-size", "16", "--hidden-size",
                     "8", "--cell", "gru", "--unidirectional", "--pooling", "mean", "--ensemble", "3"],
    }
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {"lm": word_model}
    for name, args in runs.items():
        out[name] = d / f"{name}.pt"
        ok(*args, *COMMON, "-o", out[name])
    torch.set_num_threads(threads)
    return out
