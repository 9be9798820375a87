"""Fine-tune the top layers of the frozen encoder for the classifier, on cached lower-layer states.

The classifier's features are the pooled outputs of every MiniLM layer. With enough
labelled examples, the top layers can be adapted to the label set cheaply: the
lower layers stay frozen, so their token states are computed once (in the same
encoder pass that gives the frozen features) and only the top layers are trained,
with a cosine-softmax head, on those cached states. Retrieval never sees the tuned
layers: it keeps the frozen sentence embedding.

Settings chosen on CLINC150 val.jsonl with benchmarks/bench_intent_tuning.py
(the classifier trained on train.jsonl only; frozen features: 97.33% in-scope
accuracy): top two layers, 3 epochs, lr 5e-4, cosine head at scale 30: 97.53%, about
70 s on 2 cores; 4 epochs no better (97.53%, 95 s), lower rates or one epoch worse
(97.33-97.40%), the top four layers no better at twice the time (97.50%, 139 s).
benchmarks/bench_intent.py scores the shipped classifier with and without tuning on
test.jsonl.

>>> top = tune_top_layers(transformer, batches, y, n_classes=151)   # doctest: +SKIP
>>> blocks = pooled_blocks(top, states, mask)                         # doctest: +SKIP
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np

# (ids, token states entering the first tuned layer, attention mask) per encoder batch
StateBatch = tuple[list[int], "object", "object"]


@dataclass
class TopLayers:
    """Tuned copies of the encoder's top layers; ``split`` frozen layers run below them."""

    split: int  # hidden_states[split] feeds the first tuned layer
    layers: object  # torch.nn.ModuleList, in eval mode

    def state(self) -> dict:
        """Plain arrays, for saving without pickling torch modules."""
        return {"split": self.split,
                "weights": {k: v.detach().cpu().numpy() for k, v in self.layers.state_dict().items()}}

    @classmethod
    def from_state(cls, transformer, state: dict) -> "TopLayers":
        import torch

        split = int(state["split"])
        layers = copy.deepcopy(transformer.encoder.layer[split:])
        layers.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state["weights"].items()})
        layers.eval()
        return cls(split, layers)


def run_layers(layers, states, mask) -> list:
    """Outputs of each layer in ``layers`` for token ``states`` under the padding ``mask``."""
    import torch

    additive = (1.0 - mask[:, None, None, :].to(states.dtype)) * torch.finfo(states.dtype).min
    outs = []
    for layer in layers:
        states = layer(states, attention_mask=additive)
        if isinstance(states, tuple):  # older transformers return a tuple
            states = states[0]
        outs.append(states)
    return outs


def pool(states, mask):
    """Mean over real tokens, L2-normalised: how every feature block is pooled."""
    import torch

    m = mask.unsqueeze(-1).to(states.dtype)
    return torch.nn.functional.normalize((states * m).sum(1) / m.sum(1), dim=-1)


def pooled_blocks(top: TopLayers, states, mask):
    """The tuned layers' pooled outputs, concatenated: the feature blocks they replace."""
    import torch

    with torch.inference_mode():
        return torch.cat([pool(o, mask) for o in run_layers(top.layers, states, mask)], dim=1).float().numpy()


def tune_top_layers(transformer, batches: list[StateBatch], y: np.ndarray, n_classes: int, *, n_layers: int = 2,
                    epochs: float = 3.0, lr: float = 5e-4, head_lr: float = 3e-3, scale: float = 30.0,
                    weight_decay: float = 0.01, seed: int = 0) -> tuple[TopLayers, dict]:
    """Train copies of the top ``n_layers`` layers with a cosine-softmax head on cached states.

    ``batches`` hold the states entering the first tuned layer (``hidden_states[split]``
    with ``split = number of layers - n_layers``); ``y`` gives each text's class index.
    Linear warm-up over the first 10% of steps, then linear decay to zero. Returns the
    tuned layers (eval mode) and a small report.
    """
    import torch

    started = time.perf_counter()
    total_layers = len(transformer.encoder.layer)
    if not 1 <= n_layers <= total_layers:
        raise ValueError(f"n_layers must be between 1 and {total_layers}")
    split = total_layers - n_layers
    torch.manual_seed(seed)
    layers = copy.deepcopy(transformer.encoder.layer[split:])
    layers.train()
    head = torch.nn.Linear(transformer.config.hidden_size, n_classes, bias=False)
    optimiser = torch.optim.AdamW([{"params": layers.parameters(), "lr": lr},
                                   {"params": head.parameters(), "lr": head_lr}], weight_decay=weight_decay)
    steps = max(1, int(round(epochs * len(batches))))
    warm = max(1, int(0.1 * steps))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    rng = np.random.default_rng(seed)
    step, loss_value = 0, float("nan")
    targets = [torch.as_tensor(y[ids], dtype=torch.long) for ids, _, _ in batches]
    while step < steps:
        for b in rng.permutation(len(batches)):
            if step >= steps:
                break
            _, states, mask = batches[b]
            z = pool(run_layers(layers, states, mask)[-1], mask)
            logits = scale * z @ torch.nn.functional.normalize(head.weight, dim=-1).T
            loss = torch.nn.functional.cross_entropy(logits, targets[b])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            loss_value = float(loss.detach())
    layers.eval()
    report = {"tuned_layers": n_layers, "tune_epochs": epochs, "tune_steps": steps,
              "tune_final_loss": round(loss_value, 4), "tune_s": round(time.perf_counter() - started, 2)}
    return TopLayers(split, layers), report
