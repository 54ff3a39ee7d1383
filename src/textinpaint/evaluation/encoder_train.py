"""Train the evaluation encoder once, on real training images only.

The task is the encoder's own: name the bird class of a random crop (crops of 4-100 % of the
image area, any aspect from 1:2 to 2:1, squashed to 64×64, as hole crops are at evaluation;
horizontal flips). No generated image, no hole and no blur is ever shown to it, so its
features know nothing of any inpainting model; the test split only reports its accuracy.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..data import build_dataset
from ..data.text import Vocabulary
from ..errors import UserError
from .encoder import CHANNELS, INPUT_SIZE, EvalEncoder, crop_resized, save_encoder

log = logging.getLogger(__name__)


def _images_and_labels(spec: str, split: str, resolution: int,
                       classes: dict[int, int] | None = None):
    """All images of a split as one uint8 N×3×R×R tensor, and 0-based class labels."""
    ds = build_dataset(spec, split=split, resolution=resolution, masks=None,
                       vocab=Vocabulary(), train=False)
    records = ds.records
    pixels = np.stack([np.asarray(ds._pixels[i]) if ds._pixels is not None
                       else ds._read_resized(r)[0] for i, r in enumerate(records)])
    ids = [r.class_id for r in records]
    if classes is None:
        classes = {c: k for k, c in enumerate(sorted(set(ids)))}
    keep = [k for k, c in enumerate(ids) if c in classes]
    images = torch.from_numpy(pixels[keep]).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([classes[ids[k]] for k in keep])
    return images, labels, classes


def _augment(images: torch.Tensor, gen: torch.Generator, size: int) -> torch.Tensor:
    """Random resized crops (area 4-100 %, aspect 1:2-2:1) with flips, in [-1, 1]."""
    side = images.shape[-1]
    area = torch.empty(len(images)).uniform_(0.04, 1.0, generator=gen) * side * side
    aspect = torch.exp(torch.empty(len(images)).uniform_(-0.69, 0.69, generator=gen))
    out = []
    for img, a, r in zip(images, area.tolist(), aspect.tolist()):
        w = int(round(min(side, max(4.0, (a * r) ** 0.5))))
        h = int(round(min(side, max(4.0, (a / r) ** 0.5))))
        left = int(torch.randint(side - w + 1, (1,), generator=gen))
        top = int(torch.randint(side - h + 1, (1,), generator=gen))
        crop = crop_resized(img.float() / 127.5 - 1, (left, top, left + w, top + h), size)
        out.append(crop.flip(-1) if bool(torch.randint(2, (1,), generator=gen)) else crop)
    return torch.stack(out)


@torch.inference_mode()
def accuracy(net: EvalEncoder, images: torch.Tensor, labels: torch.Tensor,
             batch: int = 256) -> float:
    """Top-1 class accuracy on whole images (resized to the encoder's input)."""
    net.eval()
    hits = 0
    for i in range(0, len(images), batch):
        x = F.interpolate(images[i:i + batch].float() / 127.5 - 1, size=net.input_size,
                          mode="bilinear", antialias=True, align_corners=False)
        hits += int((net(x).argmax(1) == labels[i:i + batch]).sum())
    return hits / max(len(images), 1)


def train_eval_encoder(dataset: str, out: str | Path, *, steps: int = 2500,
                       batch_size: int = 64, lr: float = 2e-3, resolution: int = 128,
                       seed: int = 0, progress: bool = True) -> dict:
    """Train the encoder on ``dataset``'s train split and write its folder to ``out``.

    Returns the config written (with train/test accuracy and the seconds it took).
    """
    if steps < 1 or batch_size < 1:
        raise UserError(f"--steps and --batch-size must be at least 1, got {steps} and "
                        f"{batch_size}")
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    images, labels, classes = _images_and_labels(dataset, "train", resolution)
    net = EvalEncoder(len(classes))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    start = time.perf_counter()
    bar = tqdm(range(steps), desc="eval encoder", disable=not progress)
    for _ in bar:
        net.train()
        pick = torch.randint(len(images), (batch_size,), generator=gen)
        loss = F.cross_entropy(net(_augment(images[pick], gen, INPUT_SIZE)), labels[pick],
                               label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    seconds = time.perf_counter() - start
    test_images, test_labels, _ = _images_and_labels(dataset, "test", resolution, classes)
    config = {"classes": len(classes), "channels": list(CHANNELS), "trained_on": dataset,
              "split": "train", "steps": steps, "batch_size": batch_size, "lr": lr,
              "seed": seed, "train_seconds": round(seconds, 1),
              "train_accuracy": round(accuracy(net, images, labels), 4),
              "test_accuracy": round(accuracy(net, test_images, test_labels), 4),
              "task": "bird-class classification of random crops (area 4-100 %, aspect "
                      "1:2-2:1, 64x64, flips), cross-entropy with label smoothing 0.1"}
    save_encoder(Path(out), net.eval(), config)
    write_card(Path(out), config, net)
    log.info("evaluation encoder: train accuracy %.3f, test accuracy %.3f, %.0f s",
             config["train_accuracy"], config["test_accuracy"], seconds)
    return config


def write_card(folder: Path, config: dict, net: EvalEncoder) -> None:
    """The folder's README.md: what the encoder is for, how it was trained, what it is not."""
    c = config
    params = sum(p.numel() for p in net.parameters())
    rows = [
        ("task", c["task"]),
        ("data", f"`{c['trained_on']}`, split `{c['split']}` (no test image)"),
        ("network", f"stride-2 stem + {len(c['channels']) - 1} conv/BN/ReLU/max-pool stages, "
                    f"channels {c['channels']}, {params:,} parameters, 64x64 input, "
                    f"{net.feature_dim}-d pooled features"),
        ("training", f"{c['steps']} steps x {c['batch_size']} crops, AdamW, one-cycle lr "
                     f"{c['lr']}, seed {c['seed']}, {c['train_seconds']:.0f} s"),
        ("class accuracy, whole images", f"train {c['train_accuracy']:.3f}, test "
         f"{c['test_accuracy']:.3f} (chance {1 / c['classes']:.3f})"),
    ]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    text = f"""# eval-encoder

The frozen judge of `textinpaint evaluate`'s realism numbers (KID/FID of hole crops), trained
once by `textinpaint train-eval-encoder` on real training images only. **No training loss
imports or loads it** (tests/test_seen_metrics.py checks the source tree and a real training
run), so no model is ever optimised against it.

| field | value |
| --- | --- |
{table}

```bash
textinpaint train-eval-encoder --dataset {c["trained_on"]} --out {folder} \\
    --steps {c["steps"]} --batch-size {c["batch_size"]} --seed {c["seed"]}
```

Its features compare the models of this project with each other. They are not Inception
features: numbers in its space are not comparable with the FID/KID of papers. See
`docs/EVALUATION.md` and `benchmarks/eval_encoder_check.py` (KID of real crops against
blurred, noisy and flat ones).
"""
    (folder / "README.md").write_text(text)
