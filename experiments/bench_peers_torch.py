"""Training speed of PyTorch peers at JLAN's benchmark shapes, on the same machine.

Minimal re-implementations from the papers' equations (not the authors' code), at their
published sizes, trained with Adam on random token ids exactly like experiments/benchmark.py:

- CAML (Mullenbach et al., 2018): embedding 100 -> Conv1D(50 filters, width 10) -> tanh ->
  per-label attention -> per-label linear output;
- LAAT (Vu et al., 2020): embedding 100 -> BiLSTM(256 per direction) -> Z = tanh(W H^T),
  A = softmax(U Z), V = A H -> per-label linear output.

Needs PyTorch, which is not a dependency of jlan_tf: `pip install torch` (on this project's
machines `pip install torch==2.13.0` takes the CPU build on disk).

    python experiments/bench_peers_torch.py --tokens 512 --labels 50 --batch 16 [--what train|infer] [--json]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time

import torch
from torch import nn


class LabelAttentionOutput(nn.Module):
    """Per-label attention over token features and a per-label linear score."""

    def __init__(self, features: int, labels: int, attention_dim: int | None):
        super().__init__()
        self.project = nn.Linear(features, attention_dim, bias=False) if attention_dim else None
        self.queries = nn.Linear(attention_dim or features, labels, bias=False)
        self.weights = nn.Parameter(torch.randn(labels, features) * 0.02)
        self.bias = nn.Parameter(torch.zeros(labels))

    def forward(self, h):                                   # (B, T, F)
        z = torch.tanh(self.project(h)) if self.project is not None else h
        attention = torch.softmax(self.queries(z), dim=1)   # (B, T, L), over tokens
        v = attention.transpose(1, 2) @ h                   # (B, L, F)
        return (v * self.weights).sum(-1) + self.bias       # (B, L)


class CAML(nn.Module):
    def __init__(self, vocab: int, labels: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, 100, padding_idx=0)
        self.conv = nn.Conv1d(100, 50, kernel_size=10, padding=5)
        self.output = LabelAttentionOutput(50, labels, None)

    def forward(self, ids):
        x = self.embedding(ids).transpose(1, 2)
        return self.output(torch.tanh(self.conv(x)).transpose(1, 2))


class LAAT(nn.Module):
    def __init__(self, vocab: int, labels: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, 100, padding_idx=0)
        self.lstm = nn.LSTM(100, 256, batch_first=True, bidirectional=True)
        self.output = LabelAttentionOutput(512, labels, 512)

    def forward(self, ids):
        return self.output(self.lstm(self.embedding(ids))[0])


def docs_per_s(model: nn.Module, ids, y, steps: int, repeats: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(ids), y)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * len(ids) / (time.perf_counter() - start))
    return statistics.median(rates)


def infer_docs_per_s(model: nn.Module, ids, steps: int, repeats: int) -> float:
    model.eval()
    with torch.no_grad():
        for _ in range(2):
            torch.sigmoid(model(ids))
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                torch.sigmoid(model(ids))
            rates.append(steps * len(ids) / (time.perf_counter() - start))
    return statistics.median(rates)


def peak_rss_mb() -> int:
    """This process's peak resident memory. VmHWM where Linux has it: ru_maxrss survives exec,
    so a process started by another (benchmark.py --compare) would report its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            return round(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024)
    except (OSError, StopIteration):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--labels", type=int, default=50)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--vocab", type=int, default=50_000)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--what", choices=["train", "infer"], default="train")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    ids = torch.randint(2, args.vocab, (args.batch, args.tokens))
    y = (torch.rand(args.batch, args.labels) < 0.1).float()
    result = {"tokens": args.tokens, "labels": args.labels, "batch": args.batch,
              "torch": torch.__version__, "threads": torch.get_num_threads()}
    for name, cls in (("caml", CAML), ("laat", LAAT)):
        model = cls(args.vocab, args.labels)
        rate = docs_per_s(model, ids, y, args.steps, args.repeats) if args.what == "train" else \
            infer_docs_per_s(model, ids, args.steps, args.repeats)
        result[f"{name}_{args.what}_docs_per_s"] = round(rate, 2)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result) if args.json else
          "  ".join(f"{k} {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
