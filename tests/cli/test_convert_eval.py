"""`convert` and `evaluate --gold/--pred` as pipe tools."""

import json

IOB1 = "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-NP I-MISC\n\n" \
       "Peter NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nJohn NNP I-NP B-PER\n"


def test_convert_round_trips_through_every_scheme(cli, tmp_path):
    src = tmp_path / "in.conll"
    src.write_text(IOB1)
    bioes = cli("convert", str(src), "--to", "bioes")
    assert bioes.returncode == 0, bioes.stderr.decode()
    # Only the tag column changes: the separators and the -DOCSTART- and blank lines stay.
    assert bioes.stdout.decode() == IOB1.replace("I-ORG", "S-ORG").replace("I-MISC", "S-MISC").replace(
        "NNP I-NP I-PER\nBlackburn NNP I-NP I-PER\nJohn NNP I-NP B-PER", "NNP I-NP B-PER\nBlackburn NNP I-NP "
        "E-PER\nJohn NNP I-NP S-PER")
    back = cli("convert", "-", "--to", "iob1", "--from", "bioes", stdin=bioes.stdout)
    assert back.returncode == 0, back.stderr.decode()
    assert back.stdout.decode() == IOB1


def test_convert_rejects_invalid_tags_with_file_and_line(cli, tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("a B-X\nb I-Y\n")
    res = cli("convert", str(bad), "--to", "bioes", "--from", "bio")
    assert res.returncode == 2
    assert res.stderr.decode().strip() == f"rnn-cli: error: {bad}:2: 'I-Y' cannot follow 'B-X' in bio " \
                                          "(an entity starts with B-Y)"


def test_convert_writes_output_file_atomically(cli, tmp_path):
    src = tmp_path / "in.conll"
    src.write_text(IOB1)
    out = tmp_path / "out.conll"
    res = cli("convert", str(src), "--to", "bio", "-o", str(out))
    assert res.returncode == 0 and res.stdout == b""
    assert out.read_text().splitlines()[2] == "EU NNP I-NP B-ORG"


def test_evaluate_gold_pred_text_and_json(cli, tmp_path):
    gold = tmp_path / "gold.conll"
    gold.write_text("EU B-ORG\nrejects O\nGerman B-MISC\n\nPeter B-PER\nBlackburn I-PER\n")
    pred = tmp_path / "pred.conll"
    pred.write_text("EU B-ORG\nrejects O\nGerman O\n\nPeter B-PER\nBlackburn I-PER\n")
    res = cli("evaluate", "--gold", str(gold), "--pred", str(pred), "--json")
    assert res.returncode == 0, res.stderr.decode()
    r = json.loads(res.stdout)
    assert r["micro"]["precision"] == 1.0 and abs(r["micro"]["recall"] - 2 / 3) < 1e-9
    text = cli("evaluate", "--gold", str(gold), "--pred", str(pred)).stdout.decode()
    assert "micro avg\t100.00\t66.67\t80.00\t3" in text
    pred.write_text("EU B-ORG\n")
    res = cli("evaluate", "--gold", str(gold), "--pred", str(pred))
    assert res.returncode == 2 and f"{pred}:1:" in res.stderr.decode()
