"""The inpainting GAN's training loop.

One loop for one CPU, one GPU or many: HF Accelerate wraps the generator and discriminator
for data parallelism (``accelerate launch`` or ``torchrun`` start the processes) and supplies
bf16 autocast on GPUs. Each step:

1. encode the captions with the frozen DAMSM text encoder;
2. run the generator once;
3. discriminator step on real vs. (detached) fake;
4. generator step on reconstruction, multi-scale, text-guided attention, matching,
   structure, adversarial and KL terms (weights in :class:`LossConfig`);
5. update the EMA copy of the generator, which is what samples and exports use.

Batches come from the per-sample loader or, with ``train.data=device`` (the default on a
GPU), from the training split resident on the device (:mod:`.resident_data`). Nothing in a
step waits for the device: the loss terms stay tensors until a logging step reads them, and
their finiteness is checked there and before every checkpoint, which is written by a
background thread from a copy of the state.

Data order and every per-sample random choice are functions of (seed, epoch, index), and the
checkpoint carries the models, optimisers, EMA, step and RNG states, so ``--resume`` continues
exactly where an uninterrupted run would be.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import platform
import re
import time
from pathlib import Path

import torch
from torch.profiler import record_function
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..config import to_dict
from ..data import build_dataset, collate, parse_dataset_spec
from ..errors import UserError
from ..losses.adversarial import feature_matching_l1, get_gan_loss
from ..losses.binding import part_binding_loss
from ..losses.damsm import (
    hole_word_demand,
    sentence_loss,
    swap_word_demand,
    word_demand_loss,
    words_loss,
)
from ..losses.reconstruction import (
    chroma_l1,
    masked_l1,
    multiscale_l1,
    raw_completion_l1,
    seam_l1,
    text_guided_attention_loss,
)
from ..losses.structure import pyramid_structure_loss
from ..model_folder import Damsm, load_damsm, load_weights, save_model, write_json
from ..nn.conditioning import kl_loss
from ..nn.discriminator import PatchDiscriminator
from ..nn.generator import InpaintGenerator, count_parameters, zero_start_params
from ..outputs import ensure_writable_dir
from ..visualize import caption_grid
from .checkpoint import (
    CheckpointWriter,
    diverged_note,
    find_latest,
    load_checkpoint,
    load_newest,
    rng_state,
    set_rng_state,
)
from .colour_mismatch import colour_mismatched, colour_token_ids
from .cpu_features import use_cpu_bf16
from .distributed import main_process_value
from .inpaint_config import InpaintConfig
from .logger import MetricsLogger
from .model_card import model_card
from .resident_data import ResidentData
from .runtime import keep_freed_memory, make_accelerator
from .sampler import EpochBatches
from .schedule import check_decay_clock, check_decay_start, decay_clock, linear_decay

log = logging.getLogger(__name__)

# ``max_steps`` for a run that ends only on ``train.max_minutes``.
NO_STEP_LIMIT = 10**9


def hardware() -> str:
    """What this process trains on, for model cards."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    cpu = platform.processor() or platform.machine()
    return f"CPU ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


class TrainingDiverged(UserError):
    """A loss became non-finite; the run stopped and its checkpoints are intact."""


def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    # One foreach kernel per dtype instead of one launch per parameter (hundreds on a GPU).
    with torch.no_grad():
        torch._foreach_lerp_(list(ema.parameters()),
                             [p.detach() for p in model.parameters()], 1.0 - decay)
        for e, b in zip(ema.buffers(), model.buffers()):
            e.copy_(b)


def _setting_on(setting: str, on_gpu: bool) -> bool:
    """An ``auto``/``on``/``off`` setting whose ``auto`` means "on a GPU"."""
    return setting == "on" or (setting == "auto" and on_gpu)


class InpaintTrainer:
    """Holds the networks, optimisers and data of one run; :meth:`fit` trains it."""

    def __init__(self, cfg: InpaintConfig, dataset_spec: str, damsm_dir: str | Path,
                 run_dir: str | Path, preset: str = "custom"):
        self.cfg, self.dataset_spec, self.preset = cfg, dataset_spec, preset
        self.run_dir = Path(run_dir)
        t = cfg.train
        # Checked first: a bad value must fail before data and networks are built.
        check_decay_start(t.lr_decay_start)
        check_decay_clock(t.lr_decay_over, t.max_minutes)
        if t.keep_freed_memory:
            keep_freed_memory()
        use_gpu = torch.cuda.is_available()
        bf16 = t.bf16 if use_gpu else use_cpu_bf16(t.cpu_bf16)
        self.acc = make_accelerator(cpu=not use_gpu, mixed_precision="bf16" if bf16 else "no")
        self.device = self.acc.device
        torch.manual_seed(t.seed + self.acc.process_index)
        self.damsm: Damsm = load_damsm(damsm_dir, self.device)
        self.damsm_dir = Path(damsm_dir)
        self._check_compatible()

        self.dataset = self._dataset()
        self.G = InpaintGenerator(cfg.generator)
        self.D = PatchDiscriminator(cfg.discriminator)
        if t.init_generator:
            self._init_generator(t.init_generator)
        if t.trainable:
            self._freeze_all_but(t.trainable)
        self.ema = copy.deepcopy(self.G).eval().requires_grad_(False).to(self.device)
        if _setting_on(t.channels_last, use_gpu):  # not the EMA: it is saved as safetensors
            for net in (self.G, self.D):
                net.to(memory_format=torch.channels_last)
        # Fused Adam: one kernel for all parameters instead of a handful per tensor (torch's
        # CPU default); for the full generator's 162 tensors 33 -> 4 ms a step on a CPU.
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=t.lr_g, betas=tuple(t.betas),
                                      fused=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=t.lr_d, betas=tuple(t.betas),
                                      fused=True)
        if t.compile:  # in place, so unwrapping, the EMA copy and state dicts stay as they are
            self.G.compile()
            self.D.compile()
        self.G, self.D, self.opt_g, self.opt_d = self.acc.prepare(
            self.G, self.D, self.opt_g, self.opt_d)
        self.resident = self._resident_data(use_gpu)
        self._finite = torch.ones((), dtype=torch.bool, device=self.device)
        self._writer = CheckpointWriter()
        self.d_loss_fn, self.g_loss_fn = get_gan_loss(cfg.loss.gan)
        self.colour_ids = (colour_token_ids(self.damsm.vocab.stoi)
                           if cfg.loss.d_colour_mismatch else [])
        self.step, self.images_seen, self.wall_time = 0, 0, 0.0
        self.shared_time = 0.0  # rank 0's wall_time, the same on every process
        global_batch = t.batch_size * self.acc.num_processes
        self.steps_per_epoch = len(self.dataset) // global_batch
        if self.steps_per_epoch == 0:
            raise UserError(f"dataset '{dataset_spec}' has {len(self.dataset)} training images, "
                            f"fewer than one batch of {global_batch}: lower train.batch_size")

    # -- setup -----------------------------------------------------------------------------
    def _check_compatible(self) -> None:
        g, te = self.cfg.generator, self.damsm.text_encoder.cfg
        if g.use_text and (g.word_dim != te.hidden_dim or g.sentence_dim != te.hidden_dim):
            raise UserError(
                f"the DAMSM text encoder in '{self.damsm_dir}' gives {te.hidden_dim}-d features "
                f"but the generator expects {g.word_dim}: set generator.word_dim and "
                f"generator.sentence_dim to {te.hidden_dim}")
        multiple = g.size_multiple
        if self.cfg.resolution % multiple:
            raise UserError(f"resolution {self.cfg.resolution} is not a multiple of {multiple}, "
                            "which this generator's depth needs: pick another --resolution")

    def _init_generator(self, folder: str) -> None:
        path = Path(folder) / "generator.safetensors"
        if not path.is_file():
            raise UserError(f"train.init_generator: '{folder}' holds no generator.safetensors; "
                            "give a model folder written by 'textinpaint train'")
        try:
            # parts the folder's generator lacks start at zero (nn/generator.py)
            load_weights(self.G, path, dtype=torch.float32, new=zero_start_params(self.G.cfg))
        except UserError as exc:
            raise UserError(f"train.init_generator: {exc}; keep that model's generator "
                            "settings") from None
        log.info("generator initialised from %s", path)

    def _freeze_all_but(self, pattern: str) -> None:
        """Train only the generator parameters whose names ``pattern`` finds."""
        found = re.compile(pattern)
        params = dict(self.G.named_parameters())
        chosen = [name for name in params if found.search(name)]
        if not chosen:
            raise UserError(f"train.trainable: '{pattern}' names no generator parameter; they "
                            f"read like '{next(iter(params))}'")
        for name, param in params.items():
            param.requires_grad_(name in chosen)
        log.info("training %d of %d generator tensors (train.trainable=%s)", len(chosen),
                 len(params), pattern)

    def _dataset(self):
        kwargs = {}
        if parse_dataset_spec(self.dataset_spec)[0] == "shapes":
            kwargs["length"] = self.cfg.train.shapes_length
        dataset = build_dataset(self.dataset_spec, "train", self.cfg.resolution,
                                masks=self.cfg.train.masks, vocab=self.damsm.vocab, train=True,
                                seed=self.cfg.train.seed, max_len=self.damsm.max_len, **kwargs)
        if self.cfg.train.colour_swap > 0:
            if not hasattr(dataset, "colour_swap"):
                raise UserError(f"train.colour_swap needs a file dataset (photos and captions); "
                                f"'{self.dataset_spec}' draws its scenes: set train.colour_swap=0")
            dataset.colour_swap = self.cfg.train.colour_swap
            dataset.part_swap = self.cfg.train.part_swap
            if dataset.part_swap and not any(rec.parts for rec in dataset.records):
                log.warning("train.part_swap: '%s' has no part points, so every swap "
                            "recolours the whole bird", self.dataset_spec)
        if self.cfg.loss.part_binding > 0:
            if not hasattr(dataset, "binding_size"):
                raise UserError(f"loss.part_binding needs a file dataset with part points; "
                                f"'{self.dataset_spec}' draws its scenes: set loss.part_binding=0")
            dataset.binding_size = max(1, self.cfg.resolution // 8)
            if not any(rec.parts for rec in dataset.records):
                log.warning("loss.part_binding: '%s' has no part points, so the term is always "
                            "0", self.dataset_spec)
        return dataset

    def _resident_data(self, use_gpu: bool) -> ResidentData | None:
        t = self.cfg.train
        # resident pixels are fixed once; a swap recolours each item as it is drawn, and the
        # part-binding maps are drawn with its caption
        per_item = {"train.colour_swap": t.colour_swap, "loss.part_binding":
                    self.cfg.loss.part_binding}
        per_item = [name for name, value in per_item.items() if value > 0]
        if per_item and t.data == "device":
            raise UserError(f"{per_item[0]} is drawn by the loader for each item: "
                            "set train.data=loader (or auto)")
        if t.data == "loader" or (t.data == "auto" and (not use_gpu or per_item)):
            return None
        if use_gpu and self.cfg.generator.prefill in ("telea", "ns"):
            log.warning("generator.prefill=%s runs OpenCV on the CPU every step; "
                        "generator.prefill=pyramid or none keeps the step on the GPU",
                        self.cfg.generator.prefill)
        data = ResidentData(self.dataset, self.device, self.acc.process_index)
        log.info("training split resident on %s: %d images, %.0f MB of pixels", self.device,
                 len(data), data.pixels.numel() / 2**20)
        return data

    def _sampler(self, epoch: int, start: int) -> EpochBatches:
        return EpochBatches(len(self.dataset), self.cfg.train.batch_size, self.cfg.train.seed,
                            epoch, start, self.acc.process_index, self.acc.num_processes,
                            tag=0x6A11)

    def _loader(self, epoch: int, start: int) -> DataLoader:
        self.dataset.set_epoch(epoch)
        # A private generator: creating a loader must not draw from the global torch RNG,
        # or a resumed run (which creates one mid-epoch) would drift from an uninterrupted one.
        return DataLoader(self.dataset, batch_sampler=self._sampler(epoch, start),
                          collate_fn=collate, num_workers=self.cfg.train.num_workers,
                          generator=torch.Generator().manual_seed(self.cfg.train.seed + epoch))

    def batches(self, epoch: int, start: int):
        """This process's batches of ``epoch`` from global batch ``start`` on."""
        if self.resident is None:
            yield from self._loader(epoch, start)
            return
        for position, indices in enumerate(self._sampler(epoch, start), start):
            yield self.resident.batch(indices, epoch, position)

    # -- one step --------------------------------------------------------------------------
    def _encode_text(self, batch: dict):
        if not self.cfg.generator.use_text:
            return None, None, None
        with torch.no_grad():
            return self.damsm.text_encoder.encode(batch["tokens"], batch["length"])

    def _matching_loss(self, final, words, sentence, word_mask, class_ids):
        """DAMSM word + sentence losses of the generated images (encoders frozen)."""
        lc = self.cfg.loss
        local, glob = self.damsm.image_encoder(final)
        w0, w1, _ = words_loss(local, words, word_mask, class_ids, lc.gamma1, lc.gamma2,
                               lc.gamma3)
        s0, s1 = sentence_loss(glob, sentence, class_ids, lc.gamma3)
        return w0 + w1 + s0 + s1

    def _demand_loss(self, batch, image, mask, words, word_mask, weights):
        """The word-demand weights against the words DAMSM finds in the real image's hole
        (and, with ``loss.demand_swap``, the colour words a swap made necessary)."""
        lc = self.cfg.loss
        with torch.no_grad(), self.acc.autocast():
            local, _ = self.damsm.image_encoder(image)
        target = hole_word_demand(local.float(), words.float(), word_mask, mask,
                                  lc.demand_target)
        if lc.demand_swap and "swap_words" in batch:
            target = swap_word_demand(target, batch["swap_words"].to(self.device),
                                      batch["swap_share"].to(self.device), word_mask,
                                      lc.demand_swap)
        return word_demand_loss(weights, target, word_mask)

    def lr_factor(self) -> float:
        """The learning rates' factor now: a pure function of the step (so resume needs no
        scheduler state), 1 until ``train.lr_decay_start`` × ``max_steps``, then falling
        linearly to 0 at ``max_steps``; with ``train.lr_decay_over=minutes`` the same of the
        training time and ``train.max_minutes``."""
        t = self.cfg.train
        now, end = decay_clock(t.lr_decay_over, self.step, t.max_steps, self.shared_time,
                               t.max_minutes)
        return linear_decay(now, end, t.lr_decay_start)

    def train_step(self, batch: dict) -> dict[str, torch.Tensor]:
        """One generator update, and a discriminator update on every ``train.d_every``-th
        step; returns the loss terms as 0-d tensors (reading them waits for the device:
        :meth:`read_terms` does, on logging steps)."""
        lc, t = self.cfg.loss, self.cfg.train
        factor = self.lr_factor()
        for opt, lr in ((self.opt_g, t.lr_g), (self.opt_d, t.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor
        image, mask = batch["image"].to(self.device), batch["mask"].to(self.device)
        batch = {**batch, "tokens": batch["tokens"].to(self.device),
                 "length": batch["length"].to(self.device)}
        with record_function("text encoder"):
            words, sentence, word_mask = self._encode_text(batch)
        d_sentence = sentence if self.cfg.discriminator.use_sentence else None
        with record_function("generator forward"), self.acc.autocast():
            out = self.G(image, mask, words, sentence, word_mask)

        d_plain = self.acc.unwrap_model(self.D)
        fm = lc.feature_match > 0  # the discriminator's activations are needed too
        update_d = self.step % t.d_every == 0  # the step counter decides: resumes stay exact
        if update_d:
            with record_function("discriminator update"):
                real, real_feats, d_loss = self._discriminator_step(
                    image, mask, out["final"], d_sentence, fm, self._mismatched(batch))
        else:
            # No update this step: the relativistic losses still need the reals' logits.
            with record_function("discriminator on reals"), torch.no_grad(), \
                    self.acc.autocast():
                real, real_feats = d_plain(image, mask, d_sentence, features=True)
            real = real.float()

        # Generator: the unwrapped discriminator judges the fake (it is not updated here).
        terms: dict[str, torch.Tensor] = {}
        d_plain.requires_grad_(False)
        with record_function("discriminator on fake"), self.acc.autocast():
            fake, fake_feats = d_plain(out["final"], mask, d_sentence, features=True)
        fake = fake.float()
        d_plain.requires_grad_(True)
        if not update_d:  # logged only: the loss the discriminator would see
            d_loss = self.d_loss_fn(real, fake.detach())
        terms["adversarial"] = self.g_loss_fn(real, fake)  # real is detached on both paths
        if fm:
            terms["feature_match"] = feature_matching_l1(fake_feats, real_feats)
        terms["rec"] = masked_l1(out["final_raw"].float(), image, mask, lc.hole, lc.valid,
                                 lc.per_image)
        if self.cfg.generator.use_refine and lc.coarse:
            terms["rec"] = terms["rec"] + lc.coarse * masked_l1(
                out["coarse_raw"].float(), image, mask, lc.hole, lc.valid, lc.per_image)
        if lc.seam:
            terms["seam"] = seam_l1(out["final_raw"].float(), image, mask,
                                    lc.seam_px * self.cfg.resolution / 128)
        cell = max(1, round(16 * self.cfg.resolution / 128))
        if lc.chroma:
            terms["chroma"] = chroma_l1(out["final_raw"], image, mask, cell)
        if lc.swap_chroma and "swap_map" in batch:
            terms["swap_chroma"] = chroma_l1(out["final_raw"], image,
                                             mask * batch["swap_map"].to(self.device), cell)
        if lc.multiscale and len(out["alphas"]):
            terms["multiscale"] = multiscale_l1([s.float() for s in out["scales"]], image)
        if lc.raw and out["raws"]:
            terms["raw"] = raw_completion_l1([r.float() for r in out["raws"]], image, mask)
        if lc.structure and out["structure"]:
            with record_function("structure loss"):
                terms["structure"] = pyramid_structure_loss(
                    [s.float() for s in out["structure"]], image, lc.grad_alpha, lc.edge_alpha)
        if words is not None:
            if lc.tga:
                terms["tga"] = text_guided_attention_loss(
                    out["final"].float(), image, out["word_attention"], word_mask)
            if lc.matching and image.shape[0] > 1:
                with record_function("matching loss"), self.acc.autocast():
                    terms["matching"] = self._matching_loss(
                        out["final"], words, sentence, word_mask,
                        batch["class_id"].to(self.device)).float()
            if lc.demand and out["word_weights"] is not None:
                terms["demand"] = self._demand_loss(batch, image, mask, words, word_mask,
                                                    out["word_weights"].float())
            if lc.part_binding and "bind_own" in batch:
                terms["part_binding"] = part_binding_loss(
                    out["word_attentions"], batch["bind_own"].to(self.device),
                    batch["bind_other"].to(self.device), mask)
            if lc.kl and out["mu"] is not None:
                terms["kl"] = kl_loss(out["mu"].float(), out["logvar"].float())
        weights = {"rec": 1.0, "seam": lc.seam, "multiscale": lc.multiscale, "raw": lc.raw,
                   "structure": lc.structure, "tga": lc.tga, "matching": lc.matching,
                   "demand": lc.demand, "chroma": lc.chroma, "swap_chroma": lc.swap_chroma,
                   "part_binding": lc.part_binding, "kl": lc.kl, "adversarial": lc.adversarial,
                   "feature_match": lc.feature_match}
        g_loss = sum(weights[k] * v for k, v in terms.items())
        # Remembered on the device, checked by read_terms: a check here would wait every step.
        self._finite &= torch.isfinite(g_loss.detach()) & torch.isfinite(d_loss.detach())
        self.opt_g.zero_grad(set_to_none=True)
        with record_function("generator backward"):
            self.acc.backward(g_loss)
        with record_function("generator update and EMA"):
            if t.grad_clip > 0:
                self.acc.clip_grad_norm_(self.G.parameters(), t.grad_clip)
            self.opt_g.step()
            # EMA warms up so early exports are not dominated by the random initialisation.
            decay = min(t.ema_decay, (1 + self.step) / (10 + self.step))
            _ema_update(self.ema, self.acc.unwrap_model(self.G), decay)
        return {"g_loss": g_loss.detach(), "d_loss": d_loss.detach(),
                **{k: v.detach() for k, v in terms.items()}}

    def _mismatched(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
        """With ``loss.d_colour_mismatch``: the sentence features of the batch's captions with
        a colour word changed, and which items were changed (None when the term is off)."""
        if not self.cfg.loss.d_colour_mismatch:
            return None
        # Drawn from (seed, step) alone, so a resumed run shows the discriminator the same.
        draws = torch.Generator().manual_seed(self.cfg.train.seed * 1_000_003 + self.step)
        tokens, changed = colour_mismatched(batch["tokens"], batch["length"], self.colour_ids,
                                            draws)
        if not changed.any():
            return None
        changed = changed.to(tokens.device)
        with torch.no_grad():  # only the changed captions need their sentence
            _, sentence, _ = self.damsm.text_encoder.encode(tokens[changed],
                                                            batch["length"][changed])
        return sentence, changed.to(self.device)

    def _discriminator_step(self, image, mask, final, d_sentence, features: bool,
                            mismatched=None):
        """One discriminator update on real and fake in one forward (one DDP call); returns
        the reals' logits and, with ``features``, their activations (detached, from before the
        update, as the logits), and the discriminator's loss. ``mismatched`` (from
        :meth:`_mismatched`) adds the changed items' real photos read with the changed
        captions, as fakes, weighted by ``loss.d_colour_mismatch``."""
        t, batch = self.cfg.train, image.shape[0]
        images, masks, sentences = [image, final.detach()], [mask, mask], [d_sentence] * 2
        if mismatched is not None:
            wrong_sentence, changed = mismatched
            images.append(image[changed])
            masks.append(mask[changed])
            sentences.append(wrong_sentence)
        with self.acc.autocast():
            logits, feats = self.D(torch.cat(images), torch.cat(masks),
                                   None if d_sentence is None else torch.cat(sentences),
                                   features=True)
        logits = logits.float()
        real, fake = logits[:batch], logits[batch:2 * batch]
        real_feats = [f[:batch].detach() for f in feats] if features else []
        d_loss = self.d_loss_fn(real, fake)
        if mismatched is not None:
            d_loss = d_loss + self.cfg.loss.d_colour_mismatch * self.d_loss_fn(
                real[changed], logits[2 * batch:])
        self.opt_d.zero_grad(set_to_none=True)
        self.acc.backward(d_loss)
        if t.grad_clip > 0:
            self.acc.clip_grad_norm_(self.D.parameters(), t.grad_clip)
        self.opt_d.step()
        return real.detach(), real_feats, d_loss

    def read_terms(self, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The loss terms as floats (one wait for the device); raises
        :class:`TrainingDiverged` if any loss since the last check was not finite."""
        values = torch.stack([v.float() for v in terms.values()]).tolist() if terms else []
        out = dict(zip(terms, values))
        if not bool(self._finite):
            bad = [k for k, v in out.items() if not math.isfinite(v)]
            raise TrainingDiverged(
                f"loss became non-finite at step {self.step} or earlier "
                f"({', '.join(bad) or 'at a step before'}); "
                f"{diverged_note(self.run_dir)}: lower train.lr_g/lr_d or lower "
                "train.grad_clip, then --resume or start again")
        return out

    # -- bookkeeping -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything :meth:`load_state_dict` needs to continue exactly."""
        return {"G": self.acc.unwrap_model(self.G).state_dict(),
                "D": self.acc.unwrap_model(self.D).state_dict(),
                "ema": self.ema.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "step": self.step,
                "images_seen": self.images_seen, "wall_time": self.wall_time,
                "rng": rng_state(), "config": to_dict(self.cfg)}

    def load_state_dict(self, state: dict) -> None:
        """Restore a state written by :meth:`state_dict`."""
        self.acc.unwrap_model(self.G).load_state_dict(state["G"])
        self.acc.unwrap_model(self.D).load_state_dict(state["D"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step, self.images_seen = int(state["step"]), int(state["images_seen"])
        self.wall_time = self.shared_time = float(state["wall_time"])
        set_rng_state(state["rng"])

    def resume(self) -> bool:
        """Continue from the run's newest checkpoint that loads; False if there is none."""
        found = load_newest(self.run_dir)
        if found is None:
            return False
        path, state = found
        self.load_state_dict(state)
        log.info("resumed from %s at step %d", path, self.step)
        return True

    def start_from(self, source: str | Path) -> None:
        """Take the whole state of another run's latest checkpoint (or of a checkpoint file)."""
        source = Path(source)
        path = source if source.is_file() else find_latest(source)
        if path is None:
            raise UserError(f"'{source}' holds no checkpoint; give a run folder of "
                            "'textinpaint train' or one of its checkpoint files")
        try:
            self.load_state_dict(load_checkpoint(path))
        except (RuntimeError, ValueError, KeyError) as exc:  # another architecture
            raise UserError(f"checkpoint '{path}' does not fit this config's networks "
                            f"({str(exc).splitlines()[0][:160]}); keep the generator and "
                            "discriminator settings of that run") from None
        log.info("starting from %s at step %d", path, self.step)

    def save_samples(self, n: int = 6) -> Path:
        """A PNG grid from the EMA generator: masked input, coarse, final, ground truth."""
        items = [self.dataset[i] for i in range(min(n, len(self.dataset)))]
        batch = collate(items)
        image, mask = batch["image"].to(self.device), batch["mask"].to(self.device)
        words, sentence, word_mask = self._encode_text(
            {**batch, "tokens": batch["tokens"].to(self.device),
             "length": batch["length"].to(self.device)})
        with torch.no_grad():
            out = self.ema(image, mask, words, sentence, word_mask)

        def u8(x):
            return ((x.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu()

        masked = image * (1 - mask) + mask  # hole shown white
        cols = [u8(masked), u8(out["coarse"]), u8(out["final"]), u8(image)]
        rows = [[c[i].numpy() for c in cols] for i in range(len(items))]
        grid = caption_grid(rows, batch["caption"], ncols=2,
                            titles=["masked input", "coarse", "final", "ground truth"])
        path = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        grid.save(path)
        return path

    def export(self) -> Path:
        """Write the model folder (EMA generator + DAMSM files + card) into the run folder."""
        card_info = self.summary()
        save_model(self.run_dir, self.ema, self.damsm, card_info,
                   card=model_card(card_info))
        return self.run_dir

    def summary(self) -> dict:
        """What the model folder's config and card say about this run."""
        return {"name": self.run_dir.name, "preset": self.preset,
                "resolution": self.cfg.resolution, "dataset": self.dataset_spec,
                "split": "train", "steps": self.step, "images_seen": self.images_seen,
                "wall_time_s": round(self.wall_time, 1), "processes": self.acc.num_processes,
                "hardware": hardware(), "damsm": str(self.damsm_dir),
                "parameters": count_parameters(self.ema),
                "train": dataclasses.asdict(self.cfg.train),
                "loss": dataclasses.asdict(self.cfg.loss),
                "discriminator": dataclasses.asdict(self.cfg.discriminator)}

    # -- the loop --------------------------------------------------------------------------
    def fit(self, max_steps: int | None = None, progress: bool = True) -> Path:
        """Train until ``max_steps`` (default ``train.max_steps``), then export.

        ``progress=False`` replaces the progress bar (whose redraws fill a log file) with one
        log line per checkpoint.
        """
        t = self.cfg.train
        total = t.max_steps if max_steps is None else max_steps
        main = self.acc.is_main_process
        logger = MetricsLogger(self.run_dir, resume_step=self.step) if main else None
        if main:
            write_json(self.run_dir / "train_config.json",
                       {"dataset": self.dataset_spec, "preset": self.preset,
                        "damsm": str(self.damsm_dir), "hardware": hardware(),
                        "processes": self.acc.num_processes, **to_dict(self.cfg)})
        # a run that only ends on the clock has no step total worth a progress bar
        bar = tqdm(total=total if total < NO_STEP_LIMIT else None, initial=self.step,
                   disable=not (main and progress), dynamic_ncols=True,
                   desc=f"train {self.preset}")
        last_time, last_step = time.time(), self.step
        last_terms = None
        timed_out = self._out_of_time()  # a resumed run may have spent its budget already
        try:  # a stopped run must not leave its progress bar on the terminal
            while self.step < total and not timed_out:
                epoch, start = divmod(self.step, self.steps_per_epoch)
                for batch in self.batches(epoch, start):
                    t0 = time.time()
                    self.G.train()
                    terms = self.train_step(batch)
                    self.step += 1
                    self.images_seen += t.batch_size * self.acc.num_processes
                    self.wall_time += time.time() - t0
                    logging_step = self.step % t.log_every == 0 or self.step == total
                    if logging_step:  # every process checks, at the same steps
                        terms = self.read_terms(terms)
                    if main and logging_step:
                        now = time.time()
                        ips = (self.step - last_step) * t.batch_size * self.acc.num_processes / max(
                            now - last_time, 1e-9)
                        last_time, last_step = now, self.step
                        logger.log(self.step, {**terms, "images_per_s": ips, "epoch": epoch,
                                                "lr_g": self.opt_g.param_groups[0]["lr"]})
                        bar.set_postfix(g=f"{terms['g_loss']:.3f}", d=f"{terms['d_loss']:.3f}",
                                        rec=f"{terms['rec']:.3f}", ips=f"{ips:.1f}")
                        last_terms = (terms, ips)
                    bar.update(1)
                    if main and t.sample_every and self.step % t.sample_every == 0:
                        self.save_samples()
                    if t.checkpoint_every and self.step % t.checkpoint_every == 0:
                        self._checkpoint()
                        if main and not progress and last_terms is not None:
                            self._log_progress(*last_terms, total)
                    timed_out = self._out_of_time()
                    if self.step >= total or timed_out:
                        break
        finally:
            bar.close()
        if timed_out:
            log.info("train.max_minutes=%s reached at step %d", t.max_minutes, self.step)
        self.read_terms({})  # nothing non-finite may reach the last checkpoint or the export
        self.acc.wait_for_everyone()
        if main:
            if self.step % max(t.checkpoint_every, 1) != 0 or not t.checkpoint_every:
                self._checkpoint()
            self.save_samples()
            self.export()
            logger.close()
        self._writer.wait()
        self.acc.wait_for_everyone()
        return self.run_dir

    def _log_progress(self, terms: dict, ips: float, total: int) -> None:
        of = f"/{total}" if total < NO_STEP_LIMIT else ""
        log.info("step %d%s: g %.3f d %.3f rec %.3f, %.1f images/s, %.1f min trained",
                 self.step, of, terms["g_loss"], terms["d_loss"], terms["rec"], ips,
                 self.wall_time / 60)

    def _out_of_time(self) -> bool:
        # Every process must stop at the same step (and decay its learning rates alike), so
        # rank 0's clock decides for all.
        limit = self.cfg.train.max_minutes
        if limit <= 0:  # the same config on every process: no budget, no collective
            return False
        self.shared_time = main_process_value(self.wall_time, self.device)
        return self.shared_time >= 60 * limit

    def _checkpoint(self) -> None:
        self.read_terms({})  # never write a state that a non-finite loss has touched
        if self.acc.is_main_process:
            self._writer.save(self.run_dir, self.state_dict(), self.step,
                              self.cfg.train.keep_last)


def train_inpaint(cfg: InpaintConfig, dataset_spec: str, damsm_dir: str | Path,
                  run_dir: str | Path, preset: str = "custom", max_steps: int | None = None,
                  resume: bool = False, start_from: str | Path | None = None,
                  progress: bool = True) -> Path:
    """Train (or resume) an inpainting run and export its model folder into ``run_dir``.

    ``start_from``: another run's folder (its latest checkpoint) or a checkpoint file whose
    whole state (networks, optimisers, EMA, step, images seen, training time) a new run
    continues under ``cfg``, e.g. a second phase with other masks or losses.
    ``progress=False``: no progress bar, a log line per checkpoint instead.
    """
    if max_steps is not None and max_steps <= 0:
        raise UserError(f"max_steps (--max-steps) must be at least 1, got {max_steps}")
    ensure_writable_dir(run_dir, "run folder")
    trainer = InpaintTrainer(cfg, dataset_spec, damsm_dir, run_dir, preset)
    if not resume and find_latest(run_dir) is not None:
        raise UserError(f"'{run_dir}' already holds a run: pass --resume to continue it, or "
                        "choose another --out")
    # With both, a run interrupted in its second phase resumes from its own checkpoints.
    if not (resume and trainer.resume()):
        if start_from is not None:
            trainer.start_from(start_from)
        elif resume:
            log.info("no checkpoint in %s; starting a new run", run_dir)
    if trainer.acc.is_main_process:
        log.info("generator %s parameters, discriminator %s",
                 f"{count_parameters(trainer.ema):,}",
                 f"{count_parameters(trainer.acc.unwrap_model(trainer.D)):,}")
    return trainer.fit(max_steps, progress=progress)
