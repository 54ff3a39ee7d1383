"""The inpainting training loop: smoke run, export, exact resume, overfitting, two-process DDP."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from textinpaint.cli import main
from textinpaint.config import ConfigError, load_config
from textinpaint.errors import UserError
from textinpaint.model_folder import init_model_folder, load_model
from textinpaint.presets import preset_path
from textinpaint.training.inpaint import InpaintTrainer, train_inpaint
from textinpaint.training.inpaint_config import InpaintConfig
from textinpaint.training.sampler import EpochBatches

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def damsm_dir(tmp_path_factory):
    """Random-initialised encoders: the loop only needs their shapes and vocabulary."""
    return init_model_folder(tmp_path_factory.mktemp("damsm") / "tiny", resolution=32)


def tiny_cfg(*overrides):
    return load_config(InpaintConfig, preset_path("inpaint", "tiny"),
                       ["resolution=32", "train.sample_every=0", *overrides])


def test_cli_smoke_run_exports_a_loadable_model_folder(tmp_path, damsm_dir):
    out = tmp_path / "run"
    code = main(["train", "--dataset", "shapes", "--preset", "tiny", "--damsm", str(damsm_dir),
                 "--out", str(out), "--resolution", "32", "--max-steps", "2",
                 "train.checkpoint_every=1", "train.shapes_length=64"])
    assert code == 0
    for name in ("config.json", "generator.safetensors", "text_encoder.safetensors",
                 "image_encoder.safetensors", "vocab.json", "README.md", "metrics.jsonl"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["steps"] == 2 and config["resolution"] == 32 and config["preset"] == "tiny"
    assert list((out / "samples").glob("*.png"))
    model = load_model(out)
    tokens, lengths = model.encode_text(["a red circle"])
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    final = model(image, mask, tokens, lengths)["final"]
    assert torch.equal(final * (1 - mask), image * (1 - mask))

    # On-demand export from the checkpoint: the same EMA weights, here in fp16.
    assert main(["export", "--run", str(out), "--out", str(tmp_path / "half"), "--half"]) == 0
    half = load_model(tmp_path / "half")
    assert json.loads((tmp_path / "half" / "config.json").read_text())["steps"] == 2
    again = half(image, mask, tokens, lengths)["final"]
    assert (again - final).abs().max() < 0.05  # fp16 storage, fp32 compute
    assert main(["export", "--run", str(out), "--out", str(tmp_path / "one"), "--step", "1"]) == 0
    assert json.loads((tmp_path / "one" / "config.json").read_text())["steps"] == 1
    assert main(["export", "--run", str(out), "--out", str(tmp_path / "x"), "--step", "9"]) == 2
    # --seam: the exported folder turns the seam correction on for its callers
    assert main(["export", "--run", str(out), "--out", str(tmp_path / "s"), "--seam"]) == 0
    assert json.loads((tmp_path / "s" / "config.json").read_text())["inference"] == {"seam": True}
    assert load_model(tmp_path / "s").seam is not None and load_model(out).seam is None


def test_refuses_to_overwrite_a_run_without_resume(tmp_path, damsm_dir):
    cfg = tiny_cfg("train.checkpoint_every=1", "train.shapes_length=16")
    train_inpaint(cfg, "shapes", damsm_dir, tmp_path / "run", max_steps=1)
    code = main(["train", "--dataset", "shapes", "--preset", "tiny", "--damsm", str(damsm_dir),
                 "--out", str(tmp_path / "run"), "--resolution", "32", "--max-steps", "2"])
    assert code == 2


@pytest.mark.parametrize("d_every", [1, 3])  # 3: the resume lands inside the cycle
def test_resume_equals_uninterrupted_run(tmp_path, damsm_dir, d_every):
    # The learning rates decay from step 2 on, so resume must also restore the schedule.
    cfg = tiny_cfg("train.checkpoint_every=2", "train.shapes_length=12", "train.batch_size=4",
                   "train.max_steps=5", "train.lr_decay_start=0.4", "loss.raw=1.0",
                   "loss.seam=2.0", "loss.feature_match=1.0", f"train.d_every={d_every}")
    train_inpaint(cfg, "shapes", damsm_dir, tmp_path / "a", max_steps=5)  # crosses an epoch
    train_inpaint(cfg, "shapes", damsm_dir, tmp_path / "b", max_steps=2)
    train_inpaint(cfg, "shapes", damsm_dir, tmp_path / "b", max_steps=5, resume=True)
    a = load_file(str(tmp_path / "a" / "generator.safetensors"))
    b = load_file(str(tmp_path / "b" / "generator.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").open()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]  # the log reads as one run
    assert all(r["raw"] > 0 and r["seam"] > 0 and r["feature_match"] > 0
               for r in rows)  # the optional terms are on
    lr = cfg.train.lr_g
    assert [r["lr_g"] for r in rows] == pytest.approx([lr, lr, lr, lr * 2 / 3, lr / 3])


def test_bad_lr_decay_start_is_refused(tmp_path, damsm_dir):
    with pytest.raises(UserError, match="lr_decay_start"):
        InpaintTrainer(tiny_cfg("train.lr_decay_start=1.5"), "shapes", damsm_dir,
                       tmp_path / "run")


def test_lr_decay_over_minutes_follows_the_training_time(tmp_path, damsm_dir):
    cfg = tiny_cfg("train.max_minutes=10", "train.lr_decay_start=0.5",
                   "train.lr_decay_over=minutes")
    trainer = InpaintTrainer(cfg, "shapes", damsm_dir, tmp_path / "run")
    for seconds, factor in ((0, 1.0), (299, 1.0), (450, 0.5), (570, 0.1), (600, 0.0)):
        trainer.shared_time = seconds  # rank 0's training time, as _out_of_time shares it
        assert trainer.lr_factor() == pytest.approx(factor), seconds
    trainer.shared_time, trainer.step = 450, 10**6  # past max_steps: the steps don't count
    assert trainer.lr_factor() == pytest.approx(0.5)
    for bad, match in (("train.lr_decay_over=hours", "lr_decay_over"),
                       ("train.lr_decay_over=minutes", "max_minutes")):
        with pytest.raises(UserError, match=match):
            InpaintTrainer(tiny_cfg(bad), "shapes", damsm_dir, tmp_path / "bad")


def test_max_minutes_ends_the_run_and_holds_across_resume(tmp_path, damsm_dir):
    def steps_done(cfg, **kw):
        train_inpaint(cfg, "shapes", damsm_dir, tmp_path / "run", max_steps=4, **kw)
        return json.loads((tmp_path / "run" / "config.json").read_text())["steps"]

    spent = tiny_cfg("train.shapes_length=16", "train.max_minutes=1e-6")
    assert steps_done(spent) == 1  # the first step spends the budget: checkpoint, export
    assert steps_done(spent, resume=True) == 1  # the budget counts the resumed run's time
    assert steps_done(tiny_cfg("train.shapes_length=16", "train.max_minutes=60"),
                      resume=True) == 4


def test_start_from_continues_another_runs_state_under_a_new_config(tmp_path, damsm_dir):
    first = tiny_cfg("train.shapes_length=16", "train.checkpoint_every=2")
    train_inpaint(first, "shapes", damsm_dir, tmp_path / "a", max_steps=2)
    second = tiny_cfg("train.shapes_length=16", "train.checkpoint_every=2", "loss.per_image=true")
    # at its source's step already: nothing to train, the export is the source's generator
    train_inpaint(second, "shapes", damsm_dir, tmp_path / "b", max_steps=2,
                  start_from=tmp_path / "a")
    a = load_file(str(tmp_path / "a" / "generator.safetensors"))
    b = load_file(str(tmp_path / "b" / "generator.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the same command line again, with --resume, continues b's own checkpoints
    code = main(["train", "--dataset", "shapes", "--preset", "tiny", "--damsm", str(damsm_dir),
                 "--out", str(tmp_path / "b"), "--resolution", "32", "--max-steps", "3",
                 "--resume", "--start-from", str(tmp_path / "a"), "train.sample_every=0",
                 "train.shapes_length=16", "loss.per_image=true"])
    info = json.loads((tmp_path / "b" / "config.json").read_text())
    assert code == 0 and info["steps"] == 3 and info["images_seen"] == 3 * first.train.batch_size
    assert info["loss"]["per_image"] is True
    with pytest.raises(UserError, match="does not fit"):
        train_inpaint(tiny_cfg("generator.base_channels=16"), "shapes", damsm_dir,
                      tmp_path / "c", max_steps=3, start_from=tmp_path / "a")
    with pytest.raises(UserError, match="holds no checkpoint"):
        train_inpaint(first, "shapes", damsm_dir, tmp_path / "d", start_from=tmp_path / "e")


def test_overrides_may_follow_options(tmp_path, damsm_dir):
    args = ["train", "--dataset", "shapes", "--preset", "tiny", "--damsm", str(damsm_dir),
            "--out", str(tmp_path / "run"), "train.sample_every=0", "--resolution", "32",
            "--max-steps", "3", "train.shapes_length=16", "train.max_minutes=1e-6"]
    assert main(args) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["steps"] == 1
    with pytest.raises(SystemExit):  # anything else unknown is still refused
        main([*args, "--resume", "--bogus"])


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, damsm_dir):
    cfg = tiny_cfg("train.checkpoint_every=1", "train.shapes_length=16")
    run = tmp_path / "run"
    trainer = InpaintTrainer(cfg, "shapes", damsm_dir, run)
    trainer.fit(max_steps=1)
    good = (run / "checkpoints" / "checkpoint-00000001.pt").read_bytes()
    with torch.no_grad():
        next(trainer.acc.unwrap_model(trainer.G).parameters()).fill_(float("nan"))
    with pytest.raises(Exception, match="non-finite"):
        trainer.fit(max_steps=3)
    assert (run / "checkpoints" / "checkpoint-00000001.pt").read_bytes() == good
    assert not (run / "checkpoints" / "checkpoint-00000002.pt").exists()


def test_demand_loss_trains_competing_word_weights_and_needs_them(tmp_path, damsm_dir):
    cfg = tiny_cfg("train.checkpoint_every=0", "train.shapes_length=4", "train.log_every=1",
                   "generator.word_demand_norm=softmax", "loss.demand=1.0")
    InpaintTrainer(cfg, "shapes", damsm_dir, tmp_path / "run").fit(max_steps=2)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert all(r["demand"] > 0 for r in rows)
    with pytest.raises(ConfigError, match="word_demand_norm=softmax"):
        tiny_cfg("loss.demand=1.0")
    with pytest.raises(ConfigError, match="loss.demand_target.*contrast"):
        tiny_cfg("loss.demand_target=words")


def test_contrast_demand_target_and_chroma_term_train(tmp_path, damsm_dir):
    cfg = tiny_cfg("train.checkpoint_every=0", "train.shapes_length=4", "train.log_every=1",
                   "generator.word_demand_norm=softmax", "loss.demand=1.0",
                   "loss.demand_target=contrast", "loss.chroma=1.0")
    InpaintTrainer(cfg, "shapes", damsm_dir, tmp_path / "run").fit(max_steps=2)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert all(r["demand"] != 0 and r["chroma"] > 0 for r in rows)
    with pytest.raises(ConfigError, match="loss.chroma"):
        tiny_cfg("loss.chroma=-1")


def bird_scene() -> np.ndarray:
    """32×32 grey with a red square in the middle: a "red bird" a swap can recolour."""
    px = np.full((32, 32, 3), 128, np.uint8)
    px[8:24, 8:24] = (200, 30, 35)
    return px


def test_swap_demand_and_swap_chroma_train_on_swapped_photos_and_need_swaps(tmp_path, damsm_dir):
    for i in range(2):
        Image.fromarray(bird_scene()).save(tmp_path / f"{i}.png")
        (tmp_path / f"{i}.txt").write_text("a red bird with a red crown\n")
    cfg = tiny_cfg("train.checkpoint_every=0", "train.log_every=1", "train.masks=center",
                   "train.batch_size=2", "generator.word_demand_norm=softmax",
                   "loss.demand=1.0", "loss.demand_swap=2.0", "loss.swap_chroma=1.0",
                   "train.colour_swap=1.0")
    InpaintTrainer(cfg, f"folder:{tmp_path}", damsm_dir, tmp_path / "run").fit(max_steps=2)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    # Every item is swapped and the centre hole is mostly the red square: both terms act.
    assert all(r["demand"] > 0 and r["swap_chroma"] > 0 for r in rows)
    with pytest.raises(ConfigError, match="loss.demand_swap.*train.colour_swap"):
        tiny_cfg("generator.word_demand_norm=softmax", "loss.demand=1.0", "loss.demand_swap=1")
    with pytest.raises(ConfigError, match="loss.swap_chroma.*train.colour_swap"):
        tiny_cfg("loss.swap_chroma=1")


def test_trainable_moves_only_the_named_generator_parameters(tmp_path, damsm_dir):
    first = tiny_cfg("train.checkpoint_every=0", "train.shapes_length=4")
    train_inpaint(first, "shapes", damsm_dir, tmp_path / "a", max_steps=1)
    cfg = tiny_cfg("train.checkpoint_every=0", "train.shapes_length=4",
                   f"train.init_generator={tmp_path / 'a'}", "train.ema_decay=0",
                   "generator.word_demand_norm=softmax", "loss.demand=1.0",
                   r"train.trainable=^word_demand\.")
    train_inpaint(cfg, "shapes", damsm_dir, tmp_path / "b", max_steps=3)
    a = load_file(str(tmp_path / "a" / "generator.safetensors"))
    b = load_file(str(tmp_path / "b" / "generator.safetensors"))
    moved = {k for k in a if not torch.equal(a[k], b[k])}
    assert moved and all(k.startswith("word_demand.") for k in moved)
    with pytest.raises(UserError, match="names no generator parameter"):
        InpaintTrainer(tiny_cfg("train.trainable=^nothing"), "shapes", damsm_dir, tmp_path / "c")
    with pytest.raises(ConfigError, match="train.trainable"):
        tiny_cfg("train.trainable=(")


def test_tiny_model_overfits_four_images(tmp_path, damsm_dir):
    """Reconstruction loss on a fixed set of 4 images falls by at least 2x in 60 steps."""
    cfg = tiny_cfg("train.checkpoint_every=0", "train.shapes_length=4", "train.batch_size=4",
                   "train.masks=center", "train.lr_g=0.003", "loss.adversarial=0",
                   "train.log_every=1")
    trainer = InpaintTrainer(cfg, "shapes", damsm_dir, tmp_path / "run")
    trainer.fit(max_steps=60)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    first = sum(r["rec"] for r in rows[:5]) / 5
    last = sum(r["rec"] for r in rows[-5:]) / 5
    assert last < first / 2, (first, last)


def test_sharded_sampler_deals_disjoint_batches():
    ranks = [list(EpochBatches(20, 3, seed=0, epoch=1, rank=r, world=2))
             for r in range(2)]
    assert len(ranks[0]) == len(ranks[1]) == 3
    seen = [i for r in ranks for b in r for i in b]
    assert len(seen) == len(set(seen)) == 18
    resumed = list(EpochBatches(20, 3, seed=0, epoch=1, start=1, rank=0, world=2))
    assert resumed == ranks[0][1:]


def test_two_process_gloo_ranks_hold_identical_weights(tmp_path, damsm_dir):
    """torchrun with two CPU processes (gloo): after a few steps both ranks agree."""
    script = tmp_path / "ddp.py"
    script.write_text(f"""
import os, torch
from textinpaint.config import ConfigError, load_config
from textinpaint.errors import UserError
from textinpaint.presets import preset_path
from textinpaint.training.inpaint import InpaintTrainer
from textinpaint.training.inpaint_config import InpaintConfig
cfg = load_config(InpaintConfig, preset_path("inpaint", "tiny"),
                  ["resolution=32", "train.sample_every=0", "train.checkpoint_every=0",
                   "train.shapes_length=32", "train.batch_size=2"])
t = InpaintTrainer(cfg, "shapes", r"{damsm_dir}", r"{tmp_path / 'run'}")
assert t.acc.num_processes == 2
for i, batch in enumerate(t._loader(0, 0)):
    t.train_step(batch)
    t.step += 1
    if i == 2:
        break
g = t.acc.unwrap_model(t.G).state_dict()
torch.save({{k: v.clone() for k, v in g.items()}}, r"{tmp_path}/rank%d.pt" % t.acc.process_index)
""")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as s:  # a free port, so parallel runs never collide
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(port), str(script)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k


def test_no_progress_logs_a_line_per_checkpoint_instead_of_a_bar(tmp_path, damsm_dir, caplog,
                                                                  capsys):
    out = tmp_path / "run"
    with caplog.at_level("INFO", logger="textinpaint.training.inpaint"):
        code = main(["train", "--dataset", "shapes", "--preset", "tiny", "--damsm",
                     str(damsm_dir), "--out", str(out), "--resolution", "32", "--max-steps", "4",
                     "--no-progress", "train.checkpoint_every=2", "train.log_every=1",
                     "train.shapes_length=64"])
    assert code == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert [line.split(":")[0] for line in lines] == ["step 2/4", "step 4/4"]
    assert "images/s" in lines[0]
    assert "train tiny" not in capsys.readouterr().err  # no tqdm bar was drawn


def test_d_every_updates_the_discriminator_only_on_every_kth_step(tmp_path, damsm_dir):
    cfg = tiny_cfg("train.checkpoint_every=0", "train.shapes_length=8", "train.batch_size=2",
                   "train.d_every=2")
    trainer = InpaintTrainer(cfg, "shapes", damsm_dir, tmp_path / "run")
    d_moved, g_moved = [], []
    for batch in trainer.batches(0, 0):
        d_before = [p.detach().clone() for p in trainer.D.parameters()]
        g_before = [p.detach().clone() for p in trainer.G.parameters()]
        terms = trainer.read_terms(trainer.train_step(batch))
        trainer.step += 1
        d_moved.append(any(not torch.equal(a, p) for a, p in zip(d_before, trainer.D.parameters())))
        g_moved.append(any(not torch.equal(a, p) for a, p in zip(g_before, trainer.G.parameters())))
        assert terms["d_loss"] > 0 and terms["adversarial"] > 0  # both still logged
    assert d_moved == [True, False, True, False] and all(g_moved)
    with pytest.raises(ConfigError, match="train.d_every"):
        tiny_cfg("train.d_every=0")
