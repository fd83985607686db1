"""The defaults study (not a test): `make bench-defaults DATA=../shared/data`.

What a user gets from `rnn-cli train-... FILE --dev DEV -o M` with no other option (plus
`--embeddings` where the row says so), on every corpus in DATA, with the old and the new
defaults side by side. Each row is trained through the command line in a subprocess, in
stages: `--epochs 1`, then `--resume --epochs 3`, `--resume --epochs 10`, and `--resume`
with the defaults' own epochs (early stopping may end it sooner); every stage prints the
test score of the best model so far (by dev), which is what a user who stopped there would
have. Also recorded: the training time (the epochs' own seconds, without scoring or start-up),
the wall time of all stages, and the peak RSS of the training processes.

Old defaults: the trainers' defaults before the study (`OLD`, the options that changed;
`OLD_BY_ROW` where that depends on the row). A row whose defaults did not change gets one
column.

Classifier rows are compared with fastText's supervised model with word bigrams
(`train_supervised(wordNgrams=2, epoch=25, lr=0.5)`), run with `--fasttext-python`
(default: .fasttext-venv/bin/python when it exists; `make fasttext-venv` builds it;
fastText is not a dependency of rnn-cli).

Results go to OUT/results.jsonl as each run ends; `--resume` skips what is there,
`--table-only` prints the Markdown table from it. A row stopped half-way (the machine
went away) continues when run again: the stages it finished are kept in
OUT/ROW-COLUMN.stages.json, the one it was in resumes from its last saved epoch;
`--fresh` starts a row over (needed after a change of defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runlog import RunLog, train_seconds  # noqa: E402

GLOVE = "glove/glove.6B.50d.trimmed.txt.gz"
STAGES = (1, 3, 10)

# The options whose defaults the study changed, at their old values.
OLD: dict[str, list[str]] = {
    "train-tagger": ["--optimizer", "sgd", "--lr", "0.015", "--momentum", "0.9", "--batch-size", "10",
                     "--schedule", "inverse-time", "--decay-rate", "0.05", "--epochs", "50", "--patience", "5",
                     "--word-dropout", "0"],
}
# Where the change depends on a row's own options: train-lm's optimiser follows --level
# (SGD at lr 20 for words, unchanged; Adam at 0.002 for characters, which had SGD at 20).
OLD_BY_ROW: dict[str, list[str]] = {"shakespeare": ["--optimizer", "sgd"]}


def old_options(name: str) -> list[str] | None:
    """The options that give row `name` the old defaults; None where they did not change."""
    return OLD_BY_ROW.get(name, OLD.get(ROWS[name].command))


@dataclass
class Row:
    command: str
    data: str  # key of `files`
    extra: list[str] = field(default_factory=list)
    metric: str = "accuracy"  # dev_<metric>, test_<metric> in the summaries
    note: str = ""


ROWS: dict[str, Row] = {
    "conll03-glove": Row("train-tagger", "conll03", ["--embeddings", GLOVE], "f1", "CoNLL-2003 NER, GloVe 50-d"),
    "conll03": Row("train-tagger", "conll03", [], "f1", "CoNLL-2003 NER, no vectors"),
    "conll00-chunk": Row("train-tagger", "conll00", [], "f1", "CoNLL-2000 chunking"),
    "conll00-pos": Row("train-tagger", "conll00", ["--tag-column", "1"], "accuracy", "CoNLL-2000 POS"),
    "ewt-upos": Row("train-tagger", "ewt", [], "accuracy", "UD EWT UPOS (CoNLL-U)"),
    "trec": Row("train-classifier", "trec", ["--embeddings", GLOVE, "--lowercase"], "accuracy",
                "TREC-6, GloVe 50-d"),
    "sst2": Row("train-classifier", "sst2", ["--embeddings", GLOVE, "--lowercase"], "accuracy",
                "SST-2 sentences, GloVe 50-d"),
    "mr": Row("train-classifier", "mr", ["--embeddings", GLOVE, "--lowercase"], "accuracy", "MR, GloVe 50-d"),
    "ptb": Row("train-lm", "ptb", [], "ppl", "PTB words"),
    "shakespeare": Row("train-lm", "shakespeare", ["--level", "char"], "bpc", "tiny-shakespeare chars"),
}


def _write(path: Path, lines: list[str]) -> str:
    return _write_text(path, "".join(line + "\n" for line in lines))


def _write_text(path: Path, text: str) -> str:
    """Write a held-out part, atomically and only when it differs (two benchmark processes
    may share the data folder: a reader never sees a half-written file)."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return str(path)


def _read(path: Path, encoding: str = "utf-8") -> list[str]:
    import gzip

    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    return [line.rstrip("\r") for line in raw.decode(encoding).split("\n") if line.strip()]


def _blocks(path: Path) -> list[str]:
    """A CoNLL file's sentences, each as one string of lines."""
    import gzip

    raw = (gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()).decode("utf-8")
    return [b.strip("\n") for b in raw.replace("\r\n", "\n").split("\n\n") if b.strip()]


def files(name: str, data: Path, work: Path) -> tuple[str, str, str]:
    """(train, dev, test) of a data key; held-out parts written to `work` where the corpus
    has none (every 10th item becomes dev, or dev and test)."""
    work.mkdir(parents=True, exist_ok=True)
    if name == "conll03":
        d = data / "conll2003"
        return str(d / "eng.train.gz"), str(d / "eng.testa"), str(d / "eng.testb")
    if name == "conll00":
        train = _blocks(data / "conll2000" / "train.txt.gz")
        cut = len(train) * 9 // 10
        return (_write(work / "conll00.train.txt", [s + "\n" for s in train[:cut]]),  # a blank line after each
                _write(work / "conll00.dev.txt", [s + "\n" for s in train[cut:]]),
                str(data / "conll2000" / "test.txt.gz"))
    if name == "ewt":
        d = data / "ud_en_ewt"
        return str(d / "en_ewt-ud-train.conllu.gz"), str(d / "en_ewt-ud-dev.conllu"), str(d / "en_ewt-ud-test.conllu")
    if name == "trec":
        def rows(f: str) -> list[str]:
            return [f"{line.split(' ', 1)[0].split(':')[0]}\t{line.split(' ', 1)[1]}"
                    for line in _read(data / "trec" / f, "latin-1")]
        train = rows("TREC.train")
        return (_write(work / "trec.train.tsv", [r for i, r in enumerate(train) if i % 10]),
                _write(work / "trec.dev.tsv", train[::10]), _write(work / "trec.test.tsv", rows("TREC.test")))
    if name == "sst2":
        return tuple(_write(work / f"sst2.{p}.tsv", ["\t".join(line.split(" ", 1)) for line in
                                                     _read(data / "sst" / f"stsa.binary.{p}")])
                     for p in ("train", "dev", "test"))  # type: ignore[return-value]
    if name == "mr":
        items = []
        for label in ("pos", "neg"):
            items += [f"{label}\t{line}" for line in _read(data / "mr" / f"rt-polarity.{label}", "cp1252")]
        items.sort(key=lambda r: hash_of(r))  # a fixed shuffle
        return (_write(work / "mr.train.tsv", [r for i, r in enumerate(items) if i % 10 not in (0, 5)]),
                _write(work / "mr.dev.tsv", items[0::10]), _write(work / "mr.test.tsv", items[5::10]))
    if name == "ptb":
        d = data / "ptb"
        return str(d / "ptb.train.txt.gz"), str(d / "ptb.valid.txt.gz"), str(d / "ptb.test.txt.gz")
    if name == "shakespeare":
        text = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
        a = text.index("\n", int(len(text) * 0.9)) + 1
        b = text.index("\n", a + (len(text) - a) // 2) + 1
        return tuple(_write_text(work / f"shakespeare.{part}.txt", chunk)  # type: ignore[return-value]
                     for part, chunk in (("train", text[:a]), ("valid", text[a:b]), ("test", text[b:])))
    raise ValueError(name)


def hash_of(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _run(argv: list[str], log) -> tuple[dict, float, float]:  # type: ignore[no-untyped-def]
    """Run a training command; its JSON summary, wall seconds and peak RSS (MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}")
    return json.loads(out), time.perf_counter() - started, usage.ru_maxrss / 1024


def run_column(name: str, column: str, args: argparse.Namespace) -> dict:
    row = ROWS[name]
    train, dev, test = files(row.data, args.data_dir, args.out_dir / "data")
    out = args.out_dir / f"{name}-{column}.pt"
    stages = out.with_suffix(".stages.json")  # the stages done so far: a rerun skips them
    if args.fresh:
        for path in (out, out.with_suffix(".state.pt"), out.with_suffix(".metrics.jsonl"), stages):
            path.unlink(missing_ok=True)
    extra = [a if not a.startswith("glove/") else str(args.data_dir / a) for a in row.extra]
    base = [args.rnn_cli, row.command, train, "--dev", dev, "--test", test, "-o", str(out), "--threads",
            str(args.threads), "--seed", str(args.seed), "-q", *extra, *((old_options(name) or []) if column == "old"
                                                                        else [])]
    result: dict = {"row": name, "defaults": column, "note": row.note, "metric": row.metric, "wall_seconds": 0.0,
                    "peak_rss_mb": 0}
    if stages.exists():
        result.update(json.loads(stages.read_text()))
    summary: dict = {}
    with open(args.out_dir / f"{name}-{column}.log", "a", encoding="utf-8") as log:
        for n in (*STAGES, None):
            # Every stage resumes: the first too, so that a run stopped mid-row (a session's end)
            # goes on from its last saved epoch (the trainer starts afresh when there is no state).
            argv = base + (["--epochs", str(n)] if n is not None else []) + ["--resume"]
            cap = args.old_max_epochs if column == "old" and args.old_max_epochs else args.max_epochs
            if n is not None and cap and n > cap:
                continue
            if n is None and cap:
                argv += ["--epochs", str(cap)]
            key = "end" if n is None else str(n)
            if f"epochs@{key}" in result:
                continue
            print(f"# {name} [{column}] {'end' if n is None else f'{n} epochs'}", file=sys.stderr, flush=True)
            summary, seconds, peak = _run(argv, log)
            result[f"dev@{key}"] = summary.get(f"dev_{row.metric}")
            result[f"test@{key}"] = summary.get(f"test_{row.metric}")
            result[f"epochs@{key}"] = summary.get("epochs")
            result["best_epoch"] = summary.get("epoch")
            result["wall_seconds"] = round(result["wall_seconds"] + seconds, 1)
            result["peak_rss_mb"] = max(result["peak_rss_mb"], round(peak))
            _write_text(stages, json.dumps(result))
    result.update(train_seconds=train_seconds(out), threads=args.threads)
    return result


FASTTEXT = """
import json, sys, time, fasttext
def convert(src, dst):
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as g:
        for line in f:
            label, text = line.rstrip("\\n").split("\\t", 1)
            g.write(f"__label__{label} {text.lower()}\\n")
train, test, work, seed = sys.argv[1:5]
convert(train, work + ".train.ft"); convert(test, work + ".test.ft")
t0 = time.perf_counter()
model = fasttext.train_supervised(input=work + ".train.ft", wordNgrams=2, epoch=25, lr=0.5, thread=1, verbose=0,
                                  seed=int(seed))
seconds = time.perf_counter() - t0
n, p, _ = model.test(work + ".test.ft")
print(json.dumps({"test_accuracy": p, "train_seconds": round(seconds, 2), "items": n}))
"""


def run_fasttext(name: str, args: argparse.Namespace) -> dict:
    row = ROWS[name]
    train, _, test = files(row.data, args.data_dir, args.out_dir / "data")
    script = args.out_dir / "fasttext_run.py"
    script.write_text(FASTTEXT)
    res = subprocess.run([args.fasttext_python, str(script), train, test, str(args.out_dir / f"{name}-fasttext"),
                          str(args.seed)],
                         capture_output=True, text=True, check=True)
    found = json.loads(res.stdout)
    return {"row": name, "defaults": "fasttext", "note": row.note, "metric": "accuracy",
            "test@end": found["test_accuracy"], "train_seconds": found["train_seconds"], "wall_seconds": None}


def _fmt(value: object, metric: str) -> str:
    if value is None:
        return "–"
    if metric in ("f1", "accuracy"):
        return f"{100 * float(value):.2f}"  # type: ignore[arg-type]
    return f"{float(value):.2f}" if metric == "ppl" else f"{float(value):.3f}"  # type: ignore[arg-type]


def table(results: list[dict]) -> str:
    order = ["new", "old", "fasttext"]
    results = sorted(results, key=lambda r: (list(ROWS).index(r["row"]), order.index(r["defaults"])))
    lines = ["| corpus (metric) | defaults | test after 1 / 3 / 10 epochs | end: epochs, dev, test | training time "
             "| peak RSS |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        m = r["metric"]
        if r["defaults"] == "fasttext":
            lines.append(f"| {r['note']} ({m}) | fastText bigrams | – | –, –, {_fmt(r['test@end'], m)} "
                         f"| {r['train_seconds']:.1f} s | – |")
            continue
        early = " / ".join(_fmt(r.get(f"test@{n}"), m) for n in STAGES)
        end = f"{r.get('epochs@end')}, {_fmt(r.get('dev@end'), m)}, {_fmt(r.get('test@end'), m)}"
        column = r["defaults"] if old_options(r["row"]) is not None else "defaults (unchanged)"
        lines.append(f"| {r['note']} ({m}) | {column} | {early} | {end} | {r['train_seconds'] / 60:.1f} min "
                     f"| {r['peak_rss_mb']:,} MB |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", nargs="*", help=f"rows to run (default: all): {', '.join(ROWS)}")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out-dir", type=Path, default=Path("runs/bench-defaults"))
    parser.add_argument("--columns", default="new,old", help="new, old (where the defaults changed), fasttext")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--max-epochs", type=int, default=0, help="cap every run at N epochs (0: the defaults')")
    parser.add_argument("--old-max-epochs", type=int, default=0, help="cap the old defaults' runs at N epochs")
    parser.add_argument("--rnn-cli", default=str(Path(sys.executable).parent / "rnn-cli"))
    default_ft = ".fasttext-venv/bin/python" if Path(".fasttext-venv/bin/python").exists() else None
    parser.add_argument("--fasttext-python", default=default_ft)
    parser.add_argument("--resume", action="store_true", help="skip the runs already in OUT/results.jsonl")
    parser.add_argument("--fresh", action="store_true", help="delete a row's earlier model and training state "
                        "first (needed after changing the defaults; otherwise a row resumes where it stopped)")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if unknown := sorted(set(args.rows) - set(ROWS)):
        parser.error(f"unknown row(s): {', '.join(unknown)}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    log = RunLog(args.out_dir)
    if not args.table_only:
        done = {(r["row"], r["defaults"]) for r in log.results} if args.resume else set()
        for name in args.rows or list(ROWS):
            command = ROWS[name].command
            for column in args.columns.split(","):
                if (name, column) in done or (column == "old" and old_options(name) is None):
                    continue
                if column == "fasttext":
                    if command == "train-classifier" and args.fasttext_python:
                        log.add(run_fasttext(name, args))
                    continue
                log.add(run_column(name, column, args))
    print(table(log.results))


if __name__ == "__main__":
    main()
