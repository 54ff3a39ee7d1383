"""Bad files: model folders, dataset folders and training runs. Each is refused with one
sentence naming the file (never a traceback), or, for a corrupt newest checkpoint, skipped
with a warning that says which one and why."""

from __future__ import annotations

import json
import logging
import shutil
import struct
import zlib

import pytest
import torch

from bad_inputs import assert_cli_error, assert_user_error, run_cli
from textinpaint.config import load_config
from textinpaint.data import build_dataset
from textinpaint.data.base import open_rgb
from textinpaint.model_folder import load_model
from textinpaint.presets import preset_path
from textinpaint.training.checkpoint import load_newest, save_checkpoint
from textinpaint.training.inpaint import InpaintTrainer, train_inpaint
from textinpaint.training.inpaint_config import InpaintConfig


@pytest.fixture
def broken(tiny_model_dir, tmp_path):
    """A copy of the tiny model folder to break, and its config and vocabulary."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    vocab = json.loads((folder / "vocab.json").read_text())
    return folder, config, vocab


def write(path, data):
    path.write_text(json.dumps(data))


CONFIG = [  # (key, value, pattern)
    ("resolution", "abc", r"has resolution 'abc'; it must be a whole number"),
    ("resolution", 0, r"has resolution 0"),
    ("resolution", -64, r"has resolution -64"),
    ("resolution", 12.5, r"has resolution 12.5"),
    ("resolution", 36, r"resolution 36, not a multiple of"),
    ("max_len", "x", r"has max_len 'x'"),
    ("max_len", 0, r"has max_len 0"),
    ("generator", "none", r"lacks 'generator'"),
    ("inference", "seam", r"has inference 'seam'; it must be a mapping"),
    ("inference", {"seam": "yes"}, r"has inference.seam 'yes'; it must be true or false"),
    ("inference", {"flip": True}, r"unknown inference key\(s\) flip; the known ones are seam"),
]


@pytest.mark.parametrize("key, value, pattern", CONFIG, ids=[f"{k}={v}" for k, v, _ in CONFIG])
def test_broken_config_json(broken, key, value, pattern):
    folder, config, _ = broken
    write(folder / "config.json", {**config, key: value})
    message = assert_user_error(lambda: load_model(folder), pattern)
    assert "config.json" in message


@pytest.mark.parametrize("raw, pattern", [
    (b'{"resolution": "\xff\xfe"}', r"is not UTF-8 text"),
    (b"[" * 100_000, r"is not valid JSON"),
    (b"{nope", r"is not valid JSON"),
    (b"[1, 2]", r"must hold a JSON object"),
], ids=["not-utf8", "deep", "malformed", "not-object"])
def test_unreadable_config_json(broken, raw, pattern):
    folder = broken[0]
    (folder / "config.json").write_bytes(raw)
    assert_user_error(lambda: load_model(folder), pattern)


def vocab_cases(itos):
    return [
        ({"itos": itos + [itos[5]]}, rf"lists the word '{itos[5]}' twice"),
        ({"itos": {"<pad>": 0, "<unk>": 1}}, r"must be a list of words, not a dict"),
        ({"itos": itos[:-1] + [7]}, r"holds the non-word 7"),
        ({"itos": itos[:-1] + [None]}, r"holds the non-word None"),
        ({"words": itos}, r"not a textinpaint vocabulary"),
        ({"itos": itos[2:]}, r"must start with '<pad>' and '<unk>'"),
        ({"itos": itos[:-1]}, r"words but the text encoder expects"),
    ]


@pytest.mark.parametrize("case", range(7), ids=["duplicate", "dict", "int-word", "null-word",
                                                "no-itos", "no-pad", "short"])
def test_broken_vocab_json(broken, case):
    folder, _, vocab = broken
    data, pattern = vocab_cases(vocab["itos"])[case]
    write(folder / "vocab.json", data)
    assert "vocab.json" in assert_user_error(lambda: load_model(folder), pattern)


def test_serve_refuses_a_broken_vocab_at_start(broken, capsys):
    folder, _, vocab = broken
    write(folder / "vocab.json", {"itos": vocab["itos"] + [vocab["itos"][3]]})
    assert_cli_error(run_cli(["serve", "--model", folder], capsys), r"vocab.json' lists the word")


def test_truncated_weights(broken):
    folder = broken[0]
    data = (folder / "generator.safetensors").read_bytes()
    (folder / "generator.safetensors").write_bytes(data[: len(data) // 2])
    assert_user_error(lambda: load_model(folder), r"cannot read weights '.*generator")


def png_claiming(width: int, height: int) -> bytes:
    """A valid 1×1 PNG whose header claims width×height (a decompression bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00")) + chunk(b"IEND", b""))


def test_a_400_megapixel_image_in_a_dataset(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(20000, 20000))
    assert_user_error(lambda: open_rgb(path), r"'.*bomb.png' is too large to decode safely")


def folder_dataset(root, lines):
    root.mkdir()
    (root / "a.png").write_bytes(png_claiming(4, 4))
    (root / "captions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return f"folder:{root}"


@pytest.mark.parametrize("image, pattern", [
    ("../outside.png", r"'../outside.png', which leaves the dataset folder"),
    ("/etc/hostname", r"'/etc/hostname', which leaves the dataset folder"),
    ("sub/../../x.png", r"leaves the dataset folder"),
    ("missing.png", r"listed in .* does not exist"),
], ids=["dotdot", "absolute", "nested-dotdot", "missing"])
def test_captions_jsonl_paths_stay_inside_the_dataset(tmp_path, image, pattern):
    (tmp_path / "outside.png").write_bytes(png_claiming(4, 4))
    spec = folder_dataset(tmp_path / "data", [{"image": image, "caption": "a bird"}])
    assert_user_error(lambda: build_dataset(spec, "train", resolution=32, cache=False),
                      pattern)


# -- the trainer -------------------------------------------------------------------------

def tiny_cfg(*overrides):
    return load_config(InpaintConfig, preset_path("inpaint", "tiny"),
                       ["resolution=32", "train.sample_every=0", "train.shapes_length=16",
                        *overrides])


def test_resume_skips_a_corrupt_newest_checkpoint(tiny_model_dir, tmp_path, caplog):
    run = tmp_path / "run"
    cfg = tiny_cfg("train.checkpoint_every=1", "train.keep_last=0")
    train_inpaint(cfg, "shapes", tiny_model_dir, run, max_steps=2)
    newest = run / "checkpoints" / "checkpoint-00000002.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # a write cut short by a full disk
    with caplog.at_level(logging.WARNING):
        path, state = load_newest(run)
    assert path.name == "checkpoint-00000001.pt" and state["step"] == 1
    assert "skipping checkpoint" in caplog.text and "checkpoint-00000002.pt" in caplog.text
    train_inpaint(cfg, "shapes", tiny_model_dir, run, max_steps=3, resume=True)
    assert json.loads((run / "config.json").read_text())["steps"] == 3


def test_resume_with_every_checkpoint_corrupt(tmp_path):
    for step in (1, 2):
        save_checkpoint(tmp_path, {"step": step}, step, keep_last=0)
        path = tmp_path / "checkpoints" / f"checkpoint-{step:08d}.pt"
        path.write_bytes(b"garbage")
    assert_user_error(lambda: load_newest(tmp_path), r"no checkpoint in '.*' loads")


def test_checkpoint_that_cannot_be_written(tmp_path):
    (tmp_path / "checkpoints").write_text("a file where the folder belongs")
    assert_user_error(lambda: save_checkpoint(tmp_path, {"step": 1}, 1),
                      r"cannot write checkpoint '.*checkpoint-00000001.pt'.*--resume")


def test_non_finite_loss_before_any_checkpoint_says_so(tiny_model_dir, tmp_path):
    trainer = InpaintTrainer(tiny_cfg("train.checkpoint_every=0"), "shapes", tiny_model_dir,
                             tmp_path / "run")
    with torch.no_grad():
        next(trainer.acc.unwrap_model(trainer.G).parameters()).fill_(float("nan"))
    message = assert_user_error(lambda: trainer.fit(max_steps=2), r"non-finite at step 1")
    assert "no checkpoint was written yet" in message and "last good" not in message


def test_library_max_steps_zero_is_refused(tiny_model_dir, tmp_path):
    assert_user_error(lambda: train_inpaint(tiny_cfg(), "shapes", tiny_model_dir,
                                            tmp_path / "run", max_steps=0),
                      r"max_steps \(--max-steps\) must be at least 1, got 0")
