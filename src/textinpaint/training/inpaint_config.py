"""The config tree of an inpainting training run (``configs/inpaint/*.yaml``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..config import ConfigError, check_choice, check_ranges
from ..losses.damsm import DEMAND_TARGETS
from ..nn.discriminator import DiscriminatorConfig
from ..nn.generator import GeneratorConfig


@dataclass
class LossConfig:
    """Weights of the generator's loss terms (0 switches a term off).

    ``hole``/``valid``: reconstruction L1 of the final fill inside and outside the hole, each
    averaged over its own region (per image, then over the batch, with ``per_image``);
    ``coarse``: the same for the coarse stage, relative to the final one; ``multiscale``:
    DFNet's L1 on every fusion output; ``raw``: hole L1 of every fusion block's completion
    before its alpha blend (see :func:`~textinpaint.losses.reconstruction.raw_completion_l1`);
    ``seam``: hole L1 weighted by ``exp(-distance to the known region / seam_px)``, so that
    hole edges and thin strokes match their surroundings while a large hole's inside stays the
    caption's (``seam_px`` at 128 px, scaled with the resolution; see
    :func:`~textinpaint.losses.reconstruction.seam_l1`);
    ``tga``: MMFL's text-guided attention L1; ``matching``: DAMSM word + sentence losses of the
    output (frozen encoders); ``structure``: the pyramid structure loss on the predicted Sobel
    maps (``grad_alpha``, ``edge_alpha`` inside it); ``demand``: KL from the words DAMSM
    finds in the real image's hole to the word-demand weights (needs
    ``generator.word_demand_norm: softmax``; ``demand_target``: ``hole`` = p(word | hole),
    ``contrast`` = that over p(word | context); see
    :func:`~textinpaint.losses.damsm.hole_word_demand`); ``demand_swap``: on colour-swapped
    items (``train.colour_swap``) the share of that target moved to the swap's new colour
    word, this many times the share of the hole the swap recoloured (at most all of it; see
    :func:`~textinpaint.losses.damsm.swap_word_demand`); ``swap_chroma``: ``chroma`` below on
    the hole pixels a colour swap recoloured only, whose colour is the caption's; ``chroma``:
    the hole's low-frequency CIELab chroma against the photo's (hue and saturation over 16-px
    cells at 128 px, scaled with the resolution; see
    :func:`~textinpaint.losses.reconstruction.chroma_l1`); ``adversarial``: the GAN term
    (``gan``: ``ralsgan`` or ``hinge``); ``feature_match``: L1 between the discriminator's
    activations on the fill and on the real image, every layer (pix2pixHD's feature matching:
    a texture signal from the paired photo where no pretrained perceptual network exists; see
    :func:`~textinpaint.losses.adversarial.feature_matching_l1`); ``d_colour_mismatch``: the
    discriminator's loss on real photos read with their caption's colour word changed, as
    fakes, this many times its main loss (a matching-aware critic, GAN-INT-CLS; needs
    ``discriminator.use_sentence``; see :mod:`~textinpaint.training.colour_mismatch`);
    ``part_binding``: cross-entropy of every word-attention layer, inside the hole, against
    where the caption's part-colour words belong ("a **red** crown": read near the head's
    CUB points, not near the other parts'; needs part points, file datasets; see
    :func:`~textinpaint.losses.binding.part_binding_loss`);
    ``kl``: conditioning augmentation's KL term.
    """

    hole: float = 6.0
    valid: float = 1.0
    coarse: float = 1.0
    multiscale: float = 1.0
    raw: float = 0.0
    seam: float = 0.0
    seam_px: float = 4.0
    per_image: bool = False
    tga: float = 1.0
    matching: float = 0.001
    structure: float = 1.0
    demand: float = 0.0
    demand_target: str = "hole"
    demand_swap: float = 0.0
    swap_chroma: float = 0.0
    chroma: float = 0.0
    grad_alpha: float = 0.1
    edge_alpha: float = 20.0
    adversarial: float = 0.002
    gan: str = "ralsgan"
    feature_match: float = 0.0
    d_colour_mismatch: float = 0.0
    part_binding: float = 0.0
    kl: float = 1.0
    gamma1: float = 4.0
    gamma2: float = 5.0
    gamma3: float = 10.0

    def __post_init__(self):
        check_ranges(self, "loss.", positive=("seam_px",), non_negative=(
            "seam", "demand", "demand_swap", "swap_chroma", "feature_match", "chroma",
            "d_colour_mismatch", "part_binding"))
        check_choice("loss.demand_target", self.demand_target, DEMAND_TARGETS)


@dataclass
class TrainConfig:
    """Optimisation, data and bookkeeping of the training loop."""

    batch_size: int = 8  # per process
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    max_steps: int = 20000
    # Both learning rates fall linearly to 0 from this fraction of ``max_steps`` on
    # (pix2pix's schedule: 0.5); 1.0 keeps them constant (MMFL). The schedule reads
    # ``train.max_steps``; ``--max-steps`` only ends a run early.
    lr_decay_start: float = 1.0
    # The clock of that schedule: "steps" (of ``train.max_steps``) or "minutes" (of training
    # time, of ``train.max_minutes``), so a run on a wall-clock budget ends with its decay done.
    lr_decay_over: str = "steps"
    # Stop (checkpoint and export) once the run's training time, summed over resumes, reaches
    # this many minutes; 0 = no limit. It sets equal wall-clock budgets across presets.
    max_minutes: float = 0.0
    grad_clip: float = 1.0  # max gradient norm; 0 switches clipping off
    # Update the discriminator on every k-th step only (the generator still meets its judgement
    # every step): on a CPU the discriminator's backward is the largest single cost.
    d_every: int = 1
    ema_decay: float = 0.999
    masks: str = "mix"  # mask spec of the training holes
    seed: int = 0
    num_workers: int = 0
    bf16: bool = True  # bf16 autocast where a GPU is used (CPU: see ``cpu_bf16``)
    # CPU bf16 autocast: "auto" only where the CPU has native bf16 instructions (avx512_bf16
    # or amx_bf16; without them bf16 ran 1.2-4x slower than fp32), "on", "off".
    cpu_bf16: bool | str = "auto"  # on/off/true/false all work (YAML reads on/off as bools)
    # Where batches are built: "loader" (per-sample Python, numpy masks, DataLoader workers),
    # "device" (the split resident on the device, batches and masks made there: see
    # training/resident_data.py), "auto" (device on a GPU, loader on a CPU).
    data: str = "auto"
    # Both networks in channels-last memory order: "auto" (on a GPU, where bf16 convolutions
    # want it; on this project's CPUs it ran 10 % slower), "on", "off".
    channels_last: bool | str = "auto"
    # torch.compile the generator and discriminator. Off by default: on a 2-core CPU it took
    # 3 minutes to compile and then ran 10 % slower; meant for GPUs.
    compile: bool = False
    # glibc keeps freed memory for reuse instead of unmapping it (training/runtime.py): in a
    # VM, page faults on fresh tensors made the step up to 2.4x slower.
    keep_freed_memory: bool = True
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_last: int = 3
    shapes_length: int = 20000  # scenes per epoch when training on ``shapes``
    # A model folder whose generator weights start a new run (generator and EMA; the
    # discriminator and optimisers start fresh): fine-tune a shipped model under a new recipe.
    init_generator: str = ""
    # Probability that a training item becomes a counterfactual colour swap: one colour word
    # of its caption and the bird's pixels of that colour moved to another colour
    # (data/colour_swap.py). File datasets with the loader data path only.
    colour_swap: float = 0.0
    # Share of those swaps that recolour one part the caption names a colour of ("a red
    # crown": the head only, that phrase only; data/part_swap.py); a caption without such a
    # phrase gets the whole swap. Needs CUB's part points.
    part_swap: float = 0.0
    # A regular expression over the generator's parameter names: only those it finds are
    # trained, the rest stay as initialised (e.g. "^word_demand\\." teaches a fine-tuned
    # model's word-demand module without moving how it paints). Empty: train everything.
    trainable: str = ""

    def __post_init__(self):
        if self.trainable:
            try:
                re.compile(self.trainable)
            except re.error as exc:
                raise ConfigError(f"config key 'train.trainable' is not a regular expression "
                                  f"({exc}): e.g. '^word_demand\\.'") from None
        for name in ("cpu_bf16", "channels_last"):
            if isinstance(getattr(self, name), bool):
                setattr(self, name, "on" if getattr(self, name) else "off")
        for name, choices in (("cpu_bf16", ("auto", "on", "off")),
                              ("data", ("auto", "loader", "device")),
                              ("channels_last", ("auto", "on", "off"))):
            check_choice(f"train.{name}", getattr(self, name), choices)
        check_ranges(self, "train.", positive=("batch_size", "max_steps", "log_every",
                                               "shapes_length", "d_every"),
                     non_negative=("lr_g", "lr_d", "max_minutes", "grad_clip", "ema_decay",
                                   "sample_every", "checkpoint_every", "keep_last",
                                   "num_workers", "lr_decay_start", "colour_swap",
                                   "part_swap"))
        for name in ("colour_swap", "part_swap"):
            if getattr(self, name) > 1:
                raise ConfigError(f"config key 'train.{name}' is a probability in [0, 1], "
                                  f"got {getattr(self, name)}")
        if self.part_swap and not self.colour_swap:
            raise ConfigError("config key 'train.part_swap' is a share of the colour swaps: "
                              "set train.colour_swap above 0, or train.part_swap=0")


@dataclass
class InpaintConfig:
    """A whole training run: resolution, networks, losses and loop."""

    resolution: int = 128
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        check_ranges(self, "", positive=("resolution",))
        g = self.generator
        if self.loss.demand and not (g.use_text and g.use_word_demand
                                     and g.word_demand_norm == "softmax"):
            raise ConfigError("config key 'loss.demand' trains competing word-demand weights: "
                              "set generator.word_demand_norm=softmax (with use_text and "
                              "use_word_demand on) or loss.demand=0")
        if self.loss.demand_swap and not (self.loss.demand and self.train.colour_swap):
            raise ConfigError("config key 'loss.demand_swap' moves the word-demand target of "
                              "colour-swapped items: set loss.demand and train.colour_swap "
                              "above 0, or loss.demand_swap=0")
        if self.loss.d_colour_mismatch and not (g.use_text and self.discriminator.use_sentence):
            raise ConfigError("config key 'loss.d_colour_mismatch' shows the discriminator photos "
                              "with a changed caption: set discriminator.use_sentence=true (with "
                              "generator.use_text) or loss.d_colour_mismatch=0")
        if self.loss.part_binding and not g.use_text:
            raise ConfigError("config key 'loss.part_binding' trains the word attention: set "
                              "generator.use_text=true or loss.part_binding=0")
        if self.loss.swap_chroma and not self.train.colour_swap:
            raise ConfigError("config key 'loss.swap_chroma' weighs the colours of colour-swapped "
                              "items: set train.colour_swap above 0, or loss.swap_chroma=0")
