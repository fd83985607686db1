"""The compiled loops' builder: a loop that cannot be built falls back with one warning."""

from __future__ import annotations

from rnn_cli.models.kernels import build


def test_a_loop_that_does_not_compile_gives_none_and_one_warning(capsys):
    # An option g++ refuses fails the build at once (bad source would compile torch's headers first).
    flags = ("-fno-such-option-anywhere",)
    assert build("rnn_cli_test_broken", "int x;", "RNN_CLI_TEST_KERNEL", "the test", flags) is None
    assert build("rnn_cli_test_broken", "int x;", "RNN_CLI_TEST_KERNEL", "the test", flags) is None  # cached
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("rnn-cli: warning: the test's compiled loop could not be built (")
    assert err[0].endswith("using the slower PyTorch loop")


def test_the_switch_asks_for_the_pytorch_loop_without_building(monkeypatch, capsys):
    monkeypatch.setenv("RNN_CLI_TEST_KERNEL2", "python")
    assert build("rnn_cli_test_switch", "not built", "RNN_CLI_TEST_KERNEL2", "the test", ()) is None
    assert capsys.readouterr().err == ""
