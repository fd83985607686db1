"""Dynamic Memory Network for question answering over stories (bAbI): Kumar et al. 2016
(DMN), with the input module and memory of DMN+ (Xiong, Merity & Socher 2016).

    story words ──input module──> facts f_1..f_F (B, F, H) ──┐
    question words ──GRU──> q (B, H) ────────────────────────┤
                                                             v
    m_0 = q;  for t in 1..passes:  g = softmax_i(gate(f_i, q, m_{t-1}))    (B, F)
                                   c_t = attention GRU over f with gates g (B, H)
                                   m_t = update(m_{t-1}, c_t, q)           (B, H)
    answer: Linear(dropout([m_T; q])) -> logits over the answers           (B, C)

The gates are what `classify --explain` shows; with `supervise_facts` they are also
trained towards the supporting facts, pass t towards the t-th one (Kumar et al. 2016).

Init: embeddings uniform(±sqrt(3/E)) with a zero padding row, as `Classifier`; linear
and GRU input weights xavier-uniform; GRU recurrent weights orthogonal per gate block
(Saxe et al. 2014), which keeps the fact and question recurrences stable early on;
biases zero."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnn_cli.batches import StoryBatch
from rnn_cli.models import dmn_kernel, kernels
from rnn_cli.models.base import Loss
from rnn_cli.models.classifier import Classifier
from rnn_cli.models.dropout import Dropout


@dataclass
class DMNConfig:
    vocab_size: int
    num_labels: int  # answers (a list answer such as "apple,football" is one label)
    embedding_size: int = 80
    hidden_size: int = 80
    passes: int = 3  # episodic memory passes
    fact_encoder: str = "pe-bigru"  # a FACT_ENCODERS key
    memory_update: str = "relu"  # a MEMORY_UPDATES key
    dropout: float = 0.1
    supervise_facts: bool = False  # add the gates' cross-entropy against the supporting facts
    fact_weight: float = 1.0  # weight of that term
    freeze_embeddings: bool = False  # keep the word vectors as initialised (e.g. pretrained ones)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "num_labels", "embedding_size", "hidden_size", "passes"):
            if getattr(self, name) < 1:
                raise ValueError(f"invalid {name}: {getattr(self, name)}")
        if self.fact_encoder not in FACT_ENCODERS:
            raise ValueError(f"invalid fact encoder: {self.fact_encoder!r} (choose from {', '.join(FACT_ENCODERS)})")
        if self.memory_update not in MEMORY_UPDATES:
            raise ValueError(
                f"invalid memory update: {self.memory_update!r} (choose from {', '.join(MEMORY_UPDATES)})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"invalid dropout: {self.dropout}")
        if self.fact_weight < 0.0:
            raise ValueError(f"invalid fact weight: {self.fact_weight}")


def init_gru(gru: nn.GRU | nn.GRUCell) -> None:
    """Xavier input weights, orthogonal recurrent blocks (r, z, n), zero biases."""
    for name, p in gru.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(p)
        elif name.startswith("weight_hh"):
            for block in p.data.chunk(3, 0):
                nn.init.orthogonal_(block)
        else:
            nn.init.zeros_(p)


def linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def positional_encoding(lengths: torch.Tensor, width: int, dim: int, dtype: torch.dtype = torch.float32
                        ) -> torch.Tensor:
    """Sukhbaatar et al. 2015's weights l_kj = (1 - j/J) - (k/d)(1 - 2j/J), j = 1..J over
    a sentence's J real words, k = 1..d over the embedding: lengths (...) -> (..., width,
    dim), zero past each length."""
    device = lengths.device
    j = torch.arange(1, width + 1, device=device, dtype=dtype)  # (W,)
    big_j = lengths.to(dtype)[..., None]  # (..., 1)
    ratio = j / big_j.clamp(min=1.0)  # (..., W)
    k = torch.arange(1, dim + 1, device=device, dtype=dtype) / dim  # (d,)
    weights = (1.0 - ratio)[..., None] - k * (1.0 - 2.0 * ratio)[..., None]  # (..., W, d)
    return weights * (j <= big_j).to(dtype)[..., None]


class WordGRUFacts(nn.Module):
    """DMN's input module: one GRU over the story's words, facts concatenated (real tokens
    only); a fact is the state at its last word."""

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.gru = nn.GRU(config.embedding_size, config.hidden_size, batch_first=True)
        init_gru(self.gru)

    def forward(self, x: torch.Tensor, fact_lengths: torch.Tensor, num_facts: torch.Tensor) -> torch.Tensor:
        """Embedded words (B, F, W, E) -> facts (B, F, H), zeros at padding facts."""
        b, f, w, e = x.shape
        lengths = fact_lengths.to(x.device)
        real = (torch.arange(w, device=x.device) < lengths[..., None]).view(b, f * w)  # (B, F*W)
        # A stable sort puts each row's real tokens first, in story order.
        order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)
        totals = fact_lengths.sum(1)  # (B,) on the CPU
        order = order[:, : int(totals.max())]  # (B, L)
        words = x.reshape(b, f * w, e).gather(1, order[..., None].expand(-1, -1, e))  # (B, L, E)
        packed = pack_padded_sequence(words, totals, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=order.size(1))
        ends = (lengths.cumsum(1) - 1).clamp(min=0)  # (B, F) position of each fact's last word
        facts = states.gather(1, ends[..., None].expand(-1, -1, states.size(2)))  # (B, F, H)
        return facts * (lengths > 0)[..., None].to(facts.dtype)


class PositionalBiGRUFacts(nn.Module):
    """DMN+'s input module: each sentence a positionally weighted sum of its word vectors,
    then the input fusion layer, a bidirectional GRU over the sentences, directions summed."""

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.hidden_size = config.hidden_size
        self.gru = nn.GRU(config.embedding_size, config.hidden_size, batch_first=True, bidirectional=True)
        init_gru(self.gru)

    def forward(self, x: torch.Tensor, fact_lengths: torch.Tensor, num_facts: torch.Tensor) -> torch.Tensor:
        """Embedded words (B, F, W, E) -> facts (B, F, H), zeros at padding facts."""
        b, f, w, e = x.shape
        weights = positional_encoding(fact_lengths.to(x.device), w, e, x.dtype)  # (B, F, W, E)
        sentences = (weights * x).sum(2)  # (B, F, E)
        packed = pack_padded_sequence(sentences, num_facts, batch_first=True, enforce_sorted=False)
        states, _ = pad_packed_sequence(self.gru(packed)[0], batch_first=True, total_length=f)  # (B, F, 2H)
        return states[..., : self.hidden_size] + states[..., self.hidden_size:]


FACT_ENCODERS: dict[str, type[nn.Module]] = {
    "gru": WordGRUFacts,  # DMN (Kumar et al. 2016)
    "pe-bigru": PositionalBiGRUFacts,  # DMN+ (Xiong et al. 2016)
}


class AttentionGRU(nn.Module):
    """DMN+'s attention based GRU: a GRU whose update gate is the attention gate g_i,
        r_i = sigmoid(W_r f_i + b_r + U_r h_{i-1} + c_r)
        h~_i = tanh(W_n f_i + b_n + r_i * (U_n h_{i-1} + c_n))
        h_i = g_i * h~_i + (1 - g_i) * h_{i-1}
    so a fact with g = 0 (padding) leaves h unchanged and the final h is the state at
    each story's last real fact."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input = linear(input_size, 2 * hidden_size)  # [W_r; W_n], [b_r; b_n]
        self.hidden = nn.Linear(hidden_size, 2 * hidden_size)  # [U_r; U_n], [c_r; c_n]
        for block in self.hidden.weight.data.chunk(2, 0):
            nn.init.orthogonal_(block)
        nn.init.zeros_(self.hidden.bias)

    def step(self, xf: torch.Tensor, h: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """One fact: its input projection `self.input(f_i)` (B, 2H), h (B, H), g (B,) -> h (B, H)."""
        xr, xn = xf.chunk(2, -1)
        hr, hn = self.hidden(h).chunk(2, -1)
        r = torch.sigmoid(xr + hr)
        candidate = torch.tanh(xn + r * hn)
        g = g[:, None]
        return g * candidate + (1.0 - g) * h

    def forward(self, facts: torch.Tensor, gates: torch.Tensor, projected: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Facts (B, F, D) and gates (B, F) -> the episode (B, H), from h_0 = 0.
        `projected`: `self.input(facts)` when already computed (it is the same each pass).
        On the CPU the loop over the facts is `dmn_kernel.py`'s compiled one."""
        xs = self.input(facts) if projected is None else projected  # (B, F, 2H)
        if dmn_kernel.usable(xs):
            return dmn_kernel.attention_gru(xs, gates, self.hidden.weight, self.hidden.bias)
        h = facts.new_zeros(facts.size(0), self.hidden.in_features)
        for i in range(facts.size(1)):
            h = self.step(xs[:, i], h, gates[:, i])
        return h


class ReLUUpdate(nn.Module):
    """DMN+'s untied memory update m_t = ReLU(W_t [m_{t-1}; c_t; q] + b_t), one W_t per pass."""

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(linear(3 * config.hidden_size, config.hidden_size) for _ in range(config.passes))

    def forward(self, m: torch.Tensor, c: torch.Tensor, q: torch.Tensor, t: int) -> torch.Tensor:
        return torch.relu(self.layers[t](torch.cat([m, c, q], -1)))


class GRUUpdate(nn.Module):
    """DMN's memory update m_t = GRU(c_t, m_{t-1}), one GRU for every pass."""

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.cell = nn.GRUCell(config.hidden_size, config.hidden_size)
        init_gru(self.cell)

    def forward(self, m: torch.Tensor, c: torch.Tensor, q: torch.Tensor, t: int) -> torch.Tensor:
        return self.cell(c, m)


MEMORY_UPDATES: dict[str, type[nn.Module]] = {"relu": ReLUUpdate, "gru": GRUUpdate}


class DMN(nn.Module):
    """A `StoryBatch` -> answer logits (B, C) and each pass's gates; `loss` and `predict`
    as every model (`models/base.py`)."""

    def __init__(self, config: DMNConfig) -> None:
        super().__init__()
        self.config = config
        h = config.hidden_size
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size, padding_idx=0)
        bound = (3.0 / config.embedding_size) ** 0.5
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.dropout = Dropout(config.dropout)
        self.facts = FACT_ENCODERS[config.fact_encoder](config)
        self.question = nn.GRU(config.embedding_size, h, batch_first=True)
        init_gru(self.question)
        self.gate = nn.Sequential(linear(4 * h, h), nn.Tanh(), linear(h, 1))  # W2 tanh(W1 z + b1) + b2
        self.episode = AttentionGRU(h, h)
        self.update = MEMORY_UPDATES[config.memory_update](config)
        self.output = linear(2 * h, config.num_labels)
        self.register_buffer("threshold", torch.tensor(0.5))  # unused: single-label; kept for parity

    set_pretrained_embeddings = Classifier.set_pretrained_embeddings

    def encode_question(self, batch: StoryBatch) -> torch.Tensor:
        """The question GRU's final state q (B, H)."""
        x = self.embedding(batch.question)  # (B, Q, E)
        packed = pack_padded_sequence(x, batch.question_lengths, batch_first=True, enforce_sorted=False)
        return self.question(packed)[1][-1]

    def forward(self, batch: StoryBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Answer logits (B, C) and the log gates of every pass (B, passes, F), -inf at
        padding facts."""
        facts = self.dropout(self.facts(self.embedding(batch.facts), batch.fact_lengths, batch.num_facts))  # (B, F, H)
        q = self.encode_question(batch)  # (B, H)
        mask = batch.fact_mask  # (B, F)
        projected = self.episode.input(facts)  # (B, F, 2H), the same every pass
        fq, dq = facts * q[:, None], (facts - q[:, None]).abs()  # (B, F, H) each
        m = q
        log_gates = []
        for t in range(self.config.passes):
            z = torch.cat([fq, facts * m[:, None], dq, (facts - m[:, None]).abs()], -1)  # (B, F, 4H)
            scores = self.gate(z).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, F)
            log_g = scores.log_softmax(1)
            c = self.episode(facts, log_g.exp(), projected)  # (B, H)
            m = self.update(m, c, q, t)
            log_gates.append(log_g)
        logits = self.output(self.dropout(torch.cat([m, q], -1)))
        return logits, torch.stack(log_gates, 1)

    def fact_loss(self, log_gates: torch.Tensor, batch: StoryBatch) -> torch.Tensor:
        """Mean cross-entropy of pass t's gates against supporting fact t, over the (row,
        pass) pairs that have one; supports past the passes are ignored, and so are
        supports outside the story (e.g. cut off by a cap on the facts)."""
        assert batch.supports is not None
        n = min(self.config.passes, batch.supports.size(1))
        targets = batch.supports[:, :n].to(log_gates.device)  # (B, n)
        valid = (targets >= 0) & (targets < batch.num_facts.to(log_gates.device)[:, None])
        if not bool(valid.any()):
            return log_gates.new_zeros(())
        picked = log_gates[:, :n].gather(2, targets.clamp(min=0)[..., None]).squeeze(-1)  # (B, n)
        return -picked[valid].mean()

    def loss(self, batch: StoryBatch) -> Loss:
        """Mean answer cross-entropy, plus `fact_weight` * `fact_loss` with `supervise_facts`."""
        if batch.labels is None:
            raise ValueError("a story batch without labels has no loss")
        logits, log_gates = self(batch)
        value = F.cross_entropy(logits, batch.labels)
        if self.config.supervise_facts and batch.supports is not None:
            value = value + self.config.fact_weight * self.fact_loss(log_gates, batch)
        return Loss(value, batch.size)

    def predict(self, batch: StoryBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Answer probabilities (B, C) and the gates (B, passes, F), 0 at padding facts."""
        logits, log_gates = self(batch)
        return logits.softmax(1), log_gates.exp()

    def decide(self, probs: torch.Tensor, threshold: float | None = None) -> torch.Tensor:
        """The top answer as a (B, C) bool matrix (`threshold` ignored: one answer per question)."""
        return F.one_hot(probs.argmax(1), probs.size(1)).bool()


kernels.LOOPS.append(kernels.Loop(dmn_kernel.NAME, "the DMN's attention GRU",
                                  lambda module: isinstance(module, AttentionGRU), dmn_kernel.compiled))
