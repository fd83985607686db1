"""The README's runnable examples (its ```sh blocks) run as written, so they cannot rot:
each block in bash with `set -euo pipefail`, in a fresh folder holding `sample_data/`,
with `rnn-cli` on PATH (a shim for `python -m rnn_cli` of this checkout) and `python`
the interpreter of the tests, as in an activated `.venv`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)


def blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_has_runnable_examples_of_each_task():
    text = "\n".join(blocks())
    for command in ("train-lm", "generate", "train-tagger", "tag", "train-classifier", "classify", "evaluate"):
        assert f"rnn-cli {command} " in text, command


@pytest.mark.parametrize("index", range(len(blocks())))
def test_readme_example_runs(index, tmp_path):
    script = blocks()[index]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "rnn-cli"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rnn_cli "$@"\n')
    shim.chmod(0o755)
    python = bin_dir / "python"  # as in an activated .venv: `python` is the one rnn-cli is installed in
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "sample_data").symlink_to(ROOT / "sample_data")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "OMP_NUM_THREADS": "1"}
    res = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=work, env=env, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=600)
    assert res.returncode == 0, f"README block {index + 1} failed:\n{script}\n--- stdout\n{res.stdout}\n" \
                                f"--- stderr\n{res.stderr}"
    assert res.stdout.strip(), "an example should print something a user can look at"


def test_blocks_use_only_the_samples_and_write_only_beside_them():
    for script in blocks():
        assert "../shared" not in script and "/tmp" not in script
        for path in re.findall(r"sample_data/[\w.\-]+", script):
            assert Path(ROOT / path).exists(), path
