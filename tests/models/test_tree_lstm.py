"""The Tree-LSTMs against finite differences, against the paper's equations run node by
node with autograd (values and gradients), against torch's nn.LSTM on chains, batched
against unbatched, padding against none, and on a small task they must learn."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from rnn_cli.models.tree_lstm import BinaryTreeLSTM, ChildSumTreeLSTM

CELLS = {"child-sum": ChildSumTreeLSTM, "binary": BinaryTreeLSTM}

# Trees as lists of children lists, nodes numbered children first (the root last).
CHILD_SUM_TREES = [
    [[], [], [], [0, 1, 2], [], [3, 4]],  # a node with three children under a root with two
    [[], [0], [1]],  # a chain
    [[]],  # a single node
]
BINARY_TREES = [
    [[], [], [0, 1], [], [2, 3], [4]],  # the root is unary
    [[], [0], [], [1, 2]],  # a unary node on the left
    [[]],
]
TREES = {"child-sum": CHILD_SUM_TREES, "binary": BINARY_TREES}


def flatten(trees: list[list[list[int]]]) -> tuple[list[list[int]], list[int]]:
    """One batch: every node's children as global ids, and each tree's root id."""
    kids: list[list[int]] = []
    roots = []
    for tree in trees:
        offset = len(kids)
        kids.extend([offset + c for c in ch] for ch in tree)
        roots.append(len(kids) - 1)
    return kids, roots


def build_levels(kids: list[list[int]], width: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`TreeBatch.levels`: nodes grouped by height, children padded with N to `width`
    (default: the level's widest node)."""
    n = len(kids)
    heights: list[int] = []
    for ch in kids:
        heights.append(1 + max(heights[c] for c in ch) if ch else 0)
    levels = []
    for height in range(max(heights) + 1):
        nodes = [i for i in range(n) if heights[i] == height]
        k = width if width is not None else max(len(kids[i]) for i in nodes)
        rows = [kids[i] + [n] * (k - len(kids[i])) for i in nodes]
        levels.append((torch.tensor(nodes), torch.tensor(rows, dtype=torch.long).view(len(nodes), k)))
    return levels


def levels_for(kind: str, kids: list[list[int]], width: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return build_levels(kids, 2 if kind == "binary" else width)


def reference(cell: nn.Module, x: torch.Tensor, kids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Tai et al.'s equations, one node at a time (nodes numbered children first)."""
    hid = cell.hidden_size
    w, b, u = cell.W.weight, cell.W.bias, cell.U
    zero = x.new_zeros(hid)
    hs: list[torch.Tensor] = []
    cs: list[torch.Tensor] = []
    for j, ch in enumerate(kids):
        wx = w @ x[j] + b
        wi, wo, wu, wf = wx[:hid], wx[hid : 2 * hid], wx[2 * hid : 3 * hid], wx[3 * hid :]
        if isinstance(cell, ChildSumTreeLSTM):
            ht = sum((hs[k] for k in ch), zero)
            i = torch.sigmoid(wi + u[:hid] @ ht)
            o = torch.sigmoid(wo + u[hid : 2 * hid] @ ht)
            g = torch.tanh(wu + u[2 * hid : 3 * hid] @ ht)
            c = i * g + sum((torch.sigmoid(wf + u[3 * hid :] @ hs[k]) * cs[k] for k in ch), zero)
        else:
            hl, hr = (hs[ch[0]] if len(ch) > 0 else zero), (hs[ch[1]] if len(ch) > 1 else zero)
            cl, cr = (cs[ch[0]] if len(ch) > 0 else zero), (cs[ch[1]] if len(ch) > 1 else zero)

            def gate(row: int, hl: torch.Tensor = hl, hr: torch.Tensor = hr) -> torch.Tensor:
                rows = slice(row * hid, (row + 1) * hid)
                return u[rows, :hid] @ hl + u[rows, hid:] @ hr  # U^(left) h_left + U^(right) h_right

            i, o, g = torch.sigmoid(wi + gate(0)), torch.sigmoid(wo + gate(1)), torch.tanh(wu + gate(2))
            c = i * g + torch.sigmoid(wf + gate(3)) * cl + torch.sigmoid(wf + gate(4)) * cr
        cs.append(c)
        hs.append(o * torch.tanh(c))
    return torch.stack(hs), torch.stack(cs)


def random_trees(kind: str, count: int, rng: random.Random, max_nodes: int = 9) -> list[list[list[int]]]:
    """Random dependency-like trees (any arity) or random binary bracketings (with some unary nodes)."""
    trees = []
    for _ in range(count):
        if kind == "child-sum":
            n = rng.randint(1, max_nodes)
            parents = [rng.randint(i + 1, n - 1) for i in range(n - 1)]  # a parent after each child
            trees.append([[c for c in range(n - 1) if parents[c] == j] for j in range(n)])
        else:
            nodes: list[list[int]] = []

            def build(leaves: int, nodes: list[list[int]] = nodes) -> int:
                if leaves == 1:
                    nodes.append([])
                else:
                    split = rng.randint(1, leaves - 1)
                    left = build(split)
                    nodes.append([left, build(leaves - split)])
                if rng.random() < 0.2:
                    nodes.append([len(nodes) - 1])
                return len(nodes) - 1

            build(rng.randint(1, (max_nodes + 1) // 2))
            trees.append(nodes)
    return trees


def model(kind: str, input_size: int, hidden_size: int, seed: int = 0, dtype: torch.dtype = torch.float64):
    torch.manual_seed(seed)
    cell = CELLS[kind](input_size, hidden_size).to(dtype)
    with torch.no_grad():  # every parameter away from its initial pattern (b_f = 1)
        for p in cell.parameters():
            p.uniform_(-0.8, 0.8)
    return cell


@pytest.mark.parametrize("kind", CELLS)
def test_gradients_match_finite_differences(kind):
    kids, _ = flatten(TREES[kind])
    cell = model(kind, 3, 2)
    levels = levels_for(kind, kids)
    x = torch.randn(len(kids), 3, dtype=torch.float64, requires_grad=True)
    names = [name for name, _ in cell.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in cell.parameters()]

    def run(x, *params):
        return torch.func.functional_call(cell, dict(zip(names, params)), (x, levels))

    assert torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize("kind", CELLS)
def test_values_and_gradients_match_the_equations_node_by_node(kind):
    rng = random.Random(1)
    kids, _ = flatten(TREES[kind] + random_trees(kind, 6, rng))
    cell = model(kind, 4, 3, seed=1)
    x = torch.randn(len(kids), 4, dtype=torch.float64, requires_grad=True)
    weights = (torch.randn(len(kids), 3, dtype=torch.float64), torch.randn(len(kids), 3, dtype=torch.float64))
    results = []
    for h, c in (cell(x, levels_for(kind, kids)), reference(cell, x, kids)):
        loss = (h * weights[0]).sum() + (c * weights[1]).sum()
        results.append((h, c, torch.autograd.grad(loss, [x, *cell.parameters()])))
    (h1, c1, g1), (h2, c2, g2) = results
    torch.testing.assert_close(h1, h2, rtol=0, atol=1e-12)
    torch.testing.assert_close(c1, c2, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", CELLS)
def test_a_tree_alone_equals_the_same_tree_in_a_batch(kind):
    rng = random.Random(2)
    others = random_trees(kind, 5, rng, max_nodes=15)
    tree = max(TREES[kind], key=len)
    cell = model(kind, 4, 5, seed=2)
    alone_kids, (alone_root,) = flatten([tree])
    kids, roots = flatten(others[:2] + [tree] + others[2:])  # the tree in the middle, heights differ
    start = roots[2] - len(tree) + 1
    x = torch.randn(len(kids), 4, dtype=torch.float64)
    h_alone, c_alone = cell(x[start : roots[2] + 1], levels_for(kind, alone_kids))
    h, c = cell(x, levels_for(kind, kids))
    assert len({len(build_levels(flatten([t])[0])) for t in [tree, *others]}) > 1
    torch.testing.assert_close(h[start : roots[2] + 1], h_alone, rtol=0, atol=1e-12)
    torch.testing.assert_close(c[roots[2]], c_alone[alone_root], rtol=0, atol=1e-12)


def lstm_weights_to_cell(lstm: nn.LSTM, cell: nn.Module) -> None:
    """Copy an LSTM's weights (gate rows i, f, g, o) into a cell's chain path (rows i, o, u, f)."""
    hid = cell.hidden_size

    def reorder(t: torch.Tensor) -> torch.Tensor:
        i, f, g, o = t.split(hid)
        return torch.cat([i, o, g, f])

    with torch.no_grad():
        cell.W.weight.copy_(reorder(lstm.weight_ih_l0))
        cell.W.bias.copy_(reorder(lstm.bias_ih_l0 + lstm.bias_hh_l0))
        u = reorder(lstm.weight_hh_l0)  # (4H, H)
        if isinstance(cell, ChildSumTreeLSTM):
            cell.U.copy_(u)
        else:  # the left columns of rows i, o, u, f_left; the rest (right child, f_right) stays random
            cell.U[: 4 * hid, :hid].copy_(u)


@pytest.mark.parametrize("kind", CELLS)
def test_a_chain_is_an_lstm(kind):
    steps, inp, hid = 7, 4, 5
    torch.manual_seed(3)
    lstm = nn.LSTM(inp, hid)
    cell = CELLS[kind](inp, hid)
    lstm_weights_to_cell(lstm, cell)
    x = torch.randn(steps, inp)
    kids = [[]] + [[t - 1] for t in range(1, steps)]  # node t's only child is t - 1: node 0 the leaf
    h, c = cell(x, levels_for(kind, kids, width=1))
    out, (_, c_n) = lstm(x.unsqueeze(1))  # leaf first
    torch.testing.assert_close(h, out[:, 0], rtol=0, atol=1e-6)
    torch.testing.assert_close(c[-1], c_n[0, 0], rtol=0, atol=1e-6)


def test_wider_padding_changes_nothing():
    kids, _ = flatten(CHILD_SUM_TREES + random_trees("child-sum", 4, random.Random(4)))
    cell = model("child-sum", 3, 4, seed=4)
    x = torch.randn(len(kids), 3, dtype=torch.float64, requires_grad=True)
    outs = []
    for width in (None, 6):  # each level as wide as its widest node, or every level 6 wide
        h, c = cell(x, build_levels(kids, width))
        outs.append((h, c, torch.autograd.grad(h.sum() + c.sum(), [x, *cell.parameters()])))
    (h1, c1, g1), (h2, c2, g2) = outs
    torch.testing.assert_close(h1, h2, rtol=0, atol=1e-12)
    torch.testing.assert_close(c1, c2, rtol=0, atol=1e-12)
    for a, b in zip(g1, g2):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_a_unary_binary_node_ignores_the_right_columns_of_u():
    kids, _ = flatten([[[], [0], [1]]])  # a chain: the right child is always the pad
    cell = model("binary", 3, 4, seed=5)
    x = torch.randn(len(kids), 3, dtype=torch.float64)
    h1, c1 = cell(x, levels_for("binary", kids))
    with torch.no_grad():
        cell.U[:, 4:].normal_()  # the columns that multiply h_right
        cell.U[16:].normal_()  # the rows of f_right
    h2, c2 = cell(x, levels_for("binary", kids))
    torch.testing.assert_close(h1, h2, rtol=0, atol=0)
    torch.testing.assert_close(c1, c2, rtol=0, atol=0)


def test_binary_refuses_other_widths():
    kids, _ = flatten(CHILD_SUM_TREES)
    with pytest.raises(ValueError, match="children shape"):
        BinaryTreeLSTM(3, 4)(torch.randn(len(kids), 3), build_levels(kids, width=3))


def test_sizes_and_output_size():
    cell = ChildSumTreeLSTM(3, 7)
    assert cell.output_size == 7 and BinaryTreeLSTM(3, 7).output_size == 7
    with pytest.raises(ValueError, match="input shape"):
        cell(torch.randn(4, 5), build_levels([[], [0], [], [1, 2]]))


@pytest.mark.parametrize("kind", CELLS)
def test_runs_under_autocast_in_float32(kind):
    kids, _ = flatten(TREES[kind])
    cell = CELLS[kind](3, 4)
    x = torch.randn(len(kids), 3)
    h, _ = cell(x, levels_for(kind, kids))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h_amp, c_amp = cell(x, levels_for(kind, kids))
        h_amp.sum().backward()
    assert h_amp.dtype == torch.float32 and cell.U.grad is not None
    torch.testing.assert_close(h_amp, h, rtol=0, atol=0.05)


@pytest.mark.parametrize("kind", CELLS)
def test_learns_whether_a_tree_contains_a_word(kind):
    """The root must say whether word 1 occurs anywhere below it (in half of the trees)."""
    rng = random.Random(6)
    torch.manual_seed(6)
    trees, words, labels = [], [], []
    while len(trees) < 160:
        tree = random_trees(kind, 1, rng, max_nodes=13)[0]
        want = len(trees) % 2 == 1
        leaf_words = [rng.randint(2, 7) for _ in tree]
        if want:
            leaf_words[rng.randrange(len(tree))] = 1
        if kind == "binary":  # words at the leaves only, as in a constituency tree
            leaf_words = [w if not ch else 0 for w, ch in zip(leaf_words, tree)]
            if want and 1 not in leaf_words:
                continue
        trees.append(tree)
        words.append(leaf_words)
        labels.append(int(want))
    kids, roots = flatten(trees)
    levels = levels_for(kind, kids)
    ids = torch.tensor([w for ws in words for w in ws])
    y = torch.tensor(labels)
    embed, cell, out = nn.Embedding(8, 8, padding_idx=0), CELLS[kind](8, 16), nn.Linear(16, 2)
    params = [*embed.parameters(), *cell.parameters(), *out.parameters()]
    opt = torch.optim.Adam(params, lr=0.03)
    losses = []
    for _ in range(60):
        h, _ = cell(embed(ids), levels)
        logits = out(h[torch.tensor(roots)])
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    accuracy = (logits.argmax(-1) == y).float().mean().item()
    assert losses[-1] < 0.5 * losses[0] and accuracy > 0.9
