"""The inpainting generator: coarse and refine encoder-decoders whose parts a config switches.

One class covers MMFL, our faster model and the ablations. Levels are scale exponents
(level ``l`` works at ``1 / 2**l`` of the input; ``num_levels`` is the bottleneck); see
:mod:`textinpaint.nn.unet` for the convolution kinds and widths.

Data flow (every stage output is composited ``image * (1 - mask) + fill * mask``)::

    masked image (hole zero or `prefill`ed) + mask ─► coarse encoder ─(sentence code c)
                              │ word demand (WDM) reweights the words from encoder features
                              ▼
                           coarse decoder ─(word attention at `word_attention_levels`)─► coarse
    coarse + mask (or + masked image) ─► refine encoder-decoder
          non-local attention at `attention_level`, word attention again,
          fusion blocks on the finest `num_fusion_scales` levels (a completion per scale),
          structure heads on levels `num_structure_scales` … 1 (Sobel maps, fed back) ─► final

Non-local attention, fusion and structure belong to the last stage: the refine stage, or
the coarse stage when ``use_refine`` is false.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import ConfigError, check_choice
from .attention import (
    POSITION_PARAMS,
    WORD_DEMAND_NORMS,
    NonLocalAttention,
    WordAttention,
    WordDemand,
    hole_position,
)
from .conditioning import ConditioningAugmentation
from .fusion import FusionBlock, resize_mask
from .prefill import PREFILLS, prefill
from .unet import (
    CONV_KINDS,
    NORMS,
    channels,
    check_size,
    make_bottleneck,
    make_down,
    make_stem,
    make_up,
)

REFINE_INPUTS = ("mask", "masked_image")
FUSION_BASES = ("guess", "known", "coarse")


@dataclass
class GeneratorConfig:
    """Every knob of :class:`InpaintGenerator`; the defaults are the ``full`` preset's, except
    ``prefill`` (``none``, so model folders written before it existed load as trained).

    Coarse stage: ``conv_kind`` (``pix2pix`` | ``dilated`` | ``light``), ``base_channels``,
    ``max_channels``, ``num_levels`` (inputs must be multiples of ``2**num_levels``),
    ``stem`` (a full-resolution 3×3 stem whose output is the decoder's level-0 skip: without
    it the finest decoder level rebuilds the image from half-resolution features; the
    ``dilated`` kind always has one),
    ``bottleneck_blocks`` (dilated residual blocks at the bottleneck), ``norm``
    (``instance`` | ``batch`` | ``none``, shared by both stages).

    Text (``use_text: false`` switches every text part off, the image-only ablation):
    ``word_dim``/``sentence_dim`` of the text encoder, ``cond_dim`` of the conditioning
    augmentation code, ``sentence_level`` where that code is broadcast and concatenated to the
    coarse encoder feature (-1 = the bottleneck), ``word_attention_levels`` decoder levels with
    word attention, ``use_word_demand`` (MMFL's WDM, reading the coarse encoder at the coarsest
    word-attention level, at least 1) with ``word_demand_norm`` (``sigmoid``: independent
    word weights; ``softmax``: the words compete, see :class:`WordDemand`),
    ``refine_word_attention`` (word attention in the refine stage too), ``word_colour_head``
    (every word-attention layer's context, a 1×1 convolution to RGB, upsampled and added to
    its stage's full-resolution fill before the final ``tanh``: a colour for each position
    from the words attended there; it starts at zero, see :data:`COLOUR_PARAMS`).

    Refine stage (``use_refine``): ``refine_input`` (``mask``: coarse composite + mask;
    ``masked_image``: coarse composite + masked image, MMFL's 6 channels) and ``refine_*``
    counterparts of the coarse knobs.

    Last stage: ``use_attention_layer`` with ``attention_level``; ``use_fusion`` with
    ``num_fusion_scales`` (levels ``num_fusion_scales - 1`` … 0) and ``fusion_hidden``;
    ``use_structure`` with ``num_structure_scales`` (levels ``num_structure_scales`` … 1).

    ``prefill`` (``none`` | ``pyramid`` | ``telea`` | ``ns``, see
    :mod:`textinpaint.nn.prefill`): a classical fill of the hole that the coarse encoder reads
    instead of zeros and that the fusion blocks blend their completions with; ``none`` is
    MMFL's and DFNet's zero fill.

    ``fusion_base``: what the last stage's fusion blocks blend their completions with in the
    hole: ``guess`` (the stages' starting guess: zeros, or the prefill), ``known`` (the masked
    image, zeros in the hole, as DFNet) or ``coarse`` (the coarse stage's composite; needs the
    refine stage). With a Telea prefill as the base, trained alphas keep ~80 % of it in the
    hole; ``known`` makes the network paint the hole itself. On CUB at 128 px neither
    alternative learned faster per image than ``guess`` (README, probes of 2026-11-22).
    """

    conv_kind: str = "light"
    base_channels: int = 32
    max_channels: int = 256
    num_levels: int = 5
    stem: bool = False
    bottleneck_blocks: int = 2
    norm: str = "instance"
    use_text: bool = True
    word_dim: int = 256
    sentence_dim: int = 256
    cond_dim: int = 100
    sentence_level: int = -1
    word_attention_levels: list[int] = field(default_factory=lambda: [4, 3])
    # The word attention's queries also read where they are in the hole (nn/attention.py).
    word_attention_position: bool = False
    # Each position's attended words also colour that position's fill directly.
    word_colour_head: bool = False
    use_word_demand: bool = True
    word_demand_norm: str = "sigmoid"
    use_refine: bool = True
    refine_input: str = "mask"
    refine_conv_kind: str = "light"
    refine_base_channels: int = 32
    refine_max_channels: int = 256
    refine_num_levels: int = 5
    refine_stem: bool = False
    refine_bottleneck_blocks: int = 2
    refine_word_attention: bool = True
    use_attention_layer: bool = True
    attention_level: int = 3
    use_fusion: bool = True
    num_fusion_scales: int = 4
    fusion_hidden: int = 16
    use_structure: bool = True
    num_structure_scales: int = 3
    prefill: str = "none"
    fusion_base: str = "guess"

    def __post_init__(self) -> None:
        check_choice("conv_kind", self.conv_kind, CONV_KINDS)
        check_choice("refine_conv_kind", self.refine_conv_kind, CONV_KINDS)
        check_choice("norm", self.norm, NORMS)
        check_choice("refine_input", self.refine_input, REFINE_INPUTS)
        check_choice("prefill", self.prefill, PREFILLS)
        check_choice("fusion_base", self.fusion_base, FUSION_BASES)
        check_choice("word_demand_norm", self.word_demand_norm, WORD_DEMAND_NORMS)
        if self.fusion_base == "coarse" and not self.use_refine:
            raise ConfigError("config key 'fusion_base' is 'coarse' but there is no refine "
                              "stage: set use_refine: true or fusion_base: guess")
        for name in ("num_levels", "refine_num_levels"):
            _check_range(name, getattr(self, name), 1, 10)
        for name in ("base_channels", "refine_base_channels"):
            _check_range(name, getattr(self, name), 2, 4096)
        levels = self.num_levels
        _check_range("sentence_level", self.sentence_level, -1, levels)
        for level in self.word_attention_levels:
            _check_range("word_attention_levels", level, 0, levels)
            if self.use_refine and self.refine_word_attention:
                _check_range("word_attention_levels", level, 0, self.refine_num_levels)
        if self.use_text and self.use_word_demand and not self.word_attention_levels:
            raise ConfigError(
                "config key 'use_word_demand' needs word attention to feed: set "
                "'word_attention_levels' (e.g. [3]) or use_word_demand: false"
            )
        last = self.last_num_levels
        if self.use_attention_layer:
            _check_range("attention_level", self.attention_level, 0, last)
        if self.use_fusion:
            _check_range("num_fusion_scales", self.num_fusion_scales, 1, last + 1)
        if self.use_structure:
            _check_range("num_structure_scales", self.num_structure_scales, 1, last)

    @property
    def last_num_levels(self) -> int:
        """Levels of the last stage (the one with attention, fusion and structure)."""
        return self.refine_num_levels if self.use_refine else self.num_levels

    @property
    def size_multiple(self) -> int:
        """Inputs' height and width must be multiples of this."""
        return 2 ** max(self.num_levels, self.refine_num_levels if self.use_refine else 0)


# The word-colour head's parameters, as a pattern over a network's names (like the
# hole-position queries' POSITION_PARAMS): they start at zero, so a trained generator without
# them loads into one with them and computes what it did.
COLOUR_PARAMS = r"\.colour\."


def zero_start_params(cfg: GeneratorConfig) -> str | None:
    """The pattern of the zero-start parameters ``cfg`` switches on (for
    ``load_weights(new=...)``), or None."""
    parts = [pattern for pattern, on in ((POSITION_PARAMS, cfg.word_attention_position),
                                         (COLOUR_PARAMS, cfg.word_colour_head)) if on]
    return "|".join(parts) or None


def _check_range(key: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"config key '{key}' must be between {low} and {high}, got {value}")


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of ``module`` (only those with ``requires_grad`` if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _broadcast(code: Tensor, like: Tensor) -> Tensor:
    """A ``B×K`` code as a ``B×K×h×w`` map the size of ``like``."""
    return code[:, :, None, None].expand(-1, -1, *like.shape[-2:])


class _Stage(nn.Module):
    """One encoder-decoder with optional text, attention, fusion and structure parts.

    Decoder level ``l`` reads ``z = [h, skip e_l, (c at the bottleneck), word context]``;
    fusion and structure heads read ``z``, and their outputs join ``z`` for the block that
    upsamples to level ``l - 1``.
    """

    def __init__(
        self,
        in_channels: int,
        kind: str,
        base: int,
        max_channels: int,
        num_levels: int,
        bottleneck_blocks: int,
        norm: str,
        *,
        stem: bool = False,
        sentence_level: int | None = None,
        cond_dim: int = 0,
        word_levels: tuple[int, ...] = (),
        word_dim: int = 0,
        word_position: bool = False,
        word_colour: bool = False,
        attention_level: int | None = None,
        fusion_levels: tuple[int, ...] = (),
        fusion_hidden: int = 16,
        structure_levels: tuple[int, ...] = (),
    ):
        super().__init__()
        L = self.num_levels = num_levels
        ch = [channels(base, max_channels, level) for level in range(L + 1)]
        self.channels = ch
        self.sentence_level = sentence_level
        self.attention_level = attention_level
        self.stem = make_stem(kind, in_channels, ch[0], stem)
        cin = in_channels if self.stem is None else ch[0]
        self.downs = nn.ModuleList()
        for level in range(1, L + 1):
            extra = cond_dim if sentence_level == level - 1 else 0
            outermost = level == 1 and self.stem is None
            self.downs.append(make_down(kind, cin + extra, ch[level], norm, outermost, level == L))
            cin = ch[level]
        self.bottleneck = make_bottleneck(ch[L], bottleneck_blocks)

        self.nonlocal_attn = (
            None if attention_level is None else NonLocalAttention(ch[attention_level])
        )
        self.word_attn, self.fusion = nn.ModuleDict(), nn.ModuleDict()
        self.structure, self.ups = nn.ModuleDict(), nn.ModuleDict()
        self.colour = nn.ModuleDict()
        self.head = None
        for level in range(L, -1, -1):
            key, width = str(level), ch[level]
            if self._has_skip(level):
                width += ch[level]
            if level == L and sentence_level == L:
                width += cond_dim
            if level in word_levels:
                self.word_attn[key] = WordAttention(ch[level], word_dim, word_position)
                width += ch[level]
                if word_colour:
                    self.colour[key] = nn.Conv2d(ch[level], 3, kernel_size=1)
                    nn.init.zeros_(self.colour[key].weight)
                    nn.init.zeros_(self.colour[key].bias)
            fed_back = 0
            if level in fusion_levels:
                self.fusion[key] = FusionBlock(width, fusion_hidden)
                fed_back += 3
            if level in structure_levels:
                self.structure[key] = nn.Conv2d(width, 6, kernel_size=3, padding=1)
                fed_back += 6
            if level > 0:
                self.ups[key] = make_up(kind, width + fed_back, ch[level - 1], norm, level == L)
            elif level not in fusion_levels:
                self.head = nn.Conv2d(width, 3, kernel_size=3, padding=1)

    def _has_skip(self, level: int) -> bool:
        return 0 < level < self.num_levels or (level == 0 and self.stem is not None)

    def encode(self, x: Tensor, cond: Tensor | None = None) -> list[Tensor]:
        """Encoder features for levels 0 … L (level 0 is the stem output, or ``x``)."""
        feats = [x if self.stem is None else self.stem(x)]
        h = feats[0]
        for level, down in enumerate(self.downs, start=1):
            if self.sentence_level == level - 1:
                h = torch.cat([h, _broadcast(cond, h)], dim=1)
            h = down(h)
            feats.append(h)
        feats[-1] = self.bottleneck(feats[-1])
        return feats

    def decode(
        self,
        feats: list[Tensor],
        masked_image: Tensor,
        mask: Tensor,
        cond: Tensor | None = None,
        words: Tensor | None = None,
        word_mask: Tensor | None = None,
    ) -> dict:
        """Run the decoder: ``fill``, ``scales``, ``alphas``, ``raws``, ``structure``,
        ``attention`` (the finest word attention) and ``attentions`` (all of them)."""
        L = self.num_levels
        h = feats[L]
        out = {"scales": [], "alphas": [], "raws": [], "structure": [], "attention": None,
               "attentions": []}
        colours = []  # the word-colour head's maps, added to the fill at full resolution
        for level in range(L, -1, -1):
            key = str(level)
            if level == self.attention_level:
                h = self.nonlocal_attn(h, resize_mask(mask, tuple(h.shape[-2:])))
            parts = [h]
            if self._has_skip(level):
                parts.append(feats[level])
            if level == L and self.sentence_level == L:
                parts.append(_broadcast(cond, h))
            if key in self.word_attn:
                attend = self.word_attn[key]
                where = None if attend.where is None else hole_position(mask, h.shape[-2:])
                context, out["attention"] = attend(h, words, word_mask, where)
                out["attentions"].append(out["attention"])
                parts.append(context)
                if key in self.colour:
                    colours.append(self.colour[key](context))
            z = torch.cat(parts, dim=1)
            offset = _upsampled_sum(colours, z) if level == 0 and colours else None
            if key in self.fusion:
                completion, alpha, raw, blend = self.fusion[key](z, masked_image, mask, offset)
                out["scales"].append(completion)
                out["alphas"].append(alpha)
                out["raws"].append(raw)
                parts = [z, completion]
                if level == 0:
                    out["fill"] = blend
            else:
                parts = [z]
            if key in self.structure:
                out["structure"].append(self.structure[key](z))
                parts.append(out["structure"][-1])
            if level > 0:
                h = self.ups[key](torch.cat(parts, dim=1))
            elif self.head is not None:
                out["fill"] = torch.tanh(self.head(z) + (0 if offset is None else offset))
        return out


def _upsampled_sum(maps: list[Tensor], like: Tensor) -> Tensor:
    """The sum of ``maps`` (``B×3×h×w`` each), bilinearly upsampled to ``like``'s size."""
    size = tuple(like.shape[-2:])
    return sum(F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps)


class InpaintGenerator(nn.Module):
    """Text-guided inpainting generator (MMFL + DFNet fusion + structure knowledge).

    Call ``gen(image, mask, words, sentence, word_mask)`` with ``image`` ``B×3×H×W`` in
    [-1, 1], ``mask`` ``B×1×H×W`` (1 = hole), ``words`` ``B×word_dim×T``, ``sentence``
    ``B×sentence_dim`` and ``word_mask`` bool ``B×T`` (True = real word; None = all real).
    Missing text (``words``/``sentence`` None) counts as an empty caption. The generator masks
    the image itself, so hole pixels never reach it.

    Returns a dict:

    * ``coarse``, ``final``: composited ``B×3×H×W`` outputs of the two stages (``final`` is
      ``coarse`` without a refine stage); ``coarse_raw``, ``final_raw``: their fills before
      compositing (with fusion, ``final_raw`` is the full-resolution fusion blend);
    * ``scales``: composited completions per fusion level, coarsest first, ending with
      ``final`` (just ``[final]`` without fusion); ``alphas``: the fusion alphas; ``raws``:
      the fusion blocks' completions before blending (``B×3×h×w``, coarsest first);
    * ``structure``: predicted Sobel maps ``B×6×h×w`` (coarsest first, channels ordered
      R dx, R dy, G dx, G dy, B dx, B dy, as :func:`textinpaint.losses.structure.sobel_gradients`);
    * ``word_attention``: ``B×T×h×w`` maps of the finest word-attention layer of the last stage
      that has one (None without text); ``word_attentions``: every word-attention layer's
      maps, coarse stage first (empty without text); ``word_weights``: WDM weights ``B×T`` or None;
    * ``mu``, ``logvar``: conditioning augmentation statistics, or None without text.
    """

    def __init__(self, cfg: GeneratorConfig | None = None):
        super().__init__()
        cfg = self.cfg = cfg or GeneratorConfig()
        text = cfg.use_text
        word_levels = tuple(cfg.word_attention_levels) if text else ()
        last_parts = {
            "attention_level": cfg.attention_level if cfg.use_attention_layer else None,
            "fusion_levels": tuple(range(cfg.num_fusion_scales)) if cfg.use_fusion else (),
            "fusion_hidden": cfg.fusion_hidden,
            "structure_levels": (
                tuple(range(1, cfg.num_structure_scales + 1)) if cfg.use_structure else ()
            ),
        }
        sentence_level = cfg.num_levels if cfg.sentence_level == -1 else cfg.sentence_level
        self.conditioning = (
            ConditioningAugmentation(cfg.sentence_dim, cfg.cond_dim) if text else None
        )
        self.coarse = _Stage(
            4, cfg.conv_kind, cfg.base_channels, cfg.max_channels, cfg.num_levels,
            cfg.bottleneck_blocks, cfg.norm, stem=cfg.stem,
            sentence_level=sentence_level if text else None, cond_dim=cfg.cond_dim,
            word_levels=word_levels, word_dim=cfg.word_dim,
            word_position=cfg.word_attention_position, word_colour=cfg.word_colour_head,
            **({} if cfg.use_refine else last_parts),
        )  # fmt: skip
        self.demand_level = max(1, max(word_levels, default=1))
        self.word_demand = None
        if text and cfg.use_word_demand:
            self.word_demand = WordDemand(self.coarse.channels[self.demand_level], cfg.word_dim,
                                          normalize=cfg.word_demand_norm)
        self.refine = None
        if cfg.use_refine:
            self.refine = _Stage(
                4 if cfg.refine_input == "mask" else 6, cfg.refine_conv_kind,
                cfg.refine_base_channels, cfg.refine_max_channels, cfg.refine_num_levels,
                cfg.refine_bottleneck_blocks, cfg.norm, stem=cfg.refine_stem,
                word_levels=word_levels if cfg.refine_word_attention else (),
                word_dim=cfg.word_dim, word_position=cfg.word_attention_position,
                word_colour=cfg.word_colour_head, **last_parts,
            )  # fmt: skip

    def _text(self, image: Tensor, words, sentence, word_mask):
        """The text inputs, with missing text replaced by an empty caption."""
        if words is None or sentence is None:
            b = image.shape[0]
            words = image.new_zeros(b, self.cfg.word_dim, 1)
            sentence = image.new_zeros(b, self.cfg.sentence_dim)
            word_mask = torch.zeros(b, 1, dtype=torch.bool, device=image.device)
        elif word_mask is None:
            word_mask = torch.ones(words.shape[0], words.shape[2], dtype=torch.bool)
        return words, sentence, word_mask.to(device=image.device, dtype=torch.bool)

    def forward(
        self,
        image: Tensor,
        mask: Tensor,
        words: Tensor | None = None,
        sentence: Tensor | None = None,
        word_mask: Tensor | None = None,
    ) -> dict:
        """Inpaint ``image`` where ``mask`` is 1; see the class docstring for the outputs."""
        height, width = image.shape[-2:]
        check_size(height, width, self.cfg.num_levels, "the coarse stage")
        if self.refine is not None:
            check_size(height, width, self.cfg.refine_num_levels, "the refine stage")
        mask = mask.to(image.dtype)
        known = image * (1 - mask)
        # The guess the stages start from: zeros in the hole, or a classical fill.
        guess = known if self.cfg.prefill == "none" else prefill(self.cfg.prefill, known, mask)
        out = dict.fromkeys(("word_attention", "word_weights", "mu", "logvar"))
        cond = None
        if self.conditioning is not None:
            words, sentence, word_mask = self._text(image, words, sentence, word_mask)
            cond, out["mu"], out["logvar"] = self.conditioning(sentence)
        feats = self.coarse.encode(torch.cat([guess, mask], dim=1), cond)
        if self.word_demand is not None:
            words, out["word_weights"] = self.word_demand(
                feats[self.demand_level], words, word_mask
            )
        base = known if self.cfg.fusion_base == "known" else guess
        stage = self.coarse.decode(feats, base, mask, cond, words, word_mask)
        out["coarse_raw"] = stage["fill"]
        out["coarse"] = known + stage["fill"] * mask
        out["word_attention"] = stage["attention"]
        out["word_attentions"] = stage["attentions"]
        if self.refine is None:
            out["final_raw"], out["final"] = out["coarse_raw"], out["coarse"]
        else:
            second = mask if self.cfg.refine_input == "mask" else known
            refine_in = torch.cat([out["coarse"], second], dim=1)
            if self.cfg.fusion_base == "coarse":
                base = out["coarse"]
            stage = self.refine.decode(
                self.refine.encode(refine_in), base, mask, words=words, word_mask=word_mask
            )
            out["final_raw"] = stage["fill"]
            out["final"] = known + stage["fill"] * mask
            if stage["attention"] is not None:
                out["word_attention"] = stage["attention"]
            out["word_attentions"] = out["word_attentions"] + stage["attentions"]
        out["scales"] = stage["scales"][:-1] + [out["final"]]
        out["alphas"], out["raws"] = stage["alphas"], stage["raws"]
        out["structure"] = stage["structure"]
        return out
