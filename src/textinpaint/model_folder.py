"""Model folders: the one unit training writes and evaluation, inference and the server read.

A **DAMSM folder** holds the pre-trained text and image encoders::

    config.json  text_encoder.safetensors  image_encoder.safetensors  vocab.json

An **inpainting model folder** holds all of that plus the generator (EMA weights) and a card::

    config.json  generator.safetensors  text_encoder.safetensors  image_encoder.safetensors
    vocab.json  README.md

``config.json`` carries every constructor argument, so loading needs nothing but the folder.
Weights are safetensors only: nothing a user hands in is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ConfigError, from_dict
from .data.text import DEFAULT_MAX_LEN, Vocabulary
from .errors import UserError
from .seam import SeamConfig, correct_seam, seam_config

DAMSM_FILES = ("config.json", "text_encoder.safetensors", "image_encoder.safetensors",
               "vocab.json")
MODEL_FILES = DAMSM_FILES + ("generator.safetensors",)
# The inference options a model folder may set for itself (config.json "inference").
INFERENCE_KEYS = ("seam",)


def _require_files(folder: Path, names: tuple[str, ...], what: str) -> None:
    if not folder.is_dir():
        raise UserError(f"{what} folder '{folder}' does not exist")
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise UserError(
            f"{what} folder '{folder}' lacks {', '.join(missing)}; "
            f"a complete one holds {', '.join(names)}"
        )


def read_config(folder: Path) -> dict[str, Any]:
    """The folder's ``config.json`` as a dict (clear error if missing or malformed)."""
    path = Path(folder) / "config.json"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"'{path}' does not exist") from None
    except UnicodeDecodeError:
        raise UserError(f"'{path}' is not UTF-8 text; write it as UTF-8 JSON") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise UserError(f"'{path}' is not valid JSON ({str(exc)[:120]})") from None
    except OSError as exc:
        raise UserError(f"cannot read '{path}' ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise UserError(f"'{path}' must hold a JSON object")
    return data


def load_weights(module: torch.nn.Module, path: Path, dtype: torch.dtype | None = None,
                 new: str | None = None) -> None:
    """Load safetensors weights into ``module``; a mismatch is a clear error naming the file.

    ``new``: a regular expression naming parameters the file may lack (a part added to a
    trained network, initialised so that it changes nothing); they keep their values.
    """
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise UserError(f"cannot read weights '{path}' ({exc})") from None
    ref = module.state_dict()
    state = {k: v.to(ref[k].dtype) if k in ref else v for k, v in state.items()}
    if new:
        state.update({k: v for k, v in ref.items() if k not in state and re.search(new, k)})
    missing = sorted(set(ref) - set(state))
    unexpected = sorted(set(state) - set(ref))
    shapes = sorted(k for k in set(ref) & set(state) if ref[k].shape != state[k].shape)
    if missing or unexpected or shapes:
        detail = "; ".join(f"{what} {names[0]}" + (f" (+{len(names) - 1} more)" if len(names) > 1
                                                   else "")
                           for what, names in (("missing", missing), ("unexpected", unexpected),
                                               ("wrong shape", shapes)) if names)
        raise UserError(
            f"weights '{path}' do not match the network in config.json ({detail}); "
            "the folder's files come from different runs or versions"
        )
    module.load_state_dict(state, strict=True)
    if dtype is not None:
        module.to(dtype)


def save_weights(module: torch.nn.Module, path: Path, half: bool = False) -> None:
    """Write ``module``'s state as safetensors (optionally fp16), atomically."""
    state = {}
    for k, v in module.state_dict().items():
        v = v.detach().cpu().contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    tmp = Path(str(path) + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically (never leaves half a file behind)."""
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False))
    os.replace(tmp, path)


def _positive_int(config: dict, key: str, default: int | None, folder: Path) -> int:
    """``config[key]`` as an int > 0, or a UserError naming the file and the key."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserError(f"'{folder / 'config.json'}' has {key} {value!r}; it must be a whole "
                        "number greater than 0 (the folder's config.json was edited or is "
                        "broken: re-export the model)")
    return value


def inference_defaults(config: dict, folder: Path) -> dict[str, bool]:
    """The model's own inference settings, ``config.json``'s ``inference`` (``{"seam":
    true}``: the card measured it with the seam correction, and callers get it unless they
    say otherwise); a UserError naming the file and the key where it is malformed."""
    return check_inference(config.get("inference", {}), f"'{folder / 'config.json'}'")


def check_inference(given: Any, where: str) -> dict[str, bool]:
    """``given`` as a complete inference-settings dict (every :data:`INFERENCE_KEYS` key,
    False where absent); a UserError naming ``where`` and the bad key otherwise."""
    if not isinstance(given, dict):
        raise UserError(f"{where} has inference {given!r}; it must be a mapping such as "
                        '{"seam": true}')
    unknown = sorted(set(given) - set(INFERENCE_KEYS))
    if unknown:
        raise UserError(f"{where} has unknown inference key(s) {', '.join(map(str, unknown))};"
                        f" the known ones are {', '.join(INFERENCE_KEYS)}")
    for key, value in given.items():
        if not isinstance(value, bool):
            raise UserError(f"{where} has inference.{key} {value!r}; it must be true or false")
    return {key: given.get(key, False) for key in INFERENCE_KEYS}


def _build(cls, cfg_dict: dict, folder: Path, key: str):
    try:
        return from_dict(cls, cfg_dict)
    except ConfigError as exc:
        raise UserError(f"'{folder / 'config.json'}' has a bad '{key}' section: {exc}") from None


@dataclass
class Damsm:
    """Frozen DAMSM encoders with their vocabulary, as loaded from a folder."""

    text_encoder: torch.nn.Module
    image_encoder: torch.nn.Module
    vocab: Vocabulary
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def max_len(self) -> int:
        return int(self.config.get("max_len", DEFAULT_MAX_LEN))


def save_damsm(folder: Path, text_encoder, image_encoder, vocab: Vocabulary,
               extra: dict | None = None, half: bool = False) -> None:
    """Export a DAMSM folder (encoders' configs are read from their ``cfg`` attributes);
    ``half`` stores the weights in fp16 (they load back as fp32)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_weights(text_encoder, folder / "text_encoder.safetensors", half=half)
    save_weights(image_encoder, folder / "image_encoder.safetensors", half=half)
    vocab.save(folder / "vocab.json")
    config = {"format": "textinpaint-damsm", "version": 1,
              "text_encoder": dataclasses.asdict(text_encoder.cfg),
              "image_encoder": dataclasses.asdict(image_encoder.cfg), **(extra or {})}
    write_json(folder / "config.json", config)


def load_damsm(folder: str | Path, device: str | torch.device = "cpu") -> Damsm:
    """Load a DAMSM folder (or the DAMSM part of a model folder), encoders in eval mode."""
    from .devices import check_device
    from .nn.image_encoder import ImageEncoder, ImageEncoderConfig
    from .nn.text_encoder import TextEncoder, TextEncoderConfig

    folder = Path(folder)
    device = check_device(device)
    _require_files(folder, DAMSM_FILES, "DAMSM")
    config = read_config(folder)
    _positive_int(config, "max_len", DEFAULT_MAX_LEN, folder)
    for key in ("text_encoder", "image_encoder"):
        if not isinstance(config.get(key), dict):
            raise UserError(f"'{folder / 'config.json'}' lacks the '{key}' section")
    text_encoder = TextEncoder(_build(TextEncoderConfig, config["text_encoder"], folder,
                                      "text_encoder"))
    image_encoder = ImageEncoder(_build(ImageEncoderConfig, config["image_encoder"], folder,
                                        "image_encoder"))
    load_weights(text_encoder, folder / "text_encoder.safetensors")
    load_weights(image_encoder, folder / "image_encoder.safetensors")
    vocab = Vocabulary.load(folder / "vocab.json")
    if len(vocab) != text_encoder.cfg.vocab_size:
        raise UserError(
            f"'{folder / 'vocab.json'}' has {len(vocab)} words but the text encoder expects "
            f"{text_encoder.cfg.vocab_size}; the folder's files come from different runs"
        )
    for m in (text_encoder, image_encoder):
        m.to(device).eval().requires_grad_(False)
    return Damsm(text_encoder, image_encoder, vocab, config)


# Words a caption must swap to describe the mirror image (the flip ensemble's second pass).
MIRRORED_WORDS = (("left", "right"), ("leftmost", "rightmost"))


@dataclass
class InpaintModel:
    """A loaded inpainting model folder: generator + DAMSM encoders + vocabulary + config.

    ``flip_ensemble``: fill each image and its mirror image (its caption's "left" and
    "right" swapped) and average the two fills (mirrored back), the self-ensemble of image
    restoration. Twice the compute for a fill with less error (about +0.1 dB hole PSNR for
    birds-128, see its card); off by default.

    ``seam``: after the fill, close the colour step along the hole's border with a smooth
    offset that fades into the hole (:mod:`textinpaint.seam`); None = off.

    ``guidance_scale``: how much the caption counts. The fill becomes
    ``fill(empty caption) + guidance_scale × (fill(caption) − fill(empty caption))``, clipped
    to the image range: classifier-free guidance's extrapolation, made on the one-pass fill
    itself. 1 (the default) is the model as trained, 0 the empty caption's fill; above 1
    costs a second pass (see :func:`check_guidance_scale` for the range).
    """

    generator: torch.nn.Module
    damsm: Damsm
    config: dict[str, Any]
    folder: Path | None = None
    flip_ensemble: bool = False
    seam: SeamConfig | None = None
    guidance_scale: float = 1.0

    @property
    def resolution(self) -> int:
        return int(self.config["resolution"])

    @property
    def name(self) -> str:
        name = str(self.config.get("name") or (self.folder.name if self.folder else "model"))
        return name + self.variant

    @property
    def variant(self) -> str:
        """What a display name appends for the inference options: ``+flip``, ``+seam``,
        ``+guide1.5`` (a guidance scale other than 1), several or nothing."""
        guide = f"+guide{self.guidance_scale:g}" if self.guidance_scale != 1.0 else ""
        return ("+flip" if self.flip_ensemble else "") + ("+seam" if self.seam else "") + guide

    @property
    def vocab(self) -> Vocabulary:
        return self.damsm.vocab

    @property
    def max_len(self) -> int:
        return self.damsm.max_len

    @property
    def uses_text(self) -> bool:
        return bool(getattr(self.generator.cfg, "use_text", True))

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def encode_text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids (B×T) and lengths (B) of ``captions`` with the model's vocabulary."""
        encoded = [self.vocab.encode(c, self.max_len) for c in captions]
        tokens = torch.as_tensor(np.stack([e[0] for e in encoded]), dtype=torch.int64)
        lengths = torch.as_tensor([e[1] for e in encoded], dtype=torch.int64)
        return tokens.to(self.device), lengths.to(self.device)

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor,
                 lengths: torch.Tensor) -> dict[str, Any]:
        """Fill ``image`` (B×3×R×R in [-1, 1]) where ``mask`` (B×1×R×R) is 1.

        Returns the generator's output dict (``final`` composited, ``word_attention``,
        ``word_weights`` ...); with ``flip_ensemble`` only those three, each the mean of the
        two passes. With ``seam``, ``final`` is seam-corrected.
        """
        out = self._fill(image, mask, tokens, lengths)
        if self.seam is not None:
            out["final"] = correct_seam(out["final"], mask, self.seam)
        return out

    def _fill(self, image: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor,
              lengths: torch.Tensor) -> dict[str, Any]:
        if not self.flip_ensemble:
            return self._forward(image, mask, tokens, lengths)
        n = image.shape[0]
        both = self._forward(torch.cat([image, image.flip(-1)]), torch.cat([mask, mask.flip(-1)]),
                             torch.cat([tokens, self.mirror_tokens(tokens)]), lengths.repeat(2))

        def mean(key: str, spatial: bool) -> torch.Tensor | None:
            value = both[key]
            if value is None:
                return None
            mirrored = value[n:].flip(-1) if spatial else value[n:]
            return (value[:n] + mirrored) / 2

        # Both passes keep the known pixels exactly, so their mean does too.
        return {"final": mean("final", True), "word_attention": mean("word_attention", True),
                "word_weights": mean("word_weights", False)}

    def mirror_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """The captions as they read for the mirror image: "left" and "right" swapped."""
        out = tokens.clone()
        stoi = self.vocab.stoi
        for a, b in MIRRORED_WORDS:
            if a in stoi and b in stoi:
                out[tokens == stoi[a]] = stoi[b]
                out[tokens == stoi[b]] = stoi[a]
        return out

    def _forward(self, image: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor,
                 lengths: torch.Tensor) -> dict[str, Any]:
        out = self._generate(image, mask, tokens, lengths)
        # An empty caption's fill is its own guided fill: no second pass for it.
        if self.guidance_scale == 1.0 or not self.uses_text or not bool(lengths.any()):
            return out
        empty_tokens, empty_lengths = self.encode_text([""] * image.shape[0])
        empty = self._generate(image, mask, empty_tokens, empty_lengths)["final"]
        # Both fills keep the known pixels exactly, so their difference is zero there.
        out["final"] = (empty + self.guidance_scale * (out["final"] - empty)).clamp(-1.0, 1.0)
        return out

    def _generate(self, image: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor,
                  lengths: torch.Tensor) -> dict[str, Any]:
        words = sentence = word_mask = None
        if self.uses_text:
            words, sentence, word_mask = self.damsm.text_encoder.encode(tokens, lengths)
        return self.generator(image, mask, words, sentence, word_mask)


GUIDANCE_MAX = 4.0  # past ~2 the fills of birds-128 are saturated halos (docs/EXPERIMENTS.md)


def check_guidance_scale(value: Any, where: str = "guidance_scale") -> float:
    """``value`` as a guidance scale in [0, GUIDANCE_MAX]; a UserError naming ``where``
    otherwise (1 = the model as trained, 0 = the empty caption's fill)."""
    try:
        scale = float(value)
    except (TypeError, ValueError):
        scale = math.nan
    if isinstance(value, bool) or not 0.0 <= scale <= GUIDANCE_MAX:
        raise UserError(f"{where} must be a number from 0 to {GUIDANCE_MAX:g} (1 = the model "
                        f"as trained, 0 = the empty caption's fill), not {value!r}")
    return scale


def save_model(folder: Path, generator, damsm: Damsm, config: dict[str, Any],
               card: str | None = None, half: bool = False) -> None:
    """Export an inpainting model folder. ``config`` must hold ``resolution`` and ``name``;
    the generator's config is taken from ``generator.cfg``."""
    folder = Path(folder)
    # The DAMSM run's own record (its steps, time, R-precision) nests under "damsm_run" so it
    # never collides with the inpainting run's fields of the same name.
    damsm_run = {k: v for k, v in damsm.config.items()
                 if k not in ("format", "version", "text_encoder", "image_encoder")}
    save_damsm(folder, damsm.text_encoder, damsm.image_encoder, damsm.vocab,
               extra={"max_len": damsm.max_len, "damsm_run": damsm_run}, half=half)
    save_weights(generator, folder / "generator.safetensors", half=half)
    merged = {**read_config(folder), **config, "format": "textinpaint-model", "version": 1,
              "generator": dataclasses.asdict(generator.cfg)}
    write_json(folder / "config.json", merged)
    if card is not None:
        (folder / "README.md").write_text(card)


def load_model(folder: str | Path, device: str | torch.device = "cpu",
               flip_ensemble: bool = False, seam: bool | SeamConfig | None = None,
               guidance_scale: float = 1.0) -> InpaintModel:
    """Load an inpainting model folder for inference (eval mode, no gradients).

    ``flip_ensemble``, ``seam`` (True = :class:`~textinpaint.seam.SeamConfig`'s defaults),
    ``guidance_scale``: see :class:`InpaintModel`; ``seam=None`` takes the folder's own setting
    (:func:`inference_defaults`, off where it names none).
    """
    from .nn.generator import GeneratorConfig, InpaintGenerator

    folder = Path(folder)
    _require_files(folder, MODEL_FILES, "model")
    config = read_config(folder)
    if config.get("format") != "textinpaint-model":
        raise UserError(f"'{folder}' is not an inpainting model folder (a DAMSM folder?); "
                        "pass the folder written by 'textinpaint train'")
    if not isinstance(config.get("generator"), dict) or "resolution" not in config:
        raise UserError(f"'{folder / 'config.json'}' lacks 'generator' or 'resolution'")
    resolution = _positive_int(config, "resolution", None, folder)
    if seam is None:
        seam = inference_defaults(config, folder)["seam"]
    damsm = load_damsm(folder, device)
    generator = InpaintGenerator(_build(GeneratorConfig, config["generator"], folder,
                                        "generator"))
    if resolution % generator.cfg.size_multiple:
        raise UserError(f"'{folder / 'config.json'}' has resolution {resolution}, not a multiple "
                        f"of {generator.cfg.size_multiple} as its generator needs; re-export "
                        "the model")
    load_weights(generator, folder / "generator.safetensors")
    generator.to(device).eval().requires_grad_(False)
    return InpaintModel(generator, damsm, config, folder, flip_ensemble, seam_config(seam),
                        check_guidance_scale(guidance_scale))


def init_model_folder(folder: str | Path, preset: str = "tiny", resolution: int = 32,
                      seed: int = 0, use_text: bool | None = None,
                      captions: list[str] | None = None) -> Path:
    """Write a model folder with randomly initialised networks of a preset.

    Real networks with untrained weights: for tests and smoke runs of evaluation, inference
    and the server, never for results. ``captions`` build the vocabulary (default: every word
    of the ``shapes`` grammar); ``use_text`` overrides the preset's generator setting.
    """
    from .config import load_config
    from .data import train_captions
    from .nn.generator import InpaintGenerator
    from .nn.image_encoder import ImageEncoder, ImageEncoderConfig
    from .nn.text_encoder import TextEncoder, TextEncoderConfig
    from .presets import preset_path
    from .training.inpaint_config import InpaintConfig

    torch.manual_seed(seed)
    overrides = [] if use_text is None else [f"generator.use_text={str(use_text).lower()}"]
    cfg = load_config(InpaintConfig, preset_path("inpaint", preset), overrides)
    vocab = Vocabulary.build(captions if captions is not None else train_captions("shapes"))
    text = TextEncoder(TextEncoderConfig(vocab_size=len(vocab), embed_dim=32,
                                         hidden_dim=cfg.generator.word_dim))
    image = ImageEncoder(ImageEncoderConfig(embed_dim=cfg.generator.word_dim,
                                            widths=(8, 16, 32, 64, 128)))
    damsm = Damsm(text.eval(), image.eval(), vocab,
                  {"resolution": resolution, "max_len": DEFAULT_MAX_LEN})
    generator = InpaintGenerator(cfg.generator).eval()
    save_model(Path(folder), generator, damsm,
               {"name": Path(folder).name, "preset": preset, "resolution": resolution,
                "dataset": "none (random initialisation)", "steps": 0},
               card=f"# {Path(folder).name}\n\nRandomly initialised `{preset}` networks "
                    "for tests; not a trained model.\n")
    return Path(folder)
