import gzip
import io
import sys

import pytest
import torch

from rnn_cli.data.lm_corpus import build_vocab, encode_corpus, read_tokens
from rnn_cli.data.text import iter_lines, read_text
from rnn_cli.errors import DataFormatError


def test_plain_gzip_crlf_and_bom_read_alike(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_bytes(b"\xef\xbb\xbfone two\r\nthree\r\n")
    gz = tmp_path / "a.txt.gz"
    gz.write_bytes(gzip.compress(b"one two\nthree\n"))
    assert list(iter_lines(str(plain))) == [(1, "one two"), (2, "three")]
    assert list(iter_lines(str(gz))) == [(1, "one two"), (2, "three")]


def test_last_line_without_newline_is_kept(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("a\nb")
    assert [t for _, t in iter_lines(str(p))] == ["a", "b"]


def test_undecodable_byte_names_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"fine\nalso fine\nbad \xff byte\n")
    with pytest.raises(DataFormatError) as exc:
        list(iter_lines(str(p)))
    assert exc.value.line == 3
    assert str(p) in str(exc.value) and ":3:" in str(exc.value)
    assert "--encoding" in str(exc.value)


def test_other_encoding_and_0x85_does_not_split_lines(tmp_path):
    # cp1252 0x85 (ellipsis) read as latin-1 is U+0085, which splitlines() would split on.
    p = tmp_path / "mr.txt"
    p.write_bytes(b"it was good \x85 really\nsecond\n")
    assert len(list(iter_lines(str(p), "latin-1"))) == 2
    assert list(iter_lines(str(p), "cp1252"))[0][1] == "it was good \u2026 really"


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.txt", "no such file"),
    (lambda d: d, "is a directory"),
])
def test_bad_paths(tmp_path, make, message):
    with pytest.raises(DataFormatError, match=message):
        list(iter_lines(str(make(tmp_path))))


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "x.gz"
    p.write_bytes(b"this is not gzip data")
    with pytest.raises(DataFormatError, match="gzip"):
        list(iter_lines(str(p)))


def test_empty_and_blank_files_are_errors(tmp_path):
    for content in ("", "\n  \n\n"):
        p = tmp_path / "e.txt"
        p.write_text(content)
        with pytest.raises(DataFormatError, match="empty"):
            read_tokens(str(p), "word")


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x y\nz\n")))
    assert read_text("-") == "x y\nz\n"


def test_word_and_char_tokens(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("the cat\nsat\n")
    assert read_tokens(str(p), "word") == ["the", "cat", "<eos>", "sat", "<eos>"]
    assert read_tokens(str(p), "char") == list("the cat\nsat\n")


def test_corpus_encoding_starts_with_start_token_and_maps_unknowns(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("a a b\nc\n")
    tokens = read_tokens(str(p), "word")
    vocab = build_vocab(tokens, "word", min_freq=2)
    ids = encode_corpus(tokens, vocab, "word")
    assert vocab.decode(ids.tolist()) == ["<eos>", "a", "a", "<unk>", "<eos>", "<unk>", "<eos>"]


@pytest.mark.parametrize("chunk", [1, 2, 3, 1000])
def test_a_token_stream_encodes_like_the_list_in_any_chunk_size(tmp_path, chunk):
    """`evaluate` encodes the file as a stream, a chunk at a time, never holding the
    token strings; the ids must be those of the whole list, whatever the chunking."""
    from rnn_cli.data.lm_corpus import iter_tokens, start_token

    p = tmp_path / "c.txt"
    p.write_text("the cat sat\n\non the mat .\nthe end\n")
    for level in ("word", "char"):
        tokens = read_tokens(str(p), level)
        vocab = build_vocab(tokens[:7], level)
        streamed = encode_corpus(iter_tokens(str(p), level), vocab, level, chunk=chunk)
        start = start_token(level)
        assert streamed.dtype == torch.long
        assert streamed.tolist() == [vocab.index(start), *vocab.encode(tokens)]
