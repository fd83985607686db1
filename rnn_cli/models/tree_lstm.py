"""Tree-LSTMs (Tai, Socher & Manning 2015, "Improved Semantic Representations From
Tree-Structured Long Short-Term Memory Networks"), run over a whole `TreeBatch` one
height at a time. For node j with input x_j and children k in C(j):

Child-Sum Tree-LSTM (eq. 2-8; dependency trees, any number of children, unordered):

    h~_j = sum_k h_k
    i_j = sigmoid(W_i x_j + U_i h~_j + b_i)     o_j = sigmoid(W_o x_j + U_o h~_j + b_o)
    u_j = tanh(W_u x_j + U_u h~_j + b_u)        f_jk = sigmoid(W_f x_j + U_f h_k + b_f)  (one per child)
    c_j = i_j * u_j + sum_k f_jk * c_k          h_j = o_j * tanh(c_j)

Binary Tree-LSTM, the N-ary Tree-LSTM with N = 2 (eq. 9-14; constituency trees,
ordered children l = left, right):

    g_j = W_g x_j + U_g^(left) h_left + U_g^(right) h_right + b_g    for g in i, o, u
    f_jk = sigmoid(W_f x_j + U_f^(k,left) h_left + U_f^(k,right) h_right + b_f)   k in left, right
    c_j = i_j * u_j + f_jleft * c_left + f_jright * c_right          h_j = o_j * tanh(c_j)

A missing child (a leaf's, a unary node's right one, a padded column) has h = c = 0,
so it adds nothing to h~, to U h or to the sum of f * c, nor gets any gradient. Both
modules take

    x       (N, E)  every node's input (a zero vector where the node has no word)
    levels  `TreeBatch.levels`: bottom-up, (nodes (M,), children (M, K)), children
            padded with N; every child is in an earlier level than its parent (so
            levels[0] holds leaves only, whose children are never read)

and return h, c (N, H). W x is one matmul for all nodes (in level order, split into
levels for free); then a level is a handful of batched ops over its M nodes: gather the
children's rows from a (2, N + 1, H) buffer of [h; c], one matmul with U, the cell's
element-wise maths, `index_copy_` of the new rows. The level loop is one autograd
Function with a hand-written backward (the same loop top-down, `index_add_` of the
children's gradients), tested against finite differences and against autograd through
the equations node by node. Letting autograd differentiate out-of-place writes
(`index_copy`) costs (N + 1, H) copies and zero-filled gradients per level: that ran
15% slower at best (binary cell, SST-sized batches). Under autocast the recurrence runs
in the parameters' dtype.

Initialisation follows torch's nn.LSTM, U(-1/sqrt(H), 1/sqrt(H)) for every weight and
bias, except b_f = 1 (Jozefowicz et al. 2015, as `RNNEncoder` does): forget gates start
half-open, so a leaf's cell reaches the root early in training."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

# What one level saves for its backward (activations, children's states, ...).
Saved = tuple[Any, ...]


def _cell_grad(dc: torch.Tensor, dh: torch.Tensor, o: torch.Tensor, tc: torch.Tensor) -> torch.Tensor:
    """dL/dc_j in full: its own gradient plus the path through h_j = o_j * tanh(c_j)."""
    return torch.addcmul(dc, dh * o, 1 - tc * tc)


def _gate_grad(dact: torch.Tensor, act: torch.Tensor, hid: int) -> torch.Tensor:
    """Through the activations [sigmoid i, sigmoid o, tanh u, sigmoid ...]: (M, G) twice -> (M, G)."""
    deriv = act * (1 - act)
    u = act[:, 2 * hid : 3 * hid]
    deriv[:, 2 * hid : 3 * hid] = 1 - u * u
    return dact * deriv


class _Cell:
    """The element-wise maths of one level, forward and backward. `z` (M, G) is the
    level's W x + b, columns i, o, u first; `hk`, `ck` (M, K, H) its children's states.
    U's gradient is the sum over levels of A^T B for the pairs (A, B) returned per block."""

    blocks: tuple[tuple[int, int], ...]  # row ranges of U, each with its own (A, B) pairs

    def __init__(self, hidden_size: int) -> None:
        self.h = hidden_size

    def forward(self, z: torch.Tensor, hk: torch.Tensor, ck: torch.Tensor, u: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, Saved]:
        raise NotImplementedError

    def backward(self, saved: Saved, dh: torch.Tensor, dc: torch.Tensor, u: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """-> dz (M, G), dhk and dck (M, K, H), one (A, B) per block."""
        raise NotImplementedError

    def leaves(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Saved]:
        """Nodes without children, in either cell: c = i * u, h = o * tanh(c)."""
        hid = self.h
        act = z[:, : 3 * hid].clone()  # (M, 3H)
        act[:, : 2 * hid].sigmoid_()
        act[:, 2 * hid :].tanh_()
        c = act[:, :hid] * act[:, 2 * hid :]
        tc = torch.tanh(c)
        return act[:, hid : 2 * hid] * tc, c, (act, tc, z.size(1))

    def leaves_backward(self, saved: Saved, dh: torch.Tensor, dc: torch.Tensor) -> torch.Tensor:
        """-> dz (M, G), zero for the forget gates."""
        act, tc, width = saved
        hid = self.h
        dc = _cell_grad(dc, dh, act[:, hid : 2 * hid], tc)
        diou = _gate_grad(torch.cat([dc * act[:, 2 * hid :], dh * tc, dc * act[:, :hid]], 1), act, hid)
        return torch.cat([diou, diou.new_zeros(diou.size(0), width - 3 * hid)], 1)


class _BinaryCell(_Cell):
    # z: (M, 5H) i, o, u, f_left, f_right; U (5H, 2H)
    def __init__(self, hidden_size: int) -> None:
        super().__init__(hidden_size)
        self.blocks = ((0, 5 * hidden_size),)

    def forward(self, z, hk, ck, u):
        hid, m = self.h, z.size(0)
        act = torch.addmm(z, hk.reshape(m, 2 * hid), u.t())  # (M, 5H), [h_left; h_right] is hk as (M, 2H)
        act[:, : 2 * hid].sigmoid_()
        act[:, 2 * hid : 3 * hid].tanh_()
        act[:, 3 * hid :].sigmoid_()
        c = act[:, :hid] * act[:, 2 * hid : 3 * hid]
        c.addcmul_(act[:, 3 * hid : 4 * hid], ck[:, 0]).addcmul_(act[:, 4 * hid :], ck[:, 1])
        tc = torch.tanh(c)
        return act[:, hid : 2 * hid] * tc, c, (act, tc, hk, ck)

    def backward(self, saved, dh, dc, u):
        act, tc, hk, ck = saved
        hid, m = self.h, dh.size(0)
        dc = _cell_grad(dc, dh, act[:, hid : 2 * hid], tc)
        df = (dc.unsqueeze(1) * ck).view(m, 2 * hid)
        dact = torch.cat([dc * act[:, 2 * hid : 3 * hid], dh * tc, dc * act[:, :hid], df], 1)
        dz = _gate_grad(dact, act, hid)  # (M, 5H)
        dhk = (dz @ u).view(m, 2, hid)
        dck = dc.unsqueeze(1) * act[:, 3 * hid :].view(m, 2, hid)
        return dz, dhk, dck, [(dz, hk.reshape(m, 2 * hid))]


class _ChildSumCell(_Cell):
    # z: (M, 4H) i, o, u, f; U (4H, H), rows i, o, u applied to h~, rows f to each child
    def __init__(self, hidden_size: int) -> None:
        super().__init__(hidden_size)
        self.blocks = ((0, 3 * hidden_size), (3 * hidden_size, 4 * hidden_size))

    def forward(self, z, hk, ck, u):
        hid, (m, kids) = self.h, hk.shape[:2]
        hs = hk.sum(1)  # (M, H), h~
        act = torch.addmm(z[:, : 3 * hid], hs, u[: 3 * hid].t())  # (M, 3H)
        f = (hk.reshape(m * kids, hid) @ u[3 * hid :].t()).view(m, kids, hid)
        f.add_(z[:, 3 * hid :].unsqueeze(1)).sigmoid_()  # (M, K, H)
        act[:, : 2 * hid].sigmoid_()
        act[:, 2 * hid :].tanh_()
        c = act[:, :hid] * act[:, 2 * hid :]
        c += (f * ck).sum(1)
        tc = torch.tanh(c)
        return act[:, hid : 2 * hid] * tc, c, (act, f, tc, hs, hk, ck)

    def backward(self, saved, dh, dc, u):
        act, f, tc, hs, hk, ck = saved
        hid = self.h
        dc = _cell_grad(dc, dh, act[:, hid : 2 * hid], tc)
        diou = _gate_grad(torch.cat([dc * act[:, 2 * hid :], dh * tc, dc * act[:, :hid]], 1), act, hid)  # (M, 3H)
        m, kids = f.shape[:2]
        dfz = (dc.unsqueeze(1) * ck).mul_(f * (1 - f))  # (M, K, H), before the sigmoid
        dfz_flat = dfz.view(m * kids, hid)
        dhk = (dfz_flat @ u[3 * hid :]).view(m, kids, hid).add_((diou @ u[: 3 * hid]).unsqueeze(1))
        dck = dc.unsqueeze(1) * f
        return torch.cat([diou, dfz.sum(1)], 1), dhk, dck, [(diou, hs), (dfz_flat, hk.reshape(m * kids, hid))]


class _TreeRecurrence(torch.autograd.Function):
    """(wx (N', G) in level order, U, levels, N, cell) -> h, c (N, H); see the module docstring."""

    @staticmethod
    def forward(ctx: Any, wx: torch.Tensor, u: torch.Tensor, levels: list[tuple[torch.Tensor, torch.Tensor]],
                n: int, cell: _Cell) -> tuple[torch.Tensor, torch.Tensor]:
        state = wx.new_zeros(2, n + 1, cell.h)  # [h; c]; row N the zero state of a missing child
        saved = []
        for k, ((nodes, children), z) in enumerate(zip(levels, wx.split([nd.numel() for nd, _ in levels]))):
            if k == 0:  # leaves only: nothing comes before them
                h, c, s = cell.leaves(z)
            else:
                kids = state[:, children]  # (2, M, K, H)
                h, c, s = cell.forward(z, kids[0], kids[1], u)
            state[0].index_copy_(0, nodes, h)
            state[1].index_copy_(0, nodes, c)
            saved.append(s)
        ctx.save_for_backward(u)
        ctx.levels, ctx.saved, ctx.cell = levels, saved, cell
        return state[0, :n].clone(), state[1, :n].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, dh_out: torch.Tensor, dc_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        with torch.autocast(dh_out.device.type, enabled=False):  # in the dtype of the forward
            return _TreeRecurrence._backward(ctx, dh_out, dc_out)

    @staticmethod
    def _backward(ctx: Any, dh_out: torch.Tensor, dc_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (u,) = ctx.saved_tensors
        cell, levels, saved = ctx.cell, ctx.levels, ctx.saved
        n = dh_out.size(0)
        dstate = dh_out.new_zeros(2, n + 1, cell.h)  # dL/d[h; c], complete for a level once its parents are done
        dstate[0, :n] = dh_out
        dstate[1, :n] = dc_out
        dz: list[torch.Tensor] = []
        terms: list[list[tuple[torch.Tensor, ...]]] = [[] for _ in cell.blocks]
        for k in range(len(levels) - 1, -1, -1):
            nodes, children = levels[k]
            d = dstate[:, nodes]  # (2, M, H)
            if k == 0:
                dz.append(cell.leaves_backward(saved[k], d[0], d[1]))
                continue
            dz_k, dhk, dck, pairs = cell.backward(saved[k], d[0], d[1], u)
            flat = children.reshape(-1)  # pads add into row N, never read
            dstate[0].index_add_(0, flat, dhk.reshape(-1, cell.h))
            dstate[1].index_add_(0, flat, dck.reshape(-1, cell.h))
            dz.append(dz_k)
            for block, pair in zip(terms, pairs):
                block.append(pair)
        du = torch.zeros_like(u)
        for (start, stop), block in zip(cell.blocks, terms):
            if block:  # one product over all levels
                du[start:stop] = torch.cat([a for a, _ in block]).t() @ torch.cat([b for _, b in block])
        return torch.cat(dz[::-1]), du, None, None, None


class _TreeLSTM(nn.Module):
    """Parameters, initialisation and the call; subclasses choose the cell and U's shape."""

    def __init__(self, input_size: int, hidden_size: int, cell: _Cell, u_shape: tuple[int, int]) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"invalid sizes: input_size={input_size}, hidden_size={hidden_size}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.output_size = hidden_size
        self.cell = cell
        self.W = nn.Linear(input_size, 4 * hidden_size)  # rows i, o, u, f
        self.U = nn.Parameter(torch.empty(*u_shape))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -r, r)
        with torch.no_grad():
            self.W.bias[3 * self.hidden_size :].fill_(1.0)  # b_f

    def _inputs(self, wx: torch.Tensor) -> torch.Tensor:
        """W x + b as the cell reads it: (N', 4H) -> (N', G)."""
        return wx

    def forward(self, x: torch.Tensor, levels: list[tuple[torch.Tensor, torch.Tensor]]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 2 or x.size(1) != self.input_size:
            raise ValueError(f"invalid input shape: {tuple(x.shape)} (expected (N, {self.input_size}))")
        n = x.size(0)
        if not levels:
            return x.new_zeros(n, self.hidden_size), x.new_zeros(n, self.hidden_size)
        order = torch.cat([nodes for nodes, _ in levels])  # (N',) the nodes level by level
        wx = self._inputs(self.W(x.index_select(0, order)))
        with torch.autocast(x.device.type, enabled=False):
            return _TreeRecurrence.apply(wx.to(self.U.dtype), self.U, levels, n, self.cell)


class ChildSumTreeLSTM(_TreeLSTM):
    """The Child-Sum Tree-LSTM (module docstring): `forward(x (N, E), levels) -> h, c (N, H)`,
    `children` padded to any width K.

    On a chain (every node one child) h~ = h_child and there is one forget gate: it equals
    torch's `nn.LSTM` run leaf first, x_t the node's input and h_{t-1}, c_{t-1} the child's
    h, c (zero at the leaf), when weight_ih = W, weight_hh = U and bias_ih + bias_hh = b
    (rows permuted from our i, o, u, f to the LSTM's i, f, g, o).

    Parameters: `W.weight` (4H, E) and `W.bias` (4H,), rows i, o, u, f; `U` (4H, H) in
    the same order (U_i, U_o, U_u multiply h~, U_f each h_k)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, _ChildSumCell(hidden_size), (4 * hidden_size, hidden_size))


class BinaryTreeLSTM(_TreeLSTM):
    """The binary (N-ary, N = 2) Tree-LSTM (module docstring): `forward(x (N, E), levels)
    -> h, c (N, H)`; `children` (M, 2), left then right, the pad N where a node has fewer
    than two children.

    On a chain of left children (the right one always the pad) it equals torch's
    `nn.LSTM` run leaf first, x_t the node's input and h_{t-1}, c_{t-1} the child's h, c
    (zero at the leaf), when weight_ih = W, bias_ih + bias_hh = b, and weight_hh =
    U_i, U_o, U_u^(left) and U_f^(left,left) (rows permuted to the LSTM's i, f, g, o).

    Parameters: `W.weight` (4H, E) and `W.bias` (4H,), rows i, o, u, f (W_f and b_f
    shared by both forget gates, as in the paper); `U` (5H, 2H), rows i, o, u, f_left,
    f_right, columns [h_left; h_right]: U_f^(k,l) is the block at rows f_k, columns l."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__(input_size, hidden_size, _BinaryCell(hidden_size), (5 * hidden_size, 2 * hidden_size))

    def _inputs(self, wx: torch.Tensor) -> torch.Tensor:
        return torch.cat([wx, wx[:, 3 * self.hidden_size :]], 1)  # (N', 5H): W_f x + b_f for both children

    def forward(self, x: torch.Tensor, levels: list[tuple[torch.Tensor, torch.Tensor]]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        for _, children in levels:
            if children.dim() != 2 or children.size(1) != 2:
                raise ValueError(f"invalid children shape: {tuple(children.shape)} (expected (M, 2))")
        return super().forward(x, levels)


# --tree-cell name -> module (`ClassifierConfig.tree_cell`).
TREE_CELLS: dict[str, type[nn.Module]] = {"binary": BinaryTreeLSTM, "child-sum": ChildSumTreeLSTM}
