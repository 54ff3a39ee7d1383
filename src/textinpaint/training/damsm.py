"""DAMSM pre-training: the text and image encoders learn to match captions and images.

``train_damsm(spec, run_dir, cfg)`` builds the vocabulary from the training captions, trains
both encoders with AttnGAN's word and sentence losses (Adam, lr 2e-3, β = (0.5, 0.999), the
learning rate × 0.98 per epoch down to a tenth) and exports a DAMSM folder into the run
folder itself, which the inpainting GAN then loads with ``model_folder.load_damsm``::

    RUN_DIR/  config.json  text_encoder.safetensors  image_encoder.safetensors  vocab.json
              train_config.yaml  metrics.jsonl  tb/  checkpoints/

Resume is exact: the data order is a pure function of (seed, epoch) (and each sample of
(seed, epoch, index)), and a checkpoint holds the weights, the optimiser, the RNG states and
the position within the epoch, so a run interrupted and resumed ends with the same weights,
bit for bit, as one that never stopped. The learning rate is a pure function of the step.

Under ``torchrun`` (or ``accelerate launch``) the loop runs data parallel with
``train.batch_size`` images per process; the losses still see the whole batch's negatives
(:mod:`.distributed`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from accelerate.utils import broadcast, gather_object
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config import check_ranges, save_yaml, to_dict
from ..data import build_dataset, collate, parse_dataset_spec, train_captions
from ..data.shapes import true_captions
from ..data.text import DEFAULT_MAX_LEN, Vocabulary
from ..errors import UserError
from ..losses.damsm import GAMMA1_DEFAULT, GAMMA2, GAMMA3, sentence_loss, words_loss
from ..model_folder import Damsm, save_damsm
from ..nn.image_encoder import ImageEncoder, ImageEncoderConfig
from ..nn.text_encoder import TextEncoder, TextEncoderConfig
from ..outputs import ensure_writable_dir
from .checkpoint import (
    diverged_note,
    list_checkpoints,
    load_newest,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .distributed import gather_batch, main_process_value, sum_gradients
from .logger import MetricsLogger
from .runtime import configure_threads, make_accelerator
from .sampler import EpochBatches
from .schedule import check_decay_clock, decay_clock, linear_decay

log = logging.getLogger(__name__)


@dataclass
class DamsmDataConfig:
    resolution: int = 64  # square training resolution
    max_len: int = DEFAULT_MAX_LEN  # caption length in words
    min_word_count: int = 1  # vocabulary: words seen fewer times become <unk>
    length: int | None = None  # shapes only: scenes per split (default 20,000 train)
    crop: bool = True  # CUB's bird-centred crop
    cache: bool = True  # cache resized images on disk

    def __post_init__(self):
        check_ranges(self, "data.", positive=("resolution", "max_len", "min_word_count"))


@dataclass
class DamsmModelConfig:
    feature_dim: int = 256  # word, sentence, region and global features
    word_embed_dim: int = 300
    text_dropout: float = 0.5
    image_widths: tuple[int, ...] = (32, 64, 128, 256, 512)
    image_blocks: int = 1
    image_norm: str = "group"
    sentence_pool: str = "final"  # see TextEncoderConfig
    global_pool: str = "last"  # see ImageEncoderConfig


@dataclass
class DamsmTrainLoop:
    batch_size: int = 48  # AttnGAN
    lr: float = 0.002  # AttnGAN
    betas: tuple[float, float] = (0.5, 0.999)
    lr_schedule: str = "epoch"  # "epoch": × lr_decay per epoch (AttnGAN); "cosine": to the
    # floor at max_steps (better when the step budget is known in advance); "linear":
    # constant until lr_decay_start × max_steps, then a straight line to the floor at max_steps
    lr_decay: float = 0.98  # per epoch, for "epoch"
    lr_min_factor: float = 0.1  # the decay stops at lr × this
    lr_decay_start: float = 0.8  # for "linear": the fraction of max_steps it stays constant
    # What "cosine" and "linear" run over: "steps" (max_steps) or "minutes" (training time,
    # summed over resumes, up to max_minutes), so a run on a time budget ends its decay.
    lr_decay_over: str = "steps"
    warmup_steps: int = 100  # linear warm-up (from scratch, Adam at 2e-3 needs it)
    grad_clip: float = 1.0  # max global gradient norm; 0 = off
    # The image encoder's forward under bf16 autocast (convolutions in bf16, features and
    # losses in fp32). On this AVX-512-bf16 CPU, one thread (benchmarks/damsm_speed.py):
    # shapes-64 308 -> 362 images/s, cub-128 108 -> 137. Off by default: the quality check,
    # 15-min shapes runs (R-precision 0.874 fp32; 0.882 and 0.890 bf16), is within
    # run-to-run noise.
    bf16: bool = False
    max_steps: int = 5000  # optimiser steps of the whole run
    max_minutes: float = 0.0  # stop (and export) after this much training time, summed over
    # resumes; 0 = no limit
    gamma1: float = GAMMA1_DEFAULT
    gamma2: float = GAMMA2
    gamma3: float = GAMMA3
    mask_same_class: bool = True  # AttnGAN: same-class images are no negatives
    # Where samples carry their scene (``shapes``): a caption that is true of another image
    # of the batch is no negative for it (shapes captions name only some objects).
    mask_true_captions: bool = True
    checkpoint_every: int = 500
    keep_last: int = 2
    log_every: int = 20
    num_workers: int = 0
    threads: int = 0  # torch CPU threads; 0 = the idle CPUs (see training/runtime.py)
    seed: int = 0
    eval_limit: int = 1000  # test pairs for the R-precision at export; 0 = skip it
    tensorboard: bool = True

    def __post_init__(self):
        check_ranges(self, "train.", positive=("batch_size", "max_steps", "checkpoint_every",
                                               "log_every"),
                     non_negative=("lr", "lr_decay", "lr_min_factor", "lr_decay_start",
                                   "warmup_steps", "grad_clip", "max_minutes", "keep_last",
                                   "num_workers", "threads", "eval_limit"))


@dataclass
class DamsmTrainConfig:
    data: DamsmDataConfig = field(default_factory=DamsmDataConfig)
    model: DamsmModelConfig = field(default_factory=DamsmModelConfig)
    train: DamsmTrainLoop = field(default_factory=DamsmTrainLoop)


# configs/ at the repository root (src/textinpaint/training/damsm.py -> parents[3]).
PRESET_DIR = Path(__file__).resolve().parents[3] / "configs" / "damsm"


def preset_for(dataset_name: str, resolution: int | None = None) -> Path | None:
    """The preset ``configs/damsm/<name>-<resolution>.yaml`` if it exists (resolution None:
    the default training resolution), else None."""
    res = resolution if resolution is not None else DamsmDataConfig().resolution
    path = PRESET_DIR / f"{dataset_name}-{res}.yaml"
    return path if path.is_file() else None


class TrainingDiverged(UserError):
    """The loss or the gradients became non-finite; the run stopped before the bad step."""


def build_encoders(cfg: DamsmTrainConfig, vocab_size: int) -> tuple[TextEncoder, ImageEncoder]:
    """Fresh text and image encoders for ``cfg`` and a vocabulary of ``vocab_size`` words."""
    m = cfg.model
    text = TextEncoder(TextEncoderConfig(vocab_size=vocab_size, embed_dim=m.word_embed_dim,
                                         hidden_dim=m.feature_dim, dropout=m.text_dropout,
                                         max_len=cfg.data.max_len,
                                         sentence_pool=m.sentence_pool))
    image = ImageEncoder(ImageEncoderConfig(embed_dim=m.feature_dim, widths=tuple(m.image_widths),
                                            blocks=m.image_blocks, norm=m.image_norm,
                                            global_pool=m.global_pool))
    return text, image


def build_optimizer(params: list[torch.nn.Parameter], t: DamsmTrainLoop) -> torch.optim.Adam:
    """The encoders' Adam (AttnGAN's betas; the learning rate is set per step by
    :func:`lr_at`)."""
    # fused: one kernel per step instead of a dozen per tensor (~6 % of a shapes step on CPU)
    return torch.optim.Adam(params, lr=t.lr, betas=tuple(t.betas), fused=True)


def lr_at(step: int, steps_per_epoch: int, t: DamsmTrainLoop, seconds: float = 0.0
          ) -> float:
    """The learning rate of optimiser step ``step`` (0-based) after ``seconds`` of training
    (read only with ``train.lr_decay_over=minutes``): a pure function of its clocks, so a
    resumed run needs no scheduler state.

    Raises:
        UserError: an unknown ``train.lr_schedule`` or ``train.lr_decay_over``, or a clock
            that cannot run (minutes without ``train.max_minutes``, or with "epoch").
    """
    check_decay_clock(t.lr_decay_over, t.max_minutes)
    if t.lr_decay_over == "minutes" and t.lr_schedule == "epoch":
        raise UserError("train.lr_decay_over=minutes needs train.lr_schedule=linear or cosine "
                        "(the 'epoch' decay counts epochs)")
    clock, end = decay_clock(t.lr_decay_over, step, t.max_steps, seconds, t.max_minutes)
    warm = min(1.0, (step + 1) / t.warmup_steps) if t.warmup_steps > 0 else 1.0
    if t.lr_schedule == "cosine":
        progress = min(1.0, clock / max(1, end))
        decay = t.lr_min_factor + (1 - t.lr_min_factor) * 0.5 * (1 + math.cos(math.pi * progress))
    elif t.lr_schedule == "linear":
        factor = linear_decay(clock, end, t.lr_decay_start)
        decay = t.lr_min_factor + (1 - t.lr_min_factor) * factor
    elif t.lr_schedule == "epoch":
        decay = max(t.lr_decay ** (step / steps_per_epoch), t.lr_min_factor)
    else:
        raise UserError("train.lr_schedule must be 'epoch', 'cosine' or 'linear', got "
                        f"'{t.lr_schedule}'")
    return t.lr * warm * decay


def damsm_losses(text_encoder: TextEncoder, image_encoder: ImageEncoder, batch: dict,
                 t: DamsmTrainLoop) -> dict[str, torch.Tensor]:
    """The four DAMSM loss terms of a batch and their sum (``loss``).

    Under data parallelism each process passes its share of the batch; the features are
    gathered, so every process computes the loss over the whole batch (see
    :mod:`.distributed`)."""
    image = batch["image"]
    with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=t.bf16):
        local, glob = image_encoder(image)
    local, glob = gather_batch(local.float()), gather_batch(glob.float())
    words, sentence, word_mask = text_encoder.encode(batch["tokens"], batch["length"])
    tokens = gather_batch(batch["tokens"].masked_fill(~word_mask, 0))
    words, sentence = gather_batch(words), gather_batch(sentence)
    word_mask = gather_batch(word_mask)
    # Identical captions of two images are no negatives of each other, whatever the class.
    same_text = (tokens[:, None] == tokens[None]).all(-1)
    exclude = same_text
    if t.mask_true_captions and "objects" in batch:
        true = true_captions(gather_object(batch["caption"]), gather_object(batch["objects"]))
        exclude = exclude | torch.from_numpy(true).to(same_text.device)
    class_ids = gather_batch(batch["class_id"]) if t.mask_same_class else None
    w0, w1, _ = words_loss(local, words, word_mask, class_ids, t.gamma1, t.gamma2, t.gamma3,
                           exclude=exclude)
    s0, s1 = sentence_loss(glob, sentence, class_ids, t.gamma3, exclude=exclude)
    return {"loss": w0 + w1 + s0 + s1, "w_loss0": w0, "w_loss1": w1, "s_loss0": s0,
            "s_loss1": s1}


def _dataset_kwargs(cfg: DamsmTrainConfig, vocab: Vocabulary, spec: str) -> dict:
    d = cfg.data
    kw = dict(resolution=d.resolution, masks=None, vocab=vocab, seed=cfg.train.seed,
              max_len=d.max_len, crop=d.crop, cache=d.cache)
    if parse_dataset_spec(spec)[0] == "shapes":
        kw["length"] = d.length
    return kw


def _check_resume(state: dict, cfg: DamsmTrainConfig, dataset_spec: str, run_dir: Path,
                  world: int) -> None:
    if state.get("dataset") != dataset_spec:
        raise UserError(f"run '{run_dir}' trains on '{state.get('dataset')}', not "
                        f"'{dataset_spec}'; resume with the same --dataset or use a new --out")
    if state.get("processes", 1) != world:
        # The position within the epoch is counted in batches of train.batch_size × processes.
        raise UserError(f"run '{run_dir}' was trained by {state.get('processes', 1)} "
                        f"process(es), not {world}; resume with as many")
    saved, now = state["config"], to_dict(cfg)
    for section in ("data", "model"):
        if saved.get(section) != now[section]:
            raise UserError(f"run '{run_dir}' was started with a different '{section}' config; "
                            "resume with the same --config and overrides, or use a new --out")


def train_damsm(dataset_spec: str, out_dir: str | Path, cfg: DamsmTrainConfig,
                max_steps: int | None = None, resume: bool = False,
                progress: bool = True) -> Path:
    """Train the DAMSM encoders and export them as a DAMSM folder into ``out_dir``.

    Args:
        dataset_spec: ``shapes``, ``cub:PATH``, ... (the training split is used).
        out_dir: the run folder (checkpoints, logs and the exported DAMSM folder).
        cfg: the run's configuration.
        max_steps: stop once the run has made this many optimiser steps (the learning-rate
            schedule still follows ``cfg.train``); None: ``cfg.train.max_steps``.
        resume: continue from the run's latest checkpoint (a fresh start if it has none).
        progress: show a tqdm progress bar.

    Returns:
        ``out_dir``, now a DAMSM folder (``model_folder.load_damsm`` reads it).

    Raises:
        UserError: bad dataset or config, a run already in ``out_dir`` without ``resume``,
            or a non-finite loss (:class:`TrainingDiverged`).
    """
    t = cfg.train
    run_dir = Path(out_dir)
    acc = make_accelerator(cpu=not torch.cuda.is_available())
    rank, world, main = acc.process_index, acc.num_processes, acc.is_main_process
    device = acc.device
    if max_steps is not None and max_steps <= 0:
        raise UserError(f"max_steps (--max-steps) must be at least 1, got {max_steps}")
    found = load_newest(run_dir) if resume else None
    ckpt_path, state = found if found else (None, None)
    if not resume and list_checkpoints(run_dir):
        raise UserError(f"'{run_dir}' already holds a training run; pass --resume to continue "
                        "it or choose another --out")
    if resume and ckpt_path is None:
        log.warning("no checkpoint in '%s'; starting a new run", run_dir)
    lr_at(0, 1, t)  # an unknown schedule fails here, before anything is written
    configure_threads(t.threads)
    # Each process its own dropout and data RNG streams; rank 0's are a single process's.
    torch.manual_seed(t.seed + rank)
    np.random.seed((t.seed + rank) % 2**32)

    if state is None and main:
        ensure_writable_dir(run_dir, "run folder")
    if state is not None:
        _check_resume(state, cfg, dataset_spec, run_dir, world)
        vocab = Vocabulary(state["vocab"][2:])
    else:
        vocab = Vocabulary.build(train_captions(dataset_spec), min_count=cfg.data.min_word_count)
    dataset = build_dataset(dataset_spec, "train", train=True, **_dataset_kwargs(cfg, vocab,
                                                                                 dataset_spec))
    steps_per_epoch = len(dataset) // (t.batch_size * world)
    if steps_per_epoch == 0:
        raise UserError(f"the training split has {len(dataset)} images, fewer than "
                        f"train.batch_size={t.batch_size} × {world} processes; lower "
                        "train.batch_size")

    text_encoder, image_encoder = build_encoders(cfg, len(vocab))
    text_encoder.to(device)
    image_encoder.to(device)
    # Every process starts from rank 0's weights.
    broadcast([*text_encoder.state_dict().values(), *image_encoder.state_dict().values()])
    params = list(text_encoder.parameters()) + list(image_encoder.parameters())
    optimizer = build_optimizer(params, t)
    step = epoch = batch_in_epoch = 0
    wall_before = 0.0
    if state is not None:
        text_encoder.load_state_dict(state["text_encoder"])
        image_encoder.load_state_dict(state["image_encoder"])
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        wall_before = state["wall_time_s"]
        set_rng_state(state.get("rng_per_process", [state["rng"]])[rank])
        log.info("resuming '%s' at step %d (epoch %d, batch %d)", run_dir, step, epoch,
                 batch_in_epoch)
    elif main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_yaml(cfg, run_dir / "train_config.yaml")
        vocab.save(run_dir / "vocab.json")
    del state

    stop_at = min(t.max_steps, max_steps) if max_steps is not None else t.max_steps
    start_time = time.time()
    seconds = wall_before  # rank 0's training time, summed over resumes

    def training_time() -> float:
        return wall_before + time.time() - start_time

    def out_of_time() -> bool:
        # Every process must stop (and decay) alike, so rank 0's clock decides for all; the
        # collective runs only when there is a budget to watch.
        nonlocal seconds
        if t.max_minutes <= 0:
            return False
        seconds = main_process_value(training_time(), device)
        return seconds >= 60 * t.max_minutes

    def checkpoint() -> None:
        rngs = gather_object([rng_state()])  # a collective: every process takes part
        if main:
            save_checkpoint(run_dir, {
                "text_encoder": text_encoder.state_dict(),
                "image_encoder": image_encoder.state_dict(),
                "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
                "batch_in_epoch": batch_in_epoch, "rng": rngs[0], "rng_per_process": rngs,
                "processes": world, "config": to_dict(cfg), "vocab": list(vocab.itos),
                "dataset": dataset_spec, "wall_time_s": training_time()},
                step, t.keep_last)

    logger = MetricsLogger(run_dir, t.tensorboard,
                           resume_step=step if ckpt_path else None) if main else None
    bar = tqdm(total=stop_at, initial=step, desc="DAMSM", disable=not (progress and main),
               dynamic_ncols=True, mininterval=2.0)
    window = {"n": 0, "images": 0, "t0": time.time()}
    sums: dict[str, float] = {}
    text_encoder.train()
    image_encoder.train()
    last_saved = step if ckpt_path else -1
    # A resumed run may have spent its budget already (the same checkpoint on every process).
    timed_out = 0 < t.max_minutes and 60 * t.max_minutes <= wall_before
    try:
        while step < stop_at and not timed_out:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            loader = DataLoader(
                dataset, batch_sampler=EpochBatches(len(dataset), t.batch_size, t.seed, epoch,
                                                    batch_in_epoch, rank, world, tag=0x5EED),
                collate_fn=collate, num_workers=t.num_workers,
                # An own generator: building a loader must not consume the global RNG, or a
                # resumed run would draw different dropout masks than an uninterrupted one.
                generator=torch.Generator().manual_seed(t.seed + epoch))
            for batch in loader:
                batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v
                         for k, v in batch.items()}
                lr = lr_at(step, steps_per_epoch, t, seconds)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                # Every process computes the same loss over the whole batch, so they all stop
                # here together on a non-finite one.
                losses = damsm_losses(text_encoder, image_encoder, batch, t)
                if not torch.isfinite(losses["loss"]):
                    raise TrainingDiverged(_diverged_message("loss", step, run_dir))
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                sum_gradients(params)
                norm = torch.nn.utils.clip_grad_norm_(params, t.grad_clip if t.grad_clip > 0
                                                      else float("inf"))
                if not torch.isfinite(norm):
                    raise TrainingDiverged(_diverged_message("gradient norm", step, run_dir))
                optimizer.step()
                step += 1
                batch_in_epoch += 1
                if batch_in_epoch == steps_per_epoch:
                    epoch, batch_in_epoch = epoch + 1, 0
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v.item()
                window["n"] += 1
                window["images"] += len(batch["image"]) * world
                bar.update(1)
                if main and (step % t.log_every == 0 or step == stop_at):
                    rate = window["images"] / max(time.time() - window["t0"], 1e-9)
                    means = {k: v / window["n"] for k, v in sums.items()}
                    logger.log(step, {**means, "lr": lr, "grad_norm": float(norm),
                                      "images_per_s": rate, "epoch": epoch})
                    bar.set_postfix(loss=f"{means['loss']:.3f}", img_s=f"{rate:.1f}")
                    sums.clear()
                    window.update(n=0, images=0, t0=time.time())
                if step % t.checkpoint_every == 0:
                    checkpoint()
                    last_saved = step
                timed_out = out_of_time()
                if step >= stop_at or timed_out:
                    break
        if timed_out:
            log.info("train.max_minutes=%s reached at step %d", t.max_minutes, step)
        if last_saved != step:
            checkpoint()
    finally:
        bar.close()
        if logger is not None:
            logger.close()

    wall = training_time()
    if main:
        export_damsm(run_dir, text_encoder, image_encoder, vocab, cfg, dataset_spec,
                     {"steps": step, "epochs": round(step / steps_per_epoch, 3),
                      "wall_time_s": round(wall, 1), "processes": world})
    acc.wait_for_everyone()
    return run_dir


def _diverged_message(what: str, step: int, run_dir: Path) -> str:
    keep = diverged_note(run_dir)
    return (f"the DAMSM {what} became non-finite at step {step + 1}; the run stopped before "
            f"that step and {keep}; lower train.lr or train.grad_clip and resume or restart")


def export_damsm(run_dir: Path, text_encoder: TextEncoder, image_encoder: ImageEncoder,
                 vocab: Vocabulary, cfg: DamsmTrainConfig, dataset_spec: str,
                 extra: dict) -> dict:
    """Write the DAMSM folder (and, if ``train.eval_limit``, the test R-precision) into
    ``run_dir``; returns the config.json contents."""
    from ..evaluation.rprecision import evaluate_damsm

    info = {"resolution": cfg.data.resolution, "max_len": cfg.data.max_len,
            "dataset": dataset_spec, **extra, "gamma1": cfg.train.gamma1,
            "gamma2": cfg.train.gamma2, "gamma3": cfg.train.gamma3,
            "train_config": to_dict(cfg)}
    text_encoder.eval()
    image_encoder.eval()
    if cfg.train.eval_limit > 0:
        damsm = Damsm(text_encoder, image_encoder, vocab, info)
        # The test split is always drawn with seed 0: the same pairs whatever the run's seed.
        kwargs = {**_dataset_kwargs(cfg, vocab, dataset_spec), "seed": 0}
        test = build_dataset(dataset_spec, "test", train=False, **kwargs)
        t0 = time.time()
        result = evaluate_damsm(damsm, test, limit=cfg.train.eval_limit, seed=cfg.train.seed)
        info["evaluation"] = {"split": "test", **result, "seconds": round(time.time() - t0, 1)}
        log.info("test R-precision %.4f ± %.4f on %d pairs", result["r_precision"]["mean"],
                 result["r_precision"]["std"], result["n_images"])
    save_damsm(run_dir, text_encoder, image_encoder, vocab, extra=info)
    log.info("DAMSM folder written to '%s'", run_dir)
    return info


__all__ = ["DamsmDataConfig", "DamsmModelConfig", "DamsmTrainConfig", "DamsmTrainLoop",
           "EpochBatches", "TrainingDiverged", "build_encoders", "build_optimizer", "damsm_losses",
           "export_damsm", "lr_at", "preset_for", "train_damsm"]
