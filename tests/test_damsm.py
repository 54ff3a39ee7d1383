"""DAMSM: encoders, losses, R-precision, checkpoints, training with exact resume, CLI."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from textinpaint.cli import main
from textinpaint.config import load_config
from textinpaint.data import build_dataset, collate, train_captions
from textinpaint.data.text import Vocabulary
from textinpaint.errors import UserError
from textinpaint.evaluation.rprecision import r_precision, retrieval_accuracy
from textinpaint.losses.damsm import sentence_loss, words_loss
from textinpaint.model_folder import load_damsm
from textinpaint.nn.image_encoder import ImageEncoder, ImageEncoderConfig
from textinpaint.nn.text_encoder import TextEncoder, TextEncoderConfig
from textinpaint.training import damsm as damsm_training
from textinpaint.training.checkpoint import (
    find_latest,
    list_checkpoints,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from textinpaint.training.damsm import (
    PRESET_DIR,
    DamsmTrainConfig,
    TrainingDiverged,
    build_encoders,
    damsm_losses,
    train_damsm,
)


def tiny_text(vocab: int = 30, dropout: float = 0.0) -> TextEncoder:
    return TextEncoder(TextEncoderConfig(vocab_size=vocab, embed_dim=12, hidden_dim=16,
                                         dropout=dropout, max_len=7))


# -- encoders -----------------------------------------------------------------------------


def test_text_encoder_shapes_mask_and_padding_independence():
    torch.manual_seed(0)
    enc = tiny_text().eval()
    tokens = torch.randint(2, 30, (3, 7))
    lengths = torch.tensor([3, 7, 1])
    words, sentence, mask = enc.encode(tokens, lengths)
    assert words.shape == (3, 16, 7) and sentence.shape == (3, 16) and mask.dtype == torch.bool
    assert mask.tolist()[0] == [True] * 3 + [False] * 4
    assert mask.sum(1).tolist() == [3, 7, 1]
    assert torch.all(words[0, :, 3:] == 0)  # padding positions carry nothing
    other = tokens.clone()
    other[0, 3:] = torch.randint(2, 30, (4,))  # different garbage in the padding
    other[2, 1:] = 0
    words2, sentence2, _ = enc(other, lengths)
    assert torch.equal(sentence, sentence2) and torch.equal(words, words2)


def test_text_encoder_empty_and_full_captions_are_finite():
    torch.manual_seed(0)
    enc = tiny_text(dropout=0.5).train()
    tokens = torch.randint(2, 30, (4, 7))
    lengths = torch.tensor([0, 7, 0, 2])
    words, sentence, mask = enc.encode(tokens, lengths)
    assert not mask[0].any() and mask[1].all()
    assert torch.all(words[0] == 0) and torch.equal(sentence[0], sentence[2])
    img = ImageEncoder(ImageEncoderConfig(embed_dim=16, widths=(4, 8, 8, 16, 16)))
    local, glob = img(torch.rand(4, 3, 32, 32) * 2 - 1)
    w0, w1, attn = words_loss(local, words, mask)
    s0, s1 = sentence_loss(glob, sentence)
    loss = w0 + w1 + s0 + s1
    assert torch.isfinite(loss) and torch.isfinite(attn).all()
    loss.backward()
    for p in list(enc.parameters()) + list(img.parameters()):
        assert p.grad is None or torch.isfinite(p.grad).all()
    assert enc.empty_sentence.grad is not None  # the empty-caption feature is learned
    # All captions empty: the word loss is a (finite) zero.
    w, s, m = enc.encode(tokens, torch.zeros(4, dtype=torch.long))
    assert words_loss(local, w, m)[0].item() == 0.0


def test_pooled_sentence_and_global_features():
    """The pooled variants add the mean word / region feature, ignore padding, keep the
    learned empty-caption feature and refuse unknown names."""
    torch.manual_seed(0)
    cfg = dict(vocab_size=30, embed_dim=12, hidden_dim=16, dropout=0.0, max_len=7)
    final = TextEncoder(TextEncoderConfig(**cfg)).eval()
    pooled = TextEncoder(TextEncoderConfig(**cfg, sentence_pool="final+mean")).eval()
    pooled.load_state_dict(final.state_dict())
    tokens, lengths = torch.randint(2, 30, (3, 7)), torch.tensor([3, 7, 0])
    words, s_final, mask = final.encode(tokens, lengths)
    _, s_pooled, _ = pooled.encode(tokens, lengths)
    mean_words = words.sum(2) / lengths.clamp(min=1)[:, None]
    assert torch.allclose(s_pooled[:2], s_final[:2] + mean_words[:2], atol=1e-6)
    assert torch.equal(s_pooled[2], pooled.empty_sentence.detach())
    img_cfg = dict(embed_dim=16, widths=(4, 8, 8, 16, 16))
    last = ImageEncoder(ImageEncoderConfig(**img_cfg)).eval()
    both = ImageEncoder(ImageEncoderConfig(**img_cfg, global_pool="last+local")).eval()
    both.load_state_dict(last.state_dict())
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    local, glob = last(images)
    assert torch.allclose(both(images)[1], glob + local.mean(dim=(2, 3)), atol=1e-6)
    sets = ImageEncoder(ImageEncoderConfig(**img_cfg, global_pool="last+sets")).eval()
    sets.load_state_dict(last.state_dict(), strict=False)
    assert torch.allclose(sets(images)[1], glob + sets.sets(local).mean(dim=(2, 3)), atol=1e-6)
    # Regions "red + circle", "blue + square" vs "red + square", "blue + circle": the same
    # mean, but not the same mean of per-region nonlinear features.
    red, blue, circle, square = torch.randn(4, 16)
    a = torch.stack([red + circle, blue + square], -1)[None, :, :, None]  # 1×16×2×1
    b = torch.stack([red + square, blue + circle], -1)[None, :, :, None]
    assert torch.allclose(a.mean((2, 3)), b.mean((2, 3)), atol=1e-6)
    assert not torch.allclose(sets.sets(a).mean((2, 3)), sets.sets(b).mean((2, 3)), atol=1e-3)
    with pytest.raises(ValueError, match="sentence_pool"):
        TextEncoder(TextEncoderConfig(**cfg, sentence_pool="max"))
    with pytest.raises(ValueError, match="global_pool"):
        ImageEncoder(ImageEncoderConfig(**img_cfg, global_pool="max"))


@pytest.mark.parametrize("res,grid", [(32, 2), (64, 4), (128, 8)])
def test_image_encoder_has_stride_16(res, grid):
    enc = ImageEncoder(ImageEncoderConfig(widths=(4, 8, 8, 16, 16))).eval()
    local, glob = enc(torch.zeros(2, 3, res, res))
    assert local.shape == (2, 256, grid, grid) and glob.shape == (2, 256)
    assert enc.stride == 16


# -- losses -------------------------------------------------------------------------------


def reference_words_similarity(img_local, words, lengths, g1, g2):
    """AttnGAN's word similarity written plainly, one (caption, image) pair at a time."""
    b = words.shape[0]
    sims = torch.zeros(b, b, dtype=words.dtype)  # [caption, image]
    for c in range(b):
        e = words[c, :, : lengths[c]]  # D×T
        for i in range(b):
            v = img_local[i].flatten(1)  # D×R
            attn = (v.t() @ e).softmax(dim=1)  # R×T: softmax over words
            attn = (g1 * attn.t()).softmax(dim=1)  # T×R: softmax over regions
            context = v @ attn.t()  # D×T
            cos = F.cosine_similarity(context, e, dim=0)
            sims[c, i] = torch.log(torch.exp(g2 * cos).sum())
    return sims


@pytest.mark.parametrize("side", [2, 5])  # R = 4 ≤ D (Gram path) and R = 25 > D (contexts)
def test_words_loss_matches_plain_reference(side):
    torch.manual_seed(0)
    b, d, t = 4, 8, 5
    img = torch.randn(b, d, side, side, dtype=torch.float64)
    words = torch.randn(b, d, t, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 3, 1])
    words = words * (torch.arange(t)[None, None] < lengths[:, None, None])
    sims = reference_words_similarity(img, words, lengths, 4.0, 5.0)
    scores = 10.0 * sims.t()  # images × captions
    labels = torch.arange(b)
    want0 = F.cross_entropy(scores, labels)
    want1 = F.cross_entropy(scores.t(), labels)
    w0, w1, attn = words_loss(img, words, lengths, None, 4.0, 5.0, 10.0)
    assert torch.allclose(w0, want0) and torch.allclose(w1, want1)
    assert attn.shape == (b, t, side, side)
    assert torch.allclose(attn.flatten(2).sum(2), torch.ones(b, t, dtype=torch.float64))


def aligned_features(b: int = 4, d: int = 8):
    """Image i and caption i share the one-hot direction e_i."""
    eye = torch.eye(d)[:b]
    img_local = eye[:, :, None, None].expand(b, d, 2, 2).clone()
    words = eye[:, :, None].expand(b, d, 3).clone()
    return img_local, words, torch.full((b,), 3), eye.clone(), eye.clone()


def test_matched_pairs_score_lower_than_shuffled():
    img_local, words, lengths, glob, sent = aligned_features()
    perm = torch.tensor([1, 2, 3, 0])
    matched = words_loss(img_local, words, lengths)[:2]
    shuffled = words_loss(img_local, words[perm], lengths)[:2]
    assert sum(matched) < sum(shuffled)
    assert sum(sentence_loss(glob, sent)) < sum(sentence_loss(glob, sent[perm]))


def test_sentence_loss_hand_value_and_class_masking():
    _, _, _, glob, sent = aligned_features(b=3, d=3)
    # Scores are 10·I: each row's CE is log(1 + 2·e^-10).
    s0, s1 = sentence_loss(glob, sent, gamma3=10.0)
    want = math.log(1 + 2 * math.exp(-10))
    assert s0.item() == pytest.approx(want, rel=1e-2) and s1.item() == pytest.approx(want, rel=1e-2)
    # Shuffled pairs, but items 0 and 1 share a class: only item 2 remains as a negative.
    sent_bad = sent[[1, 0, 2]]
    base = sentence_loss(glob, sent_bad)[0].item()
    masked = sentence_loss(glob, sent_bad, torch.tensor([7, 7, -1]))[0].item()
    # Rows 0 and 1 keep {own (score 0), item 2 (score 0)}: log 2; row 2 keeps all: tiny.
    assert masked == pytest.approx((2 * math.log(2) + want) / 3, rel=1e-5)
    assert masked < base
    # Every pair one class: no negatives at all, so both losses are exactly 0.
    w0, w1, _ = words_loss(*aligned_features()[:3], torch.zeros(4, dtype=torch.long))
    assert w0.item() == pytest.approx(0.0, abs=1e-6) and w1.item() == pytest.approx(0.0, abs=1e-6)


# -- R-precision --------------------------------------------------------------------------


def test_r_precision_constructed_case():
    n = 200
    img = torch.eye(n)
    sent = torch.eye(n)
    sent[150:] *= -1  # the last quarter's true captions point away from their images
    res = r_precision(img, sent, n_draws=10, seed=0)
    assert res["mean"] == 0.75 and res["std"] == 0.0 and len(res["per_draw"]) == 10
    assert res["n_candidates"] == 100
    assert r_precision(img, img)["mean"] == 1.0
    acc = retrieval_accuracy(img, sent)
    assert acc["image_to_text"] == 0.75 and acc["text_to_image"] == 0.75


def test_r_precision_never_draws_an_identical_caption():
    # Images 0 and 1 have the same caption text and identical features; a draw that took
    # caption 1 as a distractor of image 0 would tie and count as a miss.
    feats = torch.randn(50, 16)
    feats[1] = feats[0]
    captions = [f"caption {i}" for i in range(50)]
    captions[1] = "Caption 0."  # the same after tokenising
    assert r_precision(feats, feats, captions, n_draws=5)["mean"] == 1.0
    assert r_precision(feats, feats, n_draws=20)["mean"] < 1.0
    with pytest.raises(ValueError):
        r_precision(feats[:2], feats[:2], ["a", "a"])


def test_r_precision_skips_distractors_true_of_the_image():
    # Caption 1 describes image 0 as well as its own (and matches it better): with that
    # known, it is no distractor and image 0 ranks its true caption first.
    feats = torch.eye(50)
    sent = feats.clone()
    sent[1] = feats[0] * 2 + feats[1]
    sent[0] = feats[0] + 0.6 * feats[2]
    true_of = np.eye(50, dtype=bool)
    true_of[0, 1] = True
    assert r_precision(feats, sent, n_candidates=50, n_draws=2)["mean"] == 0.98
    assert r_precision(feats, sent, n_candidates=50, n_draws=2,
                       true_of_image=true_of)["mean"] == 1.0


def test_true_captions_are_no_negatives_in_training():
    """On ``shapes`` a caption true of another image of the batch is dropped from that
    image's negatives: each cross-entropy then has fewer terms, so the loss can only fall."""
    vocab = Vocabulary.build(train_captions("shapes"))
    data = build_dataset("shapes", "test", resolution=32, masks=None, vocab=vocab, train=False,
                         seed=0, length=48)
    batch = collate([data[i] for i in range(48)])
    cfg = load_config(DamsmTrainConfig, None, ["model.feature_dim=16", "model.word_embed_dim=8",
                                               "model.image_widths=[4,8,8,16,16]"])
    torch.manual_seed(0)
    text, image = build_encoders(cfg, len(vocab))
    text.eval()
    on = damsm_losses(text, image, batch, cfg.train)
    cfg.train.mask_true_captions = False
    off = damsm_losses(text, image, batch, cfg.train)
    assert on["loss"] < off["loss"]

    # bf16 autocast of the image encoder: fp32 losses within bf16's rounding of the fp32 ones.
    cfg.train.bf16 = True
    half = damsm_losses(text, image, batch, cfg.train)
    assert half["loss"].dtype == torch.float32
    assert half["loss"] != off["loss"]  # the encoder really ran in bf16 ...
    assert half["loss"].item() == pytest.approx(off["loss"].item(), rel=0.02)  # ... and stays close


# -- checkpoints --------------------------------------------------------------------------


def test_checkpoints_rotate_and_restore_rng(tmp_path):
    import random

    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    state = rng_state()
    expect = (torch.rand(2), np.random.rand(), random.random())
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, {"step": step, "rng": state, "w": torch.ones(2)}, step, 2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 3]
    assert find_latest(tmp_path).name == "checkpoint-00000003.pt"
    loaded = load_checkpoint(find_latest(tmp_path))  # weights_only=True
    set_rng_state(loaded["rng"])
    assert torch.equal(torch.rand(2), expect[0])
    assert np.random.rand() == expect[1] and random.random() == expect[2]
    (tmp_path / "checkpoints" / "latest").write_text("garbage")
    assert find_latest(tmp_path).name == "checkpoint-00000003.pt"
    (tmp_path / "checkpoints" / "checkpoint-00000009.pt").write_bytes(b"truncated")
    with pytest.raises(UserError):
        load_checkpoint(tmp_path / "checkpoints" / "checkpoint-00000009.pt")


# -- training -----------------------------------------------------------------------------


def tiny_config(**train) -> DamsmTrainConfig:
    cfg = load_config(DamsmTrainConfig, None, [
        "data.resolution=32", "data.length=24", "model.feature_dim=16",
        "model.word_embed_dim=8", "model.text_dropout=0.5", "model.image_widths=[4,8,8,16,16]",
        "train.batch_size=8", "train.warmup_steps=2", "train.log_every=1",
        "train.eval_limit=24", "train.tensorboard=false", "train.mask_same_class=false",
    ])
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


def test_learning_rate_schedules():
    t = DamsmTrainConfig().train
    t.warmup_steps, t.max_steps = 10, 110
    assert damsm_training.lr_at(0, 50, t) == pytest.approx(t.lr / 10)  # warm-up
    assert damsm_training.lr_at(59, 50, t) == pytest.approx(t.lr * t.lr_decay ** (59 / 50))
    t.lr_schedule = "cosine"
    assert damsm_training.lr_at(10, 50, t) < t.lr
    assert damsm_training.lr_at(110, 50, t) == pytest.approx(t.lr * t.lr_min_factor)
    t.lr_schedule, t.lr_decay_start = "linear", 0.5  # constant to step 55, then a line
    assert damsm_training.lr_at(55, 50, t) == pytest.approx(t.lr)
    assert damsm_training.lr_at(77, 50, t) == pytest.approx(t.lr * (1 - 0.4 * (1 - 0.1)))
    assert damsm_training.lr_at(110, 50, t) == pytest.approx(t.lr * t.lr_min_factor)
    t.lr_decay_start = 1.5
    with pytest.raises(UserError, match="lr_decay_start"):
        damsm_training.lr_at(0, 50, t)
    t.lr_schedule = "step"
    with pytest.raises(UserError, match="lr_schedule"):
        damsm_training.lr_at(0, 50, t)


def test_learning_rate_decay_over_minutes_follows_the_training_time():
    t = DamsmTrainConfig().train
    t.warmup_steps, t.max_steps, t.max_minutes = 10, 110, 10
    t.lr_schedule, t.lr_decay_start, t.lr_decay_over = "linear", 0.5, "minutes"
    # The steps no longer count: only the seconds of training, up to max_minutes.
    for seconds, factor in ((0, 1.0), (299, 1.0), (450, 0.5), (600, 0.0), (900, 0.0)):
        lr = damsm_training.lr_at(10**6, 50, t, seconds)
        assert lr == pytest.approx(t.lr * (t.lr_min_factor + (1 - t.lr_min_factor) * factor))
    t.lr_schedule = "cosine"
    assert damsm_training.lr_at(50, 50, t, 300) == pytest.approx(t.lr * (1 + t.lr_min_factor) / 2)
    t.lr_schedule = "epoch"
    with pytest.raises(UserError, match="linear or cosine"):
        damsm_training.lr_at(0, 50, t)
    t.lr_schedule, t.max_minutes = "linear", 0
    with pytest.raises(UserError, match="max_minutes"):
        damsm_training.lr_at(0, 50, t)
    t.lr_decay_over = "hours"
    with pytest.raises(UserError, match="lr_decay_over"):
        damsm_training.lr_at(0, 50, t)


def test_max_minutes_counts_the_training_time_of_every_launch(tmp_path):
    def steps_done(minutes: float, resume: bool = False) -> int:
        cfg = tiny_config(max_steps=4, max_minutes=minutes, eval_limit=0)
        run = train_damsm("shapes", tmp_path / "run", cfg, resume=resume, progress=False)
        return load_damsm(run).config["steps"]

    assert steps_done(1e-6) == 1  # the first step spends the budget: checkpoint, export
    assert steps_done(1e-6, resume=True) == 1  # the resumed launch inherits the spent time
    assert steps_done(60, resume=True) == 4


def test_train_damsm_writes_a_loadable_folder(tmp_path):
    run = train_damsm("shapes", tmp_path / "run", tiny_config(max_steps=3), progress=False)
    damsm = load_damsm(run)
    assert damsm.config["steps"] == 3 and damsm.config["resolution"] == 32
    ev = damsm.config["evaluation"]
    assert ev["split"] == "test" and 0.0 <= ev["r_precision"]["mean"] <= 1.0
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2, 3]
    assert all(math.isfinite(x["loss"]) and x["images_per_s"] > 0 for x in lines)
    tokens, length = damsm.vocab.encode("a red circle at the top", damsm.max_len)
    words, sent, mask = damsm.text_encoder.encode(torch.as_tensor(tokens)[None],
                                                  torch.tensor([length]))
    assert words.shape == (1, 16, 18) and mask.sum().item() == length
    local, glob = damsm.image_encoder(torch.zeros(1, 3, 32, 32))
    assert local.shape == (1, 16, 2, 2) and glob.shape == (1, 16)
    with pytest.raises(UserError, match="--resume"):
        train_damsm("shapes", run, tiny_config(max_steps=3), progress=False)


def test_resume_is_bit_identical(tmp_path):
    # 24 scenes / batch 8 = 3 steps per epoch: the resume point (step 2) is mid-epoch and
    # the run crosses an epoch boundary after it; dropout exercises the restored RNG.
    cfg = tiny_config(max_steps=5, checkpoint_every=2, eval_limit=0)
    whole = train_damsm("shapes", tmp_path / "whole", cfg, progress=False)
    part = train_damsm("shapes", tmp_path / "part", cfg, max_steps=2, progress=False)
    assert [s for s, _ in list_checkpoints(part)] == [2]
    train_damsm("shapes", part, cfg, resume=True, progress=False)
    for name in ("text_encoder.safetensors", "image_encoder.safetensors"):
        a, b = load_file(whole / name), load_file(part / name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    steps = [json.loads(x)["step"] for x in (part / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]


def test_two_processes_train_what_one_process_would(tmp_path):
    """torchrun, two CPU processes (gloo), 4 images each: the features are gathered, so the
    loss sees all 8 negatives and the weights match one process with batch 8."""
    overrides = ["data.length=24", "model.feature_dim=16", "model.word_embed_dim=8",
                 "model.text_dropout=0", "model.image_widths=[4,8,8,16,16]",
                 "train.eval_limit=0", "train.tensorboard=false", "train.mask_same_class=false",
                 "train.warmup_steps=1"]
    common = ["train-damsm", "--dataset", "shapes", "--resolution", "32", "--max-steps", "3",
              "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "one"), *overrides,
                 "train.batch_size=8"]) == 0
    with socket.socket() as s:  # a free port, so parallel test runs never collide
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "textinpaint.cli",
         *common, "--out", str(tmp_path / "two"), *overrides, "train.batch_size=4"],
        capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = load_damsm(tmp_path / "two")
    assert two.config["processes"] == 2 and two.config["steps"] == 3
    for name in ("text_encoder.safetensors", "image_encoder.safetensors"):
        a, b = load_file(tmp_path / "one" / name), load_file(tmp_path / "two" / name)
        assert a.keys() == b.keys()
        for k in a:
            # Summation order differs, nothing else: a step of lr 2e-3 would show as 1e-3.
            assert torch.allclose(a[k], b[k], atol=2e-4), (name, k)
    # Resuming with another number of processes would misplace the data order.
    with pytest.raises(UserError, match="2 process"):
        train_damsm("shapes", tmp_path / "two",
                    load_config(DamsmTrainConfig, None, [*overrides, "train.batch_size=4"]),
                    max_steps=4, resume=True, progress=False)


def test_non_finite_loss_stops_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    real = damsm_training.damsm_losses
    calls = {"n": 0}

    def flaky(*args):
        calls["n"] += 1
        out = real(*args)
        if calls["n"] == 3:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(damsm_training, "damsm_losses", flaky)
    cfg = tiny_config(max_steps=5, checkpoint_every=2, eval_limit=0)
    with pytest.raises(TrainingDiverged, match="non-finite at step 3.*checkpoint-00000002"):
        train_damsm("shapes", tmp_path / "run", cfg, progress=False)
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [2]


# -- presets and CLI ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["shapes-64", "cub-64", "cub-128", "cub-256"])
def test_presets_load(name):
    cfg = load_config(DamsmTrainConfig, PRESET_DIR / f"{name}.yaml", ["train.lr=0.001"])
    assert cfg.data.resolution == int(name.split("-")[1]) and cfg.train.lr == 0.001


def test_cli_train_and_evaluate(tmp_path, capsys):
    run = tmp_path / "run"
    overrides = ["data.length=16", "model.feature_dim=16", "model.word_embed_dim=8",
                 "model.image_widths=[4,8,8,16,16]", "train.batch_size=8",
                 "train.eval_limit=0", "train.tensorboard=false"]
    assert main(["train-damsm", "--dataset", "shapes", "--out", str(run), "--resolution", "32",
                 "--max-steps", "2", "--no-progress", *overrides]) == 0
    assert load_damsm(run).config["steps"] == 2
    capsys.readouterr()
    assert main(["evaluate-damsm", "--damsm", str(run), "--dataset", "shapes", "--limit", "20",
                 "--length", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["resolution"] == 32 and out["n_images"] == 20
    assert set(out["r_precision"]) >= {"mean", "std"}
    # shapes knows each scene: also the figure without distractors true of the image
    assert out["r_precision_true_removed"]["mean"] >= out["r_precision"]["mean"]
    assert set(out["retrieval"]["all"]) == {"image_to_text", "text_to_image"}
    # Mistakes a user can make end in one line and exit status 2.
    assert main(["train-damsm", "--dataset", "shapes", "--out", str(tmp_path / "x"),
                 "train.nope=1"]) == 2
    assert main(["evaluate-damsm", "--damsm", str(tmp_path / "missing"), "--dataset",
                 "shapes"]) == 2
    assert "error:" in capsys.readouterr().err
