import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_cli.batches import ClassBatch, LMBatch, TagBatch
from rnn_cli.data.batching import IGNORE_INDEX, lay_out_streams, window_lengths


@given(n=st.integers(3, 400), streams=st.integers(1, 12), bptt=st.integers(1, 9), variable=st.booleans())
@settings(max_examples=60, deadline=None)
def test_targets_are_next_inputs_across_windows(n, streams, bptt, variable):
    ids = torch.arange(n)
    if n - 1 < streams:
        return
    x, y = lay_out_streams(ids, streams)
    gen = torch.Generator().manual_seed(0)
    windows = list(window_lengths(x.size(0), bptt, variable=variable, generator=gen))
    # Windows tile the rows in order with no gap or overlap.
    assert windows[0][0] == 0 and sum(n for _, n in windows) == x.size(0)
    assert all(r2 == r1 + n1 for (r1, n1), (r2, _) in zip(windows, windows[1:]))
    # Across consecutive windows, a column's last target is the next window's first input.
    for (r, length), (r2, _) in zip(windows, windows[1:]):
        assert torch.equal(y[r + length - 1], x[r2])
    # Within the whole layout, targets are the inputs shifted by one in each column.
    assert torch.equal(y[:-1], x[1:])
    assert torch.equal(y, x + 1)  # ids are consecutive integers


@given(n=st.integers(2, 300), streams=st.integers(1, 12))
@settings(max_examples=60, deadline=None)
def test_padded_layout_scores_every_pair_once(n, streams):
    ids = torch.arange(100, 100 + n)
    x, y = lay_out_streams(ids, streams, pad=True)
    kept = y[y != IGNORE_INDEX]
    assert sorted(kept.tolist()) == list(range(101, 100 + n))
    mask = y != IGNORE_INDEX
    assert torch.equal(y[mask], x[mask] + 1)


def test_variable_windows_repeat_with_the_same_seed():
    a = list(window_lengths(1000, 35, variable=True, generator=torch.Generator().manual_seed(3)))
    b = list(window_lengths(1000, 35, variable=True, generator=torch.Generator().manual_seed(3)))
    assert a == b and len({n for _, n in a}) > 3


def test_batches_move_their_tensors_and_keep_lengths_on_the_cpu():
    cpu = torch.device("cpu")
    x = torch.zeros(3, 2, dtype=torch.long)
    lm = LMBatch(x, x, (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))).to(cpu)
    assert isinstance(lm.hidden, tuple) and len(lm.hidden) == 2 and lm.y is not None
    assert LMBatch(x).to(cpu).y is None and LMBatch(x).hidden is None
    words, lengths = torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 1])
    mask = torch.tensor([[True] * 3, [True, False, False]])
    tag = TagBatch(words, words.unsqueeze(2), mask, None, lengths, [1, 0]).to(cpu)
    assert tag.tags is None and tag.lengths is lengths and tag.indices == [1, 0]
    cls = ClassBatch(words, lengths, None, [0, 1], torch.ones(4)).to(cpu)
    assert cls.lengths is lengths and cls.weights is not None and cls.labels is None
    assert cls.mask.tolist() == mask.tolist()
