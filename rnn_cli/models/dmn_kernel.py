"""The DMN+ attention GRU's loop over the facts (`dmn.AttentionGRU`), forward and
backward, compiled: one pass over F facts is F small matrix products that depend on
each other, and in PyTorch each step also costs about ten operations with autograd's
bookkeeping (three passes over 70 facts: 126 ms a batch of 32, forward and backward,
most of a bAbI task's training time).

For fact i, row b (dropping b), with the input projections x_i = [xr_i; xn_i] (biases
included) computed before the loop, the recurrent weights U = [U_r; U_n] (2H, H), their
bias c = [c_r; c_n] and the gate g_i:

    [hr_i; hn_i] = U h_{i-1} + c        r_i = sigmoid(xr_i + hr_i)
    n_i = tanh(xn_i + r_i * hn_i)       h_i = g_i * n_i + (1 - g_i) * h_{i-1},    h_0 = 0

and the episode is h_F. The backward runs the same steps in reverse with dh (B, H):

    dg_i = sum_j dh (n_i - h_{i-1})     dn = dh g_i (1 - n_i^2)      dr = dn hn_i r_i (1 - r_i)
    dx_i = [dr; dn]    da_i = [dr; dn r_i]    dh <- dh (1 - g_i) + da_i U

then dU = sum_i da_i^T h_{i-1} and dc = sum_i da_i as two products over every step at
once. A padding fact has g = 0: it leaves h as it is and gets no gradient but dg.

The forward's sigmoid and tanh are ATen's vectorised ones, called once a step on the
whole (B, H) block; the rest of a step is plain loops the compiler vectorises. Built
once per machine with `torch.utils.cpp_extension` (`kernels.py`); where it cannot
be built, `AttentionGRU`'s own loop runs. The tests compare the two and check these
gradients against finite differences."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from rnn_cli.models.kernels import build, working_dtype

CPP = r"""
#include <torch/extension.h>
#include <cmath>
#include <vector>

// xs (B, F, 2H), g (B, F), U (2H, H), c (2H) -> hs (F + 1, B, H) with hs[0] = 0, and r, n, hn (F, B, H).
std::vector<torch::Tensor> agru_forward(torch::Tensor xs, torch::Tensor g, torch::Tensor U, torch::Tensor c) {
  const int64_t B = xs.size(0), F = xs.size(1), H = U.size(1);
  auto hs = torch::zeros({F + 1, B, H}, xs.options());
  auto rs = torch::empty({F, B, H}, xs.options());
  auto ns = torch::empty({F, B, H}, xs.options());
  auto hns = torch::empty({F, B, H}, xs.options());
  auto a = torch::empty({B, 2 * H}, xs.options());
  auto Ut = U.t();
  AT_DISPATCH_FLOATING_TYPES(xs.scalar_type(), "agru_forward", [&] {
    using S = scalar_t;
    const S *X = xs.data_ptr<S>(), *G = g.data_ptr<S>(), *A = a.data_ptr<S>();
    S *HS = hs.data_ptr<S>(), *R = rs.data_ptr<S>(), *N = ns.data_ptr<S>(), *HN = hns.data_ptr<S>();
    for (int64_t i = 0; i < F; ++i) {
      at::addmm_out(a, c, hs.select(0, i), Ut);
      // Plain arithmetic in loops the compiler vectorises; sigmoid and tanh through ATen's
      // vectorised kernels, once a step over the whole (B, H) block.
      auto r_i = rs.select(0, i), n_i = ns.select(0, i);
      S *r = R + i * B * H, *n = N + i * B * H, *hn = HN + i * B * H;
      for (int64_t b = 0; b < B; ++b) {
        const S *x = X + (b * F + i) * 2 * H, *ab = A + b * 2 * H;
        for (int64_t j = 0; j < H; ++j) r[b * H + j] = x[j] + ab[j];
      }
      r_i.sigmoid_();
      for (int64_t b = 0; b < B; ++b) {
        const S *x = X + (b * F + i) * 2 * H, *ab = A + b * 2 * H;
        for (int64_t j = 0; j < H; ++j) {
          hn[b * H + j] = ab[H + j];
          n[b * H + j] = x[H + j] + r[b * H + j] * ab[H + j];
        }
      }
      n_i.tanh_();
      for (int64_t b = 0; b < B; ++b) {
        const S gb = G[b * F + i];
        const S *hp = HS + (i * B + b) * H, *nb = n + b * H;
        S *h = HS + ((i + 1) * B + b) * H;
        for (int64_t j = 0; j < H; ++j) h[j] = gb * nb[j] + (S(1) - gb) * hp[j];
      }
    }
  });
  return {hs, rs, ns, hns};
}

// The gradients of xs, g, U and c, given that of h_F (B, H).
std::vector<torch::Tensor> agru_backward(torch::Tensor gh, torch::Tensor g, torch::Tensor U, torch::Tensor hs,
                                         torch::Tensor rs, torch::Tensor ns, torch::Tensor hns) {
  const int64_t F = rs.size(0), B = rs.size(1), H = rs.size(2);
  auto gxs = torch::empty({B, F, 2 * H}, gh.options());
  auto gg = torch::empty({B, F}, gh.options());
  auto da = torch::empty({F, B, 2 * H}, gh.options());
  auto dh = gh.clone();
  auto dprev = torch::empty({B, H}, gh.options());
  AT_DISPATCH_FLOATING_TYPES(gh.scalar_type(), "agru_backward", [&] {
    using S = scalar_t;
    const S *G = g.data_ptr<S>(), *HS = hs.data_ptr<S>(), *R = rs.data_ptr<S>(), *N = ns.data_ptr<S>();
    const S *HN = hns.data_ptr<S>();
    S *GX = gxs.data_ptr<S>(), *GG = gg.data_ptr<S>(), *DA = da.data_ptr<S>(), *DP = dprev.data_ptr<S>();
    for (int64_t i = F - 1; i >= 0; --i) {
      const S *D = dh.data_ptr<S>();
      for (int64_t b = 0; b < B; ++b) {
        const S gb = G[b * F + i];
        const int64_t k = (i * B + b) * H;
        const S *d = D + b * H, *hp = HS + k, *r = R + k, *n = N + k, *hn = HN + k;
        S *gx = GX + (b * F + i) * 2 * H, *a = DA + (i * B + b) * 2 * H, *dp = DP + b * H;
        S dg = 0;
        for (int64_t j = 0; j < H; ++j) {
          dg += d[j] * (n[j] - hp[j]);
          const S dn = d[j] * gb * (S(1) - n[j] * n[j]);
          const S dr = dn * hn[j] * r[j] * (S(1) - r[j]);
          gx[j] = dr;
          gx[H + j] = dn;
          a[j] = dr;
          a[H + j] = dn * r[j];
          dp[j] = d[j] * (S(1) - gb);
        }
        GG[b * F + i] = dg;
      }
      at::addmm_out(dh, dprev, da.select(0, i), U);
    }
  });
  auto flat = da.view({F * B, 2 * H});
  auto gU = flat.t().mm(hs.narrow(0, 0, F).reshape({F * B, H}));
  auto gc = flat.sum(0);
  return {gxs, gg, gU, gc};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &agru_forward, "DMN+ attention GRU over the facts: the states");
  m.def("backward", &agru_backward, "DMN+ attention GRU over the facts: the gradients");
}
"""

NAME = "rnn_cli_attention_gru_v2"


def compiled() -> Any | None:
    """The compiled loop (None where it cannot be built, or where
    RNN_CLI_DMN_KERNEL=python asks for the PyTorch loop)."""
    return build(NAME, CPP, "RNN_CLI_DMN_KERNEL", "the DMN's attention GRU", ("-O3", "-march=native"))


class _AttentionGRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xs, gates, weight, bias):  # type: ignore[override]
        hs, rs, ns, hns = compiled().forward(xs, gates, weight, bias)
        ctx.save_for_backward(gates, weight, hs, rs, ns, hns)
        return hs[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        gates, weight, hs, rs, ns, hns = ctx.saved_tensors
        gxs, gg, gw, gb = compiled().backward(grad.contiguous(), gates, weight, hs, rs, ns, hns)
        return gxs, gg, gw, gb


def usable(xs: torch.Tensor) -> bool:
    """Whether `attention_gru` runs compiled for these inputs."""
    return xs.device.type == "cpu" and compiled() is not None


def attention_gru(xs: torch.Tensor, gates: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The last state h_F (B, H) of the attention GRU (module docstring) over the input
    projections xs (B, F, 2H) with gates (B, F), from h_0 = 0, in xs's dtype (float64
    runs in float64, other types in float32)."""
    dtype = working_dtype(xs)
    h = _AttentionGRU.apply(xs.to(dtype).contiguous(), gates.to(dtype).contiguous(), weight.to(dtype).contiguous(),
                            bias.to(dtype).contiguous())
    return h.to(xs.dtype)
