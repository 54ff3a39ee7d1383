"""The training split resident on the device (train.data=device), run here on the CPU: batches
keep the loader's conventions, are a pure function of where the run is, and a run trained on
them resumes bit-identically, after kill -9 too."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from textinpaint.cli import main
from textinpaint.data import RecordDataset, Vocabulary, build_dataset
from textinpaint.data.base import Record, flip_meta
from textinpaint.data.masks import ObjectMask, parse_mask_spec
from textinpaint.model_folder import init_model_folder
from textinpaint.training.resident_data import ResidentData

CAPTIONS = [["a red bird with a black crown", "this bird is red"],
            ["a small blue bird", "blue wings and a white belly", "a blue bird"],
            ["a yellow bird"], ["a green bird with a long tail", "green all over"],
            ["a brown bird"], ["a grey bird with an orange beak", "grey bird"]]


@pytest.fixture(scope="module")
def damsm_dir(tmp_path_factory):
    """Random-initialised encoders: the loop only needs their shapes and vocabulary."""
    return init_model_folder(tmp_path_factory.mktemp("damsm") / "tiny", resolution=32)


def records(folder: Path) -> list[Record]:
    """Six odd-sized photos with boxes and a few visible parts, as CUB's loader gives them."""
    rng = np.random.default_rng(0)
    out = []
    for i, caps in enumerate(CAPTIONS):
        w, h = 40 + 3 * i, 36 + 2 * i
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
        out.append(Record(path, caps, class_id=i % 3, key=str(i),
                          bbox=(4.0 + i, 5.0, 20.0 + i, 18.0 + i),
                          parts={"crown": (10.0 + i, 7.0), "tail": (22.0, 20.0 - i)}))
    return out


def dataset(tmp_path, masks="object") -> RecordDataset:
    recs = records(tmp_path)
    vocab = Vocabulary.build(c for r in recs for c in r.captions)
    return RecordDataset(recs, 32, masks=parse_mask_spec(masks, train=True), vocab=vocab,
                         train=True, seed=3, cache_dir=tmp_path / "cache", name="toy")


def test_batches_keep_the_loaders_conventions(tmp_path):
    ds = dataset(tmp_path)
    data = ResidentData(ds, "cpu")
    batch = data.batch([0, 1, 2, 3, 4, 5], epoch=0, position=0)
    assert batch["image"].shape == (6, 3, 32, 32) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (6, 1, 32, 32) and batch["mask"].dtype == torch.float32
    assert set(batch["mask"].unique().tolist()) <= {0.0, 1.0}
    assert batch["class_id"].tolist() == [r.class_id for r in ds.records]
    flips = []
    pixels = ds.all_pixels()
    for i in range(6):
        # the loader's arithmetic (make_sample) on the unflipped image
        plain = torch.from_numpy(pixels[i].copy()).permute(2, 0, 1).float() / 127.5 - 1
        mirrored = plain.flip(-1)
        image = batch["image"][i]
        assert torch.equal(image, plain) or torch.equal(image, mirrored)  # same arithmetic
        flipped = torch.equal(image, mirrored) and not torch.equal(image, plain)
        flips.append(flipped)
        # the hole covers the box of the image as flipped, by the loader's own pixel rule
        meta = flip_meta(ds.meta(i), 32) if flipped else ds.meta(i)
        expected = ObjectMask()(32, 32, np.random.default_rng(0), meta)
        assert torch.equal(batch["mask"][i, 0], torch.from_numpy(expected))
        # the caption is one of the image's own, encoded as the loader encodes it
        n = int(batch["length"][i])
        choices = [ds.vocab.encode(c, ds.max_len) for c in ds.records[i].captions]
        assert any(np.array_equal(batch["tokens"][i].numpy(), t) and n == k for t, k in choices)
    assert any(flips) and not all(flips)  # seed 3 flips some of the six, not all


def test_a_batch_is_a_pure_function_of_seed_epoch_and_position(tmp_path):
    data = ResidentData(dataset(tmp_path, "mix:freeform:medium+box+part"), "cpu")
    first = data.batch([0, 1, 2, 3], epoch=1, position=2)
    again = data.batch([0, 1, 2, 3], epoch=1, position=2)
    other = data.batch([0, 1, 2, 3], epoch=1, position=3)
    for key in first:
        assert torch.equal(first[key], again[key]), key
    assert not torch.equal(first["mask"], other["mask"])
    rank1 = ResidentData(dataset(tmp_path, "mix:freeform:medium+box+part"), "cpu", rank=1)
    assert not torch.equal(first["mask"], rank1.batch([0, 1, 2, 3], 1, 2)["mask"])


def test_shapes_become_resident_with_their_classes(tmp_path):
    vocab = Vocabulary.build(["a red circle"])
    ds = build_dataset("shapes", "train", 32, masks="object", vocab=vocab, length=8)
    data = ResidentData(ds, "cpu")
    batch = data.batch(list(range(8)), 0, 0)
    assert batch["class_id"].tolist() == [ds[i]["class_id"] for i in range(8)]
    # shapes are never flipped: captions say "left of"; the images are the loader's
    assert all(torch.equal(batch["image"][i], ds[i]["image"]) for i in range(8))
    hole = batch["mask"][:, 0]
    assert ((hole == 1).float().mean(dim=(1, 2)) > 0).all()  # every target hidden


def test_a_dataset_without_masks_is_refused(tmp_path):
    ds = dataset(tmp_path)
    ds.masks = None
    with pytest.raises(Exception, match="train.masks"):
        ResidentData(ds, "cpu")


def train_args(damsm_dir, out, *extra):
    return ["train", "--dataset", "shapes", "--preset", "tiny", "--damsm", str(damsm_dir),
            "--out", str(out), "--resolution", "32", "train.sample_every=0",
            "train.shapes_length=16", "train.batch_size=4", "train.data=device",
            "train.masks=mix:object+freeform:thin+box", "train.max_steps=100000", *extra]


def test_device_data_run_resumes_bit_identically_after_kill_9(tmp_path, damsm_dir):
    """An uninterrupted 6-step run against one killed with SIGKILL after its first checkpoint
    and resumed: the exported EMA generators are equal to the bit."""
    assert main([*train_args(damsm_dir, tmp_path / "a", "train.checkpoint_every=2"),
                 "--max-steps", "6"]) == 0
    killed = tmp_path / "b"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "textinpaint",
                             *train_args(damsm_dir, killed, "train.checkpoint_every=2")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = killed / "checkpoints" / "latest"
    deadline = time.time() + 240
    while not latest.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished
    step = json.loads(latest.read_text())["step"]
    assert 2 <= step < 6
    assert main([*train_args(damsm_dir, killed, "train.checkpoint_every=2"),
                 "--resume", "--max-steps", "6"]) == 0
    a = load_file(str(tmp_path / "a" / "generator.safetensors"))
    b = load_file(str(killed / "generator.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_bad_data_setting_names_the_key(tmp_path, damsm_dir):
    code = main([*train_args(damsm_dir, tmp_path / "x"), "train.data=gpu", "--max-steps", "1"])
    assert code == 2
