"""Bad inputs on the command line: every one ends with exit status 2 and one sentence that
names the input, never a traceback, never an untrained export or a hang."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bad_inputs import assert_cli_error, run_cli
from helpers_inference import box_mask, noise_image

W, H = 40, 32


@pytest.fixture
def files(tmp_path):
    """An image, its mask, and a regular file to put folders 'under' (unwritable there)."""
    Image.fromarray(noise_image(W, H)).save(tmp_path / "a.png")
    Image.fromarray(box_mask(W, H, (8, 8, 24, 20)).astype(np.uint8) * 255).save(tmp_path / "m.png")
    (tmp_path / "file").write_text("a file, not a folder")
    return tmp_path


def inpaint(model, files, *extra, output=None):
    return ["inpaint", "--model", model, "--image", files / "a.png", "--mask", files / "m.png",
            "--text", "a red bird", "--output", output or files / "out.png", *extra]


SERVE = [  # (arguments after 'serve', pattern): refused before anything listens
    (["--port", "-1"], r"--port.*1 to 65535, got -1"),
    (["--port", "99999"], r"--port.*got 99999"),
    (["--port", "http"], r"--port.*'http' is not an integer"),
    (["--max-mb", "-1"], r"--max-mb.*greater than 0, got -1"),
    (["--max-mb", "0"], r"--max-mb.*greater than 0"),
    (["--max-pixels", "0"], r"--max-pixels.*greater than 0"),
    (["--max-text", "-5"], r"--max-text.*greater than 0"),
    (["--max-memory-mb", "nan"], r"--max-memory-mb.*not a finite number"),
    (["--max-windows", "0"], r"--max-windows.*greater than 0"),
    (["--header-seconds", "inf"], r"--header-seconds.*finite"),
    (["--max-connections", "-2"], r"--max-connections.*greater than 0"),
    (["--device", "bogus"], r"unknown device 'bogus'"),
    (["--device", "cuda"], r"device 'cuda'.*no usable CUDA"),
    (["--device", "cuda:7"], r"device 'cuda:7'"),
    (["--guidance-scale", "-1"], r"guidance_scale must be a number from 0 to 4"),
]


@pytest.mark.parametrize("args, pattern", SERVE, ids=[" ".join(a) for a, _ in SERVE])
def test_serve_refuses(tiny_model_dir, capsys, args, pattern):
    assert_cli_error(run_cli(["serve", "--model", tiny_model_dir, *args], capsys), pattern)


def test_inpaint_unknown_device(tiny_model_dir, files, capsys):
    result = run_cli(inpaint(tiny_model_dir, files, "--device", "bogus"), capsys)
    assert_cli_error(result, r"unknown device 'bogus'; use cpu")


def test_inpaint_guidance_scale_out_of_range(tiny_model_dir, files, capsys):
    result = run_cli(inpaint(tiny_model_dir, files, "--guidance-scale", "12"), capsys)
    assert_cli_error(result, r"guidance_scale must be a number from 0 to 4.*not 12")


def test_inpaint_cuda_without_cuda(tiny_model_dir, files, capsys):
    result = run_cli(inpaint(tiny_model_dir, files, "--device", "cuda"), capsys)
    assert_cli_error(result, r"no usable CUDA device; use --device cpu")


def test_inpaint_output_in_an_unwritable_folder(tiny_model_dir, files, capsys):
    # root ignores permission bits, so "unwritable" is a folder path that runs through a file
    result = run_cli(inpaint(tiny_model_dir, files, output=files / "file" / "out.png"), capsys)
    assert_cli_error(result, r"cannot write output folder '.*file'")


def test_batch_output_in_an_unwritable_folder(tiny_model_dir, files, capsys):
    args = ["inpaint", "--model", tiny_model_dir, "--image", files, "--mask", files / "m.png",
            "--text", "a bird", "--output", files / "file" / "out"]
    assert_cli_error(run_cli(args, capsys), r"cannot write output folder")


def test_thin_image_is_refused_before_it_allocates(tiny_model_dir, tmp_path, capsys):
    Image.fromarray(np.full((20000, 1, 3), 90, np.uint8)).save(tmp_path / "thin.png")
    Image.fromarray(np.full((20000, 1), 255, np.uint8)).save(tmp_path / "hole.png")
    args = ["inpaint", "--model", tiny_model_dir, "--image", tmp_path / "thin.png", "--mask",
            tmp_path / "hole.png", "--text", "x", "--output", tmp_path / "o.png"]
    assert_cli_error(run_cli(args, capsys), r"1×20000.*20000-pixel window.*--max-memory-mb")
    assert not (tmp_path / "o.png").exists()


def test_inpaint_max_memory_must_be_positive(tiny_model_dir, files, capsys):
    result = run_cli(inpaint(tiny_model_dir, files, "--max-memory-mb", "0"), capsys)
    assert_cli_error(result, r"--max-memory-mb.*greater than 0")


def test_inpaint_says_when_it_replaces_an_existing_output(tiny_model_dir, files, capsys):
    code, out, err = run_cli(inpaint(tiny_model_dir, files), capsys)
    assert code == 0 and "replacing" not in out
    code, out, err = run_cli(inpaint(tiny_model_dir, files), capsys)
    assert code == 0 and "replacing the existing file" in out and "Traceback" not in err


def test_batch_says_how_many_it_replaced(tiny_model_dir, files, capsys):
    args = ["inpaint", "--model", tiny_model_dir, "--image", files, "--mask", files / "m.png",
            "--text", "a bird", "--output", files / "out"]
    assert run_cli(args, capsys)[0] == 0
    code, out, _ = run_cli(args, capsys)
    assert code == 0 and "replacing 2 existing file(s)" in out  # a.png and m.png themselves


def test_inpaint_mask_that_is_not_an_image(tiny_model_dir, files, capsys):
    (files / "m.png").write_bytes(b"not a png")
    assert_cli_error(run_cli(inpaint(tiny_model_dir, files), capsys),
                     r"'.*m.png' is not a readable image")


def train(damsm, out, *extra):
    return ["train", "--dataset", "shapes", "--preset", "tiny", "--damsm", damsm, "--out", out,
            "--resolution", "32", "train.shapes_length=16", "train.sample_every=0", *extra]


TRAIN = [  # (extra arguments, pattern)
    (["--max-steps", "0"], r"--max-steps must be at least 1, got 0"),
    (["--max-steps", "-5"], r"--max-steps must be at least 1, got -5"),
    (["--resolution", "0"], r"'resolution' must be greater than 0, got 0"),
    (["--resolution", "-64"], r"'resolution' must be greater than 0, got -64"),
    (["train.batch_size=0"], r"'train.batch_size' must be greater than 0, got 0"),
    (["train.batch_size=-1"], r"'train.batch_size' must be greater than 0, got -1"),
    (["train.lr_g=nan"], r"'train.lr_g' must be a finite number, got nan"),
    (["train.lr_d=-0.1"], r"'train.lr_d' must not be negative"),
    (["train.max_steps=0"], r"'train.max_steps' must be greater than 0"),
    (["train.log_every=0"], r"'train.log_every' must be greater than 0"),
    (["train.keep_last=-1"], r"'train.keep_last' must not be negative"),
    (["train.grad_clip=inf"], r"'train.grad_clip' must be a finite number"),
]


@pytest.mark.parametrize("extra, pattern", TRAIN, ids=[" ".join(e) for e, _ in TRAIN])
def test_train_refuses(tiny_model_dir, tmp_path, capsys, extra, pattern):
    result = run_cli(train(tiny_model_dir, tmp_path / "run", "--max-steps", "1", *extra),
                     capsys)
    assert_cli_error(result, pattern)
    assert not (tmp_path / "run" / "generator.safetensors").exists()


def test_train_out_in_an_unwritable_folder(tiny_model_dir, files, capsys):
    result = run_cli(train(tiny_model_dir, files / "file" / "run", "--max-steps", "1"), capsys)
    assert_cli_error(result, r"cannot write run folder '.*file/run'")


DAMSM = [
    (["train.batch_size=-1"], r"'train.batch_size' must be greater than 0, got -1"),
    (["train.batch_size=0"], r"'train.batch_size' must be greater than 0"),
    (["train.lr=nan"], r"'train.lr' must be a finite number"),
    (["train.checkpoint_every=0"], r"'train.checkpoint_every' must be greater than 0"),
    (["data.max_len=0"], r"'data.max_len' must be greater than 0"),
    (["--max-steps", "0"], r"--max-steps must be at least 1"),
]


@pytest.mark.parametrize("extra, pattern", DAMSM, ids=[" ".join(e) for e, _ in DAMSM])
def test_train_damsm_refuses(tmp_path, capsys, extra, pattern):
    args = ["train-damsm", "--dataset", "shapes", "--out", tmp_path / "d", "--no-progress",
            *extra]
    assert_cli_error(run_cli(args, capsys), pattern)


def test_train_damsm_out_in_an_unwritable_folder(files, capsys):
    args = ["train-damsm", "--dataset", "shapes", "--out", files / "file" / "d", "--max-steps",
            "1", "--no-progress", "data.length=16", "train.batch_size=4", "data.resolution=64"]
    assert_cli_error(run_cli(args, capsys), r"cannot write run folder")


def test_evaluate_out_in_an_unwritable_folder(files, capsys):
    args = ["evaluate", "--baselines", "ns", "--dataset", "shapes", "--limit", "2",
            "--out", files / "file" / "eval"]
    assert_cli_error(run_cli(args, capsys), r"cannot write --out folder '.*file/eval'")


def test_evaluate_unknown_device(tiny_model_dir, tmp_path, capsys):
    args = ["evaluate", "--model", tiny_model_dir, "--dataset", "shapes", "--limit", "2",
            "--out", tmp_path / "e", "--device", "bogus"]
    assert_cli_error(run_cli(args, capsys), r"unknown device 'bogus'")
