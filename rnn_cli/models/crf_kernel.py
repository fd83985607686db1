"""The CRF's forward algorithm and its gradient (the forward-backward marginals) as one
compiled loop per sentence: the training loss's log Z without a small PyTorch
operation per time step. `crf.py` uses it on the CPU; elsewhere, or where it cannot be
built, its own loop with autograd runs.

For one sentence with n real steps, emissions e (n, T) and the constrained scores
trans (T, T), start (T) and end (T) (-inf where forbidden):

    alpha_0 = start + e_0          alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + trans[i, j]) + e_t[j]
    log Z = logsumexp_j(alpha_{n-1}[j] + end[j])
    beta_{n-1} = end               beta_t[i] = logsumexp_j(trans[i, j] + e_{t+1}[j] + beta_{t+1}[j])

and the gradient of log Z is the marginals: d/de_t[j] = exp(alpha_t[j] + beta_t[j] - log Z)
(also d/dstart at t = 0 and d/dend at t = n - 1), d/dtrans[i, j] = sum over t >= 1 of
exp(alpha_{t-1}[i] + trans[i, j] + e_t[j] + beta_t[j] - log Z). A sentence with no
allowed sequence (log Z = -inf) gets a zero gradient, as `crf.py`'s loop gives it.
Padding steps (mask false) are never read and get a zero gradient.

Built once per machine with `torch.utils.cpp_extension` (`kernels.py`); without
-ffast-math, since -inf is a value here. The tests compare it with the PyTorch loop and
check its gradients against finite differences."""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd.function import once_differentiable

from rnn_cli.models.kernels import build, working_dtype

CPP = r"""
#include <torch/extension.h>
#include <cmath>
#include <limits>
#include <vector>

// log(sum_i exp(v[i])) over n values, -inf when all are -inf.
template <typename S> static inline S lse(const S *v, int64_t n) {
  S m = -std::numeric_limits<S>::infinity();
  for (int64_t i = 0; i < n; ++i) m = v[i] > m ? v[i] : m;
  if (m == -std::numeric_limits<S>::infinity()) return m;
  S s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::exp(v[i] - m);
  return m + std::log(s);
}

// e (B, L, T), mask (B, L) left-aligned; trans (T, T), start and end (T,) -> log Z (B,), alphas (B, L, T).
std::vector<torch::Tensor> crf_forward(torch::Tensor e, torch::Tensor mask, torch::Tensor trans,
                                       torch::Tensor start, torch::Tensor end) {
  const int64_t B = e.size(0), L = e.size(1), T = e.size(2);
  auto logz = torch::empty({B}, e.options());
  auto alphas = torch::empty({B, L, T}, e.options());
  AT_DISPATCH_FLOATING_TYPES(e.scalar_type(), "crf_forward", [&] {
    using S = scalar_t;
    const S *tr = trans.data_ptr<S>(), *st = start.data_ptr<S>(), *en = end.data_ptr<S>();
    std::vector<S> tmp(T);
    for (int64_t b = 0; b < B; ++b) {
      const S *E = e.data_ptr<S>() + b * L * T;
      const uint8_t *M = mask.data_ptr<uint8_t>() + b * L;
      S *A = alphas.data_ptr<S>() + b * L * T;
      int64_t n = 0;
      while (n < L && M[n]) ++n;
      for (int64_t j = 0; j < T; ++j) A[j] = st[j] + E[j];
      for (int64_t t = 1; t < n; ++t) {
        const S *ap = A + (t - 1) * T;
        for (int64_t j = 0; j < T; ++j) {
          for (int64_t i = 0; i < T; ++i) tmp[i] = ap[i] + tr[i * T + j];
          A[t * T + j] = lse(tmp.data(), T) + E[t * T + j];
        }
      }
      for (int64_t j = 0; j < T; ++j) tmp[j] = A[(n - 1) * T + j] + en[j];
      logz.data_ptr<S>()[b] = lse(tmp.data(), T);
    }
  });
  return {logz, alphas};
}

// The gradients of e, trans, start and end, given that of log Z (B,).
std::vector<torch::Tensor> crf_backward(torch::Tensor glogz, torch::Tensor e, torch::Tensor mask,
                                        torch::Tensor trans, torch::Tensor end, torch::Tensor alphas,
                                        torch::Tensor logz) {
  const int64_t B = e.size(0), L = e.size(1), T = e.size(2);
  auto ge = torch::zeros_like(e);
  auto gtrans = torch::zeros_like(trans);
  auto gstart = torch::zeros({T}, e.options()), gend = torch::zeros({T}, e.options());
  AT_DISPATCH_FLOATING_TYPES(e.scalar_type(), "crf_backward", [&] {
    using S = scalar_t;
    const S ninf = -std::numeric_limits<S>::infinity();
    const S *tr = trans.data_ptr<S>(), *en = end.data_ptr<S>();
    S *gtr = gtrans.data_ptr<S>(), *gst = gstart.data_ptr<S>(), *gen = gend.data_ptr<S>();
    std::vector<S> beta(T), nbeta(T), w(T), tmp(T);
    for (int64_t b = 0; b < B; ++b) {
      const S g = glogz.data_ptr<S>()[b], lz = logz.data_ptr<S>()[b];
      if (g == S(0) || lz == ninf) continue;
      const S *E = e.data_ptr<S>() + b * L * T, *A = alphas.data_ptr<S>() + b * L * T;
      const uint8_t *M = mask.data_ptr<uint8_t>() + b * L;
      S *GE = ge.data_ptr<S>() + b * L * T;
      int64_t n = 0;
      while (n < L && M[n]) ++n;
      for (int64_t j = 0; j < T; ++j) beta[j] = en[j];
      for (int64_t t = n - 1; t >= 0; --t) {
        for (int64_t j = 0; j < T; ++j) {
          const S p = g * std::exp(A[t * T + j] + beta[j] - lz);
          GE[t * T + j] = p;
          if (t == n - 1) gen[j] += p;
          if (t == 0) gst[j] += p;
        }
        if (t == 0) break;
        for (int64_t j = 0; j < T; ++j) w[j] = E[t * T + j] + beta[j];
        const S *ap = A + (t - 1) * T;
        for (int64_t i = 0; i < T; ++i) {
          const S *row = tr + i * T;
          for (int64_t j = 0; j < T; ++j) {
            tmp[j] = row[j] + w[j];
            gtr[i * T + j] += g * std::exp(ap[i] + tmp[j] - lz);
          }
          nbeta[i] = lse(tmp.data(), T);
        }
        std::swap(beta, nbeta);
      }
    }
  });
  return {ge, gtrans, gstart, gend};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &crf_forward, "CRF forward algorithm: log Z and the alphas");
  m.def("backward", &crf_backward, "CRF log Z gradient: the marginals");
}
"""


NAME = "rnn_cli_crf_v2"


def compiled() -> Any | None:
    """The compiled loop (None where it cannot be built, or where RNN_CLI_CRF_KERNEL=python
    asks for the PyTorch loop)."""
    return build(NAME, CPP, "RNN_CLI_CRF_KERNEL", "the CRF", ("-O3", "-march=native"))


class _LogPartition(torch.autograd.Function):
    @staticmethod
    def forward(ctx, emissions, mask, trans, start, end):  # type: ignore[override]
        log_z, alphas = compiled().forward(emissions, mask, trans, start, end)
        ctx.save_for_backward(emissions, mask, trans, end, alphas, log_z)
        return log_z

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):  # type: ignore[override]
        emissions, mask, trans, end, alphas, log_z = ctx.saved_tensors
        ge, gt, gs, gend = compiled().backward(grad.contiguous(), emissions, mask, trans, end, alphas, log_z)
        return ge, None, gt, gs, gend


def usable(emissions: torch.Tensor) -> bool:
    """Whether `log_partition` runs compiled for these emissions."""
    return emissions.device.type == "cpu" and compiled() is not None


def log_partition(emissions: torch.Tensor, mask: torch.Tensor, trans: torch.Tensor, start: torch.Tensor,
                  end: torch.Tensor) -> torch.Tensor:
    """log Z (B,) of emissions (B, L, T) under a left-aligned bool mask (B, L) and the
    constrained scores, through the compiled loop (float64 stays float64, other types
    run in float32, and so does the result: a log Z in the hundreds has no digits to
    spare in bfloat16)."""
    dtype = working_dtype(emissions)
    return _LogPartition.apply(emissions.to(dtype).contiguous(), mask.to(torch.uint8).contiguous(),
                                trans.to(dtype).contiguous(), start.to(dtype).contiguous(), end.to(dtype).contiguous())
