"""The element-wise recurrence of the SRU (Lei et al. 2018), forward and backward, as
one compiled loop over time: every product with a weight matrix happens before it, for
all time steps at once (`sru.py`), so a step is a few vectorised multiply-adds per unit.

For direction d, time t, row b and unit j (dropping the indices d, b, j):

    f_t = sigmoid(uf_t + v_f * c_{t-1} + b_f)      r_t = sigmoid(ur_t + v_r * c_{t-1} + b_r)
    c_t = f_t * c_{t-1} + (1 - f_t) * ux_t         h_t = r_t * tanh(c_t) + (1 - r_t) * xh_t

where `mask[t, b]` is false (padding) c_t = c_{t-1} and h_t = 0. Layouts: u (D, T, B,
K, H) holds ux, uf, ur and, when K = 4, xh; otherwise xh (D, T, B, H) is given apart;
v and b (D, 2, H) hold (v_f, v_r) and (b_f, b_r); c0 (D, B, H).

The C++ loop is compiled once per machine with `torch.utils.cpp_extension` (g++ and
ninja; cached in torch's extensions folder, about 30 s the first time an SRU runs);
where it cannot be built, `reference` (the same loop in PyTorch, one step at a time,
autograd doing the backward) is used after a warning. The tests compare the two, and
check the compiled gradients against finite differences."""

from __future__ import annotations

from typing import Any

import torch

from rnn_cli.models.kernels import build, working_dtype

CPP = r"""
#include <torch/extension.h>
#include <cmath>
#include <vector>

// -ffast-math assumes no infinities: exp and tanh of a large argument (|x| > 44 or so in
// float) overflow into NaN. The arguments are clamped where the functions have reached
// their limits in float and double alike (sigmoid(80) and tanh(40) round to 1).
template <typename S> static inline S clamp(S x, S limit) { return x < -limit ? -limit : (x > limit ? limit : x); }
template <typename S> static inline S sigm(S x) { return S(1) / (S(1) + std::exp(-clamp(x, S(80)))); }
template <typename S> static inline S tanh_(S x) { return std::tanh(clamp(x, S(40))); }

// One direction: U (T, B, K, H), X (T, B, H) highway input (may point into U), V, Bs (2, H), C0 (B, H),
// M (T, B); writes Hout and C (T, B, H).
template <typename S>
static void forward_dir(const S *U, const S *X, int64_t xs, const S *V, const S *Bs, const S *C0,
                        const uint8_t *M, S *Hout, S *C, int64_t T, int64_t B, int64_t K, int64_t H) {
  const S *vf = V, *vr = V + H, *bf = Bs, *br = Bs + H;
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) {
      const S *prev = t == 0 ? C0 + b * H : C + ((t - 1) * B + b) * H;
      S *ct = C + (t * B + b) * H, *ht = Hout + (t * B + b) * H;
      if (!M[t * B + b]) {
        for (int64_t j = 0; j < H; ++j) { ct[j] = prev[j]; ht[j] = S(0); }
        continue;
      }
      const S *ux = U + (t * B + b) * K * H, *uf = ux + H, *ur = uf + H, *x = X + (t * B + b) * xs;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const S cp = prev[j];
        const S f = sigm(uf[j] + vf[j] * cp + bf[j]);
        const S r = sigm(ur[j] + vr[j] * cp + br[j]);
        const S cn = f * cp + (S(1) - f) * ux[j];
        ct[j] = cn;
        ht[j] = r * tanh_(cn) + (S(1) - r) * x[j];
      }
    }
  }
}

template <typename S>
static void backward_dir(const S *GH, S *GC, const S *U, const S *X, int64_t xs, const S *V, const S *Bs,
                         const S *C0, const S *C, const uint8_t *M, S *GU, S *GX, int64_t gxs, S *GV, S *GB,
                         int64_t T, int64_t B, int64_t K, int64_t H) {
  const S *vf = V, *vr = V + H, *bf = Bs, *br = Bs + H;
  S *gvf = GV, *gvr = GV + H, *gbf = GB, *gbr = GB + H;
  for (int64_t t = T - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      S *gux = GU + (t * B + b) * K * H, *guf = gux + H, *gur = guf + H, *gxt = GX + (t * B + b) * gxs;
      if (!M[t * B + b]) {  // c_t = c_{t-1}: the carried gradient passes unchanged, nothing else has one
        for (int64_t j = 0; j < 3 * H; ++j) gux[j] = S(0);
        for (int64_t j = 0; j < H; ++j) gxt[j] = S(0);
        continue;
      }
      const S *prev = t == 0 ? C0 + b * H : C + ((t - 1) * B + b) * H;
      const S *ct = C + (t * B + b) * H, *ght = GH + (t * B + b) * H;
      const S *ux = U + (t * B + b) * K * H, *uf = ux + H, *ur = uf + H, *x = X + (t * B + b) * xs;
      S *gc = GC + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const S cp = prev[j];
        const S f = sigm(uf[j] + vf[j] * cp + bf[j]);
        const S r = sigm(ur[j] + vr[j] * cp + br[j]);
        const S g = tanh_(ct[j]);
        const S dh = ght[j];
        const S dc = gc[j] + dh * r * (S(1) - g * g);
        const S dfp = dc * (cp - ux[j]) * f * (S(1) - f);
        const S drp = dh * (g - x[j]) * r * (S(1) - r);
        gux[j] = dc * (S(1) - f);
        guf[j] = dfp;
        gur[j] = drp;
        gxt[j] = dh * (S(1) - r);
        gvf[j] += dfp * cp;
        gvr[j] += drp * cp;
        gbf[j] += dfp;
        gbr[j] += drp;
        gc[j] = dc * f + dfp * vf[j] + drp * vr[j];
      }
    }
  }
}

// u (D, T, B, K, H); xh (D, T, B, H) or empty when K == 4; v, b (D, 2, H); c0 (D, B, H); mask (T, B).
std::vector<torch::Tensor> sru_forward(torch::Tensor u, torch::Tensor xh, torch::Tensor v, torch::Tensor b,
                                       torch::Tensor c0, torch::Tensor mask) {
  const int64_t D = u.size(0), T = u.size(1), B = u.size(2), K = u.size(3), H = u.size(4);
  auto h = torch::empty({D, T, B, H}, u.options());
  auto c = torch::empty({D, T, B, H}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "sru_forward", [&] {
    for (int64_t d = 0; d < D; ++d) {
      const scalar_t *U = u.data_ptr<scalar_t>() + d * T * B * K * H;
      const scalar_t *X = K == 4 ? U + 3 * H : xh.data_ptr<scalar_t>() + d * T * B * H;
      forward_dir<scalar_t>(U, X, K == 4 ? K * H : H, v.data_ptr<scalar_t>() + d * 2 * H,
                            b.data_ptr<scalar_t>() + d * 2 * H, c0.data_ptr<scalar_t>() + d * B * H,
                            mask.data_ptr<uint8_t>(), h.data_ptr<scalar_t>() + d * T * B * H,
                            c.data_ptr<scalar_t>() + d * T * B * H, T, B, K, H);
    }
  });
  return {h, c};
}

// The gradients of u, xh (empty when K == 4: inside u's), v, b and c0, given those of h and of the last c.
std::vector<torch::Tensor> sru_backward(torch::Tensor gh, torch::Tensor gc_last, torch::Tensor u, torch::Tensor xh,
                                        torch::Tensor v, torch::Tensor b, torch::Tensor c0, torch::Tensor c,
                                        torch::Tensor mask) {
  const int64_t D = u.size(0), T = u.size(1), B = u.size(2), K = u.size(3), H = u.size(4);
  auto gu = torch::empty_like(u);
  auto gx = K == 4 ? torch::empty({0}, u.options()) : torch::empty_like(xh);
  auto gv = torch::zeros_like(v), gb = torch::zeros_like(b);
  auto gc = gc_last.clone();  // d loss / d c_t, carried backwards
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "sru_backward", [&] {
    for (int64_t d = 0; d < D; ++d) {
      const scalar_t *U = u.data_ptr<scalar_t>() + d * T * B * K * H;
      const scalar_t *X = K == 4 ? U + 3 * H : xh.data_ptr<scalar_t>() + d * T * B * H;
      scalar_t *GU = gu.data_ptr<scalar_t>() + d * T * B * K * H;
      scalar_t *GX = K == 4 ? GU + 3 * H : gx.data_ptr<scalar_t>() + d * T * B * H;
      backward_dir<scalar_t>(gh.data_ptr<scalar_t>() + d * T * B * H, gc.data_ptr<scalar_t>() + d * B * H, U, X,
                             K == 4 ? K * H : H, v.data_ptr<scalar_t>() + d * 2 * H,
                             b.data_ptr<scalar_t>() + d * 2 * H, c0.data_ptr<scalar_t>() + d * B * H,
                             c.data_ptr<scalar_t>() + d * T * B * H, mask.data_ptr<uint8_t>(), GU, GX,
                             K == 4 ? K * H : H, gv.data_ptr<scalar_t>() + d * 2 * H,
                             gb.data_ptr<scalar_t>() + d * 2 * H, T, B, K, H);
    }
  });
  return {gu, gx, gv, gb, gc};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &sru_forward, "SRU recurrence, forward");
  m.def("backward", &sru_backward, "SRU recurrence, backward");
}
"""

# -ffast-math lets g++ vectorise exp and tanh (glibc's vector math library); "omp simd" says
# the rows of one step are independent. -march=native: the build is per machine (torch's cache).
CFLAGS = ("-O3", "-march=native", "-ffast-math", "-fopenmp-simd")


NAME = "rnn_cli_sru_v6"


def compiled() -> Any | None:
    """The compiled loop, built once per machine (None where it cannot be built, or where
    RNN_CLI_SRU_KERNEL=python asks for the PyTorch loop)."""
    return build(NAME, CPP, "RNN_CLI_SRU_KERNEL", "the SRU", CFLAGS)


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, xh, v, b, c0, mask):  # type: ignore[override]
        h, c = compiled().forward(u, xh, v, b, c0, mask)
        ctx.save_for_backward(u, xh, v, b, c0, c, mask)
        return h, c[:, -1]

    @staticmethod
    def backward(ctx, gh, gc):  # type: ignore[override]
        u, xh, v, b, c0, c, mask = ctx.saved_tensors
        gu, gx, gv, gb, gc0 = compiled().backward(gh.contiguous(), gc.contiguous(), u, xh, v, b, c0, c, mask)
        return gu, (gx if xh.numel() else None), gv, gb, gc0, None


def recurrence(u: torch.Tensor, xh: torch.Tensor | None, v: torch.Tensor, b: torch.Tensor, c0: torch.Tensor,
               mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """h (D, T, B, H) and the last states c (D, B, H) (see the module docstring; `xh`
    None when u holds it). On the CPU through the compiled loop (float64 stays float64,
    other types run in float32), else `reference`."""
    if u.device.type == "cpu" and compiled() is not None:
        dtype = working_dtype(u)
        x = xh.to(dtype).contiguous() if xh is not None else u.new_empty(0, dtype=dtype)
        h, c = _Recurrence.apply(u.to(dtype).contiguous(), x, v.to(dtype).contiguous(), b.to(dtype).contiguous(),
                                 c0.to(dtype).contiguous(), mask.to(torch.uint8).contiguous())
        return h.to(u.dtype), c.to(u.dtype)
    return reference(u, xh, v, b, c0, mask)


def reference(u: torch.Tensor, xh: torch.Tensor | None, v: torch.Tensor, b: torch.Tensor, c0: torch.Tensor,
              mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The recurrence one step at a time in PyTorch (autograd for the backward)."""
    if xh is None:
        xh = u[:, :, :, 3]
    outs = [direction_loop(u[d], xh[d], v[d], b[d], c0[d], mask) for d in range(u.size(0))]
    return torch.stack([h for h, _ in outs]), torch.stack([c for _, c in outs])


def direction_loop(u: torch.Tensor, xh: torch.Tensor, v: torch.Tensor, b: torch.Tensor, c: torch.Tensor,
                   mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One direction of the recurrence, a step at a time, in operations TorchScript
    compiles (the portable networks run it): u (T, B, 3+, H), xh (T, B, H), v and b
    (2, H), c (B, H), mask (T, B) -> h (T, B, H), the last c (B, H)."""
    hs = []
    for t in range(u.size(0)):
        f = torch.sigmoid(u[t, :, 1] + v[0] * c + b[0])
        r = torch.sigmoid(u[t, :, 2] + v[1] * c + b[1])
        new = f * c + (1 - f) * u[t, :, 0]
        h = r * torch.tanh(new) + (1 - r) * xh[t]
        keep = mask[t].unsqueeze(1)
        c = torch.where(keep, new, c)
        hs.append(torch.where(keep, h, torch.zeros_like(h)))
    return torch.stack(hs), c
