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


def test_prepare_builds_only_the_loops_a_model_trains_with_and_says_so_once(monkeypatch):
    import torch
    from torch import nn

    from rnn_cli.models import kernels
    from rnn_cli.models.crf import CRF
    from rnn_cli.models.tagger import Tagger, TaggerConfig

    loaded, built = [], {"rnn_cli_crf_v2": False}
    monkeypatch.setattr(kernels, "_built", lambda name: built.get(name, True))
    monkeypatch.setattr(kernels, "LOOPS", [
        kernels.Loop("rnn_cli_crf_v2", "the CRF", lambda m: isinstance(m, CRF) and m.transitions.requires_grad,
                     lambda: loaded.append("crf")),
        kernels.Loop("rnn_cli_sru_v5", "the SRU", lambda m: False, lambda: loaded.append("sru")),
    ])
    crf_tagger = Tagger(TaggerConfig(20, 10, 5))
    assert list(kernels.prepare(crf_tagger, torch.device("cpu"))) == [
        "building the CRF's compiled loop (once per machine, about 30 s)"]
    assert loaded == ["crf"]
    built["rnn_cli_crf_v2"] = True
    assert list(kernels.prepare(crf_tagger, torch.device("cpu"))) == [] and loaded == ["crf", "crf"]
    # The softmax head's CRF only decodes; other devices never call the CPU loops.
    assert list(kernels.prepare(Tagger(TaggerConfig(20, 10, 5, decoder="softmax")), torch.device("cpu"))) == []
    assert list(kernels.prepare(nn.Linear(2, 2), torch.device("cpu"))) == []
    assert list(kernels.prepare(crf_tagger, torch.device("meta"))) == []
    assert loaded == ["crf", "crf"]


def test_the_crf_sru_and_dmn_register_their_loops():
    from torch import nn

    from rnn_cli.models import crf, crf_kernel, dmn, dmn_kernel, kernels, sru, sru_kernel  # noqa: F401

    assert {crf_kernel.NAME, sru_kernel.NAME, dmn_kernel.NAME} <= {loop.name for loop in kernels.LOOPS}
    (attention,) = [loop for loop in kernels.LOOPS if loop.name == dmn_kernel.NAME]
    assert attention.used_by(dmn.AttentionGRU(3, 2)) and not attention.used_by(nn.GRU(3, 2))
