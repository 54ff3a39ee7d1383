"""The frozen evaluation encoder: features of hole crops for KID/FID that work offline.

Standard FID/KID need ImageNet Inception weights, which cannot be downloaded here. Instead the
project trains one small CNN on real training images only (:mod:`.encoder_train`, a bird-class
classifier on random crops) and ships it in ``models/eval-encoder``. Its pooled features are
the space in which :mod:`.realism` compares hole crops of fills with real hole crops.

It is an *evaluation* network: no training loss may import or load it (a test enforces this),
so no model is ever optimised against the judge. Numbers in its space compare models within
this project; they are not comparable with FID/KID values in papers.

A folder holds ``config.json`` (``{"kind": "eval-encoder", "input_size", "channels",
"feature_dim", "classes", ...}``), ``encoder.safetensors`` and a ``README.md`` card.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError

INPUT_SIZE = 64
CHANNELS = (32, 64, 128, 256)
KIND = "eval-encoder"
WEIGHTS = "encoder.safetensors"


def shipped_folder() -> Path:
    """``models/eval-encoder`` of the source tree this package runs from."""
    return Path(__file__).resolve().parents[3] / "models" / KIND


class EvalEncoder(nn.Module):
    """A plain VGG-style CNN: a stride-2 stem, then per stage 3×3 conv + BN + ReLU and a 2×2
    max-pool (64 px in, 4×4 out). Small on purpose: it trains in minutes on two CPU cores.

    ``features`` returns the global-average-pooled last stage (``channels[-1]``-d); ``forward``
    returns class logits (the training task only).
    """

    def __init__(self, classes: int, channels: tuple[int, ...] = CHANNELS,
                 input_size: int = INPUT_SIZE):
        super().__init__()
        self.input_size = int(input_size)
        layers = [nn.Conv2d(3, channels[0], 3, stride=2, padding=1, bias=False),
                  nn.BatchNorm2d(channels[0]), nn.ReLU(inplace=True)]
        for prev, ch in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(prev, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(channels[-1], classes)
        self.feature_dim = channels[-1]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of B×3×S×S images in [-1, 1] (S = ``input_size``)."""
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def crop_resized(image: torch.Tensor, box: tuple[int, int, int, int], size: int
                 ) -> torch.Tensor:
    """``image[:, top:bottom, left:right]`` resized (bilinear, antialiased) to size×size;
    the one resampling that training crops and evaluation hole crops share."""
    left, top, right, bottom = box
    return F.interpolate(image[None, :, top:bottom, left:right].float(), size=(size, size),
                         mode="bilinear", antialias=True, align_corners=False)[0]


def hole_crops(images: torch.Tensor, mask: torch.Tensor, size: int = INPUT_SIZE
               ) -> torch.Tensor:
    """The bounding box of each image's hole, resized to ``size``×``size``.

    Args:
        images: B×3×H×W in [-1, 1].
        mask: B×1×H×W, 1 = hole. An image without a hole gives its whole frame.
    """
    crops = []
    for img, m in zip(images, mask[:, 0] > 0.5):
        rows, cols = torch.nonzero(m.any(dim=1)), torch.nonzero(m.any(dim=0))
        if len(rows) == 0:
            box = (0, 0, img.shape[2], img.shape[1])
        else:
            box = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        crops.append(crop_resized(img, box, size))
    return torch.stack(crops)


class FrozenEncoder:
    """A loaded evaluation encoder: hole crops in, features out (no gradients, eval mode)."""

    def __init__(self, net: EvalEncoder, folder: Path, config: dict):
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.folder = folder
        self.config = config

    @torch.inference_mode()
    def __call__(self, images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Features (B×D, float32, CPU) of the hole crops of B×3×H×W images in [-1, 1]."""
        crops = hole_crops(images.cpu(), mask.cpu(), self.net.input_size)
        return self.net.features(crops).float()


def save_encoder(folder: Path, net: EvalEncoder, config: dict) -> None:
    """Write ``config.json`` and ``encoder.safetensors`` (fp16: features need no more)."""
    from ..model_folder import save_weights, write_json

    folder.mkdir(parents=True, exist_ok=True)
    save_weights(net, folder / WEIGHTS, half=True)
    write_json(folder / "config.json", {"kind": KIND, **config, "input_size": net.input_size,
                                        "feature_dim": net.feature_dim})


def load_encoder(folder: str | Path | None = None) -> FrozenEncoder:
    """Load an evaluation-encoder folder (default: the shipped ``models/eval-encoder``)."""
    from ..model_folder import load_weights

    folder = Path(folder) if folder is not None else shipped_folder()
    config_path = folder / "config.json"
    if not (config_path.is_file() and (folder / WEIGHTS).is_file()):
        raise UserError(f"'{folder}' is not an evaluation-encoder folder (needs config.json "
                        f"and {WEIGHTS}); train one with 'textinpaint train-eval-encoder' or "
                        "pass --eval-encoder none")
    try:
        config = json.loads(config_path.read_text())
        if config.get("kind") != KIND:
            raise ValueError(f"kind is {config.get('kind')!r}, not {KIND!r}")
        net = EvalEncoder(int(config["classes"]), tuple(int(c) for c in config["channels"]),
                          int(config["input_size"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"'{config_path}' is not a valid evaluation-encoder config ({exc})"
                        ) from None
    load_weights(net, folder / WEIGHTS, dtype=torch.float32)
    return FrozenEncoder(net, folder, config)
