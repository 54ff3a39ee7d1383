"""Building blocks of the generator's encoder-decoders, one set per convolution kind.

Levels are counted as scale exponents: level ``l`` works at ``1 / 2**l`` of the input size,
level 0 is full resolution and level ``L = num_levels`` is the bottleneck. Encoder level
``l >= 1`` has ``channels(base, max, l) = min(base * 2**(l-1), max)`` channels; level 0 (the
full-resolution decoder output, and the stem where a kind has one) has ``base // 2``.

Kinds:

* ``pix2pix`` — 4×4 stride-2 convolutions down, 4×4 transposed convolutions up, LeakyReLU 0.2
  / ReLU, as in pix2pix's U-Net and MMFL's coarse network.
* ``dilated`` — MMFL's refine network: a 3×3 stem, then per level a dilated (2) 4×4 stride-2
  convolution and a 3×3 convolution; up: a 3×3 convolution and a 4×4 transposed convolution.
* ``light`` — one 3×3 stride-2 convolution per level down; up: a 1×1 convolution that
  narrows the channels, nearest upsampling and a 3×3 convolution: a fraction of pix2pix's
  multiply-adds at the same widths.

As in pix2pix, the outermost encoder block (it reads raw pixels) and the innermost one (its
output can be 1×1, where instance statistics are undefined) have no normalisation, nor does
anything else that runs at the bottleneck's size.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..errors import UserError

CONV_KINDS = ("pix2pix", "dilated", "light")
NORMS = ("instance", "batch", "none")


class InputSizeError(UserError, ValueError):
    """An input's height or width does not fit a network's number of levels."""


def channels(base: int, max_channels: int, level: int) -> int:
    """Width of ``level`` in an encoder-decoder with ``base`` and ``max_channels``."""
    if level == 0:
        return base // 2
    return min(base * 2 ** (level - 1), max_channels)


def check_size(height: int, width: int, num_levels: int, what: str) -> None:
    """Raise :class:`InputSizeError` unless both sides are multiples of ``2**num_levels``."""
    step = 2**num_levels
    if height % step or width % step:
        raise InputSizeError(
            f"{what} needs height and width divisible by 2**num_levels = {step} "
            f"(num_levels {num_levels}), got {height}×{width}: resize the input or use fewer levels"
        )


def _norm(norm: str, ch: int) -> nn.Module:
    if norm == "instance":
        return nn.InstanceNorm2d(ch, affine=True)
    if norm == "batch":
        return nn.BatchNorm2d(ch)
    return nn.Identity()


def _block(conv: nn.Module, norm: str, ch: int, act: nn.Module) -> list[nn.Module]:
    return [conv, _norm(norm, ch), act]


def make_stem(kind: str, cin: int, cout: int, stem: bool = False) -> nn.Module | None:
    """Full-resolution stem producing the level-0 skip feature, or None.

    ``dilated`` always has one (MMFL's refine network); other kinds get one when ``stem`` is
    true, which gives their decoder a full-resolution skip connection.
    """
    if kind != "dilated" and not stem:
        return None
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.2))


def make_down(kind: str, cin: int, cout: int, norm: str, outermost: bool, innermost: bool):
    """Encoder block halving the size: ``cin`` channels at level l-1 -> ``cout`` at level l."""
    norm = "none" if outermost or innermost else norm
    act = nn.LeakyReLU(0.2)
    if kind == "pix2pix" or (kind == "dilated" and innermost):
        return nn.Sequential(*_block(nn.Conv2d(cin, cout, 4, 2, 1), norm, cout, act))
    if kind == "dilated":
        return nn.Sequential(
            *_block(nn.Conv2d(cin, cin, 4, 2, padding=3, dilation=2), norm, cin, nn.LeakyReLU(0.2)),
            *_block(nn.Conv2d(cin, cout, 3, padding=1), norm, cout, act),
        )
    return nn.Sequential(*_block(nn.Conv2d(cin, cout, 3, 2, 1), norm, cout, act))


def make_up(kind: str, cin: int, cout: int, norm: str, innermost: bool) -> nn.Module:
    """Decoder block doubling the size: ``cin`` channels at level l -> ``cout`` at level l-1."""
    act = nn.ReLU()
    if kind == "pix2pix" or (kind == "dilated" and innermost):
        return nn.Sequential(*_block(nn.ConvTranspose2d(cin, cout, 4, 2, 1), norm, cout, act))
    if kind == "dilated":
        return nn.Sequential(
            *_block(nn.Conv2d(cin, cout, 3, padding=1), norm, cout, nn.ReLU()),
            *_block(nn.ConvTranspose2d(cout, cout, 4, 2, 1), norm, cout, act),
        )
    # Mix and narrow the channels at the low resolution first, so the upsampled map (and the
    # 3×3 convolution over it) carries only ``cout`` channels. No normalisation there: the
    # low resolution can be the 1×1 bottleneck.
    return nn.Sequential(
        nn.Conv2d(cin, cout, 1),
        nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"),
        *_block(nn.Conv2d(cout, cout, 3, padding=1), norm, cout, act),
    )


class DilatedResBlock(nn.Module):
    """Residual pair of dilated 3×3 convolutions: widens the bottleneck's receptive field."""

    def __init__(self, ch: int, dilation: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, padding=dilation, dilation=dilation),
            nn.LeakyReLU(0.2),
            nn.Conv2d(ch, ch, 3, padding=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return ``x + body(x)``."""
        return x + self.body(x)


def make_bottleneck(ch: int, num_blocks: int) -> nn.Module:
    """``num_blocks`` dilated residual blocks (dilations 2, 4, 2, 4, ...), or the identity."""
    return nn.Sequential(*(DilatedResBlock(ch, 2 + 2 * (i % 2)) for i in range(num_blocks)))
