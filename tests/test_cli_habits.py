"""The command line a new user meets: clean help, models by name, output formats, one-line
errors for a missing GPU, caption warnings, EXIF-rotated photos, a non-editable install."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers_inference import box_mask, noise_image
from textinpaint import shipped
from textinpaint.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]


def every_parser(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from every_parser(child)


def test_help_has_no_none_defaults_and_no_doubled_defaults():
    for parser in every_parser(build_parser()):
        text = " ".join(parser.format_help().split())
        assert "(default: None)" not in text, parser.prog
        formatter = parser._get_formatter()
        for action in parser._actions:
            if action.help in (None, argparse.SUPPRESS):
                continue
            helped = formatter._expand_help(action)
            assert helped.lower().count("default") <= 1, f"{parser.prog}: {helped}"


def test_models_lists_name_size_and_purpose(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("birds-128", "birds-256", "shapes-64"):
        line = next(line for line in out.splitlines() if line.startswith(name))
        assert " MB " in line and " px " in line and len(line) > 40


def test_model_by_name_from_another_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(noise_image(64, 48)).save("in.png")
    Image.fromarray(box_mask(64, 48, (20, 10, 40, 30))).save("hole.png")
    for model in ("shapes-64", "models/shapes-64"):
        assert main(["inpaint", "--model", model, "--image", "in.png", "--mask", "hole.png",
                     "--text", "a red circle", "--output", "out.png"]) == 0, \
            capsys.readouterr().err
    assert main(["inpaint", "--model", "birds-512", "--image", "in.png", "--mask", "hole.png",
                 "--text", "x", "--output", "out.png"]) == 2
    err = capsys.readouterr().err
    assert "model 'birds-512' not found" in err and "TEXTINPAINT_MODELS" in err


def test_search_path_env_var_when_the_source_tree_is_absent(tmp_path, monkeypatch):
    """What a non-editable install sees: no source tree; TEXTINPAINT_MODELS finds them."""
    monkeypatch.setattr(shipped, "SOURCE_MODELS", None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(shipped.ENV_VAR, raising=False)
    from textinpaint.errors import UserError

    with pytest.raises(UserError, match="TEXTINPAINT_MODELS"):
        shipped.resolve_model_dir("birds-128")
    monkeypatch.setenv(shipped.ENV_VAR, os.pathsep.join([str(tmp_path), str(REPO / "models")]))
    assert shipped.resolve_model_dir("birds-128") == (REPO / "models" / "birds-128").resolve()
    assert shipped.resolve_model_dir(None).name == "birds-128"


@pytest.mark.slow
def test_non_editable_install_finds_models_through_the_env_var(tmp_path):
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name if source.exists() else
                    (source.mkdir() or source / name))
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns(
        "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop(shipped.ENV_VAR, None)
    run = [sys.executable, "-m", "textinpaint", "models"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = subprocess.run(run, cwd=elsewhere, env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "TEXTINPAINT_MODELS" in missing.stderr
    env[shipped.ENV_VAR] = str(REPO / "models")
    found = subprocess.run(run + ["--paths"], cwd=elsewhere, env=env, capture_output=True,
                           text=True)
    assert found.returncode == 0 and "birds-128" in found.stdout
    assert str(target) not in found.stdout and "birds-256" in found.stdout


def test_jpeg_and_webp_outputs_with_quality(tmp_path, tiny_model_dir):
    image = noise_image(48, 40)
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray(box_mask(48, 40, (10, 10, 30, 30))).save(tmp_path / "hole.png")
    base = ["inpaint", "--model", str(tiny_model_dir), "--image", str(tmp_path / "in.png"),
            "--mask", str(tmp_path / "hole.png"), "--text", "a circle"]
    sizes = {}
    for name, quality in (("a.jpg", 95), ("b.jpg", 20), ("c.webp", 80)):
        assert main(base + ["--output", str(tmp_path / name), "--quality", str(quality)]) == 0
        with Image.open(tmp_path / name) as written:
            assert written.format == ("WEBP" if name.endswith("webp") else "JPEG")
            assert written.size == (48, 40)
        sizes[name] = (tmp_path / name).stat().st_size
    assert sizes["b.jpg"] < sizes["a.jpg"]  # the quality reached the encoder
    assert main(base + ["--output", str(tmp_path / "d.jpg"), "--quality", "0"]) == 2


def test_seam_flag_changes_only_the_hole_and_overrides_the_models_default(
        tmp_path, tiny_model_dir, seam_model_dir):
    image, hole = noise_image(48, 40), box_mask(48, 40, (10, 10, 30, 30))
    Image.fromarray(image).save(tmp_path / "in.png")
    Image.fromarray(hole).save(tmp_path / "hole.png")

    def fill(model, name, *flags):
        assert main(["inpaint", "--model", str(model), "--image", str(tmp_path / "in.png"),
                     "--mask", str(tmp_path / "hole.png"), "--text", "a circle",
                     "--output", str(tmp_path / name), *flags]) == 0
        return np.asarray(Image.open(tmp_path / name))

    plain, seam = fill(tiny_model_dir, "plain.png"), fill(tiny_model_dir, "seam.png", "--seam")
    assert (seam[~hole] == image[~hole]).all() and (seam[hole] != plain[hole]).any()
    # a folder whose config.json turns the seam on: on by default, off with --no-seam
    assert (fill(seam_model_dir, "default.png") == seam).all()
    assert (fill(seam_model_dir, "off.png", "--no-seam") == plain).all()


def test_folder_results_as_webp(tmp_path, tiny_model_dir):
    (tmp_path / "in").mkdir()
    Image.fromarray(noise_image(48, 40)).save(tmp_path / "in" / "a.png")
    Image.fromarray(box_mask(48, 40, (10, 10, 30, 30))).save(tmp_path / "hole.png")
    assert main(["inpaint", "--model", str(tiny_model_dir), "--image", str(tmp_path / "in"),
                 "--mask", str(tmp_path / "hole.png"), "--text", "a circle", "--output",
                 str(tmp_path / "out"), "--format", "webp"]) == 0
    assert Image.open(tmp_path / "out" / "a.webp").format == "WEBP"


def test_device_cuda_on_a_cpu_only_torch_is_one_line(tmp_path, tiny_model_dir, monkeypatch,
                                                      capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    Image.fromarray(noise_image(48, 40)).save(tmp_path / "in.png")
    assert main(["inpaint", "--model", str(tiny_model_dir), "--image", str(tmp_path / "in.png"),
                 "--mask", str(tmp_path / "in.png"), "--text", "x", "--output",
                 str(tmp_path / "o.png"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "device 'cuda'" in err and "no usable CUDA" in err


def test_caption_warnings_on_the_command_line(tmp_path, tiny_model_dir, capsys):
    Image.fromarray(noise_image(48, 40)).save(tmp_path / "in.png")
    Image.fromarray(box_mask(48, 40, (10, 10, 30, 30))).save(tmp_path / "hole.png")
    base = ["inpaint", "--model", str(tiny_model_dir), "--image", str(tmp_path / "in.png"),
            "--mask", str(tmp_path / "hole.png"), "--output", str(tmp_path / "o.png")]
    assert main(base + ["--text", "a red zebra " + "circle " * 20]) == 0
    err = capsys.readouterr().err
    assert "warning: in.png: unknown word(s) 'zebra'" in err
    assert "reads only the first 18" in err
    assert main(base + ["--text", "🐦🐦"]) == 0
    assert "no word the model can read" in capsys.readouterr().err


def exif_rotated_jpeg(path: Path, stored: np.ndarray, orientation: int = 6) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(path, quality=100, exif=exif)


def test_exif_rotated_photo_gets_its_mask_in_the_displayed_orientation(tmp_path,
                                                                       tiny_model_dir):
    """A mask drawn on the stored pixel grid (60×40) of a photo shown upright (40×60) is
    turned like the photo; the CLI and the API agree on the result."""
    from fastapi.testclient import TestClient

    from textinpaint.server.app import create_app

    stored = noise_image(60, 40)
    exif_rotated_jpeg(tmp_path / "photo.jpg", stored)
    stored_hole = box_mask(60, 40, (5, 5, 25, 15))  # the top-left of the stored grid
    Image.fromarray(stored_hole).save(tmp_path / "hole.png")
    assert main(["inpaint", "--model", str(tiny_model_dir), "--image",
                 str(tmp_path / "photo.jpg"), "--mask", str(tmp_path / "hole.png"),
                 "--text", "a circle", "--output", str(tmp_path / "out.png")]) == 0
    cli = np.asarray(Image.open(tmp_path / "out.png"))
    upright = np.asarray(Image.open(tmp_path / "photo.jpg").transpose(Image.Transpose.ROTATE_270))
    assert cli.shape == (60, 40, 3) and upright.shape == (60, 40, 3)
    hole = np.rot90(stored_hole, k=-1)  # orientation 6: turned 90° clockwise for display
    np.testing.assert_array_equal(cli[~hole], upright[~hole])
    assert (cli[hole] != upright[hole]).any()

    client = TestClient(create_app(tiny_model_dir))
    files = {"image": ("photo.jpg", (tmp_path / "photo.jpg").read_bytes(), "image/jpeg"),
             "mask": ("hole.png", (tmp_path / "hole.png").read_bytes(), "image/png")}
    answer = client.post("/api/v1/inpaint", files=files, data={"text": "a circle"},
                         headers={"Accept": "image/png"})
    assert answer.status_code == 200, answer.text
    from io import BytesIO

    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(answer.content))), cli)
