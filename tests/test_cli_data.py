"""``textinpaint data stats|show`` run in-process through the CLI entry point."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from PIL import Image

from textinpaint.cli import main

needs_shapes = pytest.mark.skipif(importlib.util.find_spec("textinpaint.data.shapes") is None,
                                  reason="textinpaint.data.shapes is not written yet")


@pytest.fixture(scope="module")
def cub_spec(shared_data) -> str:
    root = shared_data / "cub"
    if not (root / "CUB_200_2011").is_dir():
        pytest.skip(f"CUB subset not found under {root}")
    return f"cub:{root}"


def stats(capsys, *argv: str) -> dict:
    assert main(["data", "stats", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_stats_cub(cub_spec, capsys):
    out = stats(capsys, "--dataset", cub_spec, "--split", "all")
    assert out["images"] == 2290 and out["captions"] == 22900
    assert out["classes"] == 40 and out["splits"] == {"train": 1200, "test": 1090}
    assert out["vocab_size"] > 1000 and 10 < out["mean_tokens"] < 20
    assert 0 < out["cut_fraction"] < 1 and out["max_tokens"] > 18
    test = stats(capsys, "--dataset", cub_spec, "--split", "test")
    assert (test["images"], test["captions"]) == (1090, 10900)


def test_show_cub(cub_spec, tmp_path):
    out = tmp_path / "grid.png"
    argv = ["data", "show", "--dataset", cub_spec, "--masks", "part:head", "--n", "4",
            "--ncols", "2", "--resolution", "64", "--out", str(out)]
    assert main(argv) == 0
    with Image.open(out) as img:
        # 2 cells per line, each image + hole (2 × 64 px) with 6 px gaps.
        assert img.format == "PNG" and img.width == 2 * (2 * 64 + 6) + 6
        assert img.height > 2 * 64


@needs_shapes
def test_stats_and_show_shapes(capsys, tmp_path):
    out = stats(capsys, "--dataset", "shapes", "--split", "test")
    assert out["images"] == out["captions"] == 1000 and out["classes"] > 1
    assert main(["data", "show", "--dataset", "shapes", "--masks", "object", "--n", "3",
                 "--resolution", "32", "--out", str(tmp_path / "s.png")]) == 0
    with Image.open(tmp_path / "s.png") as img:
        assert img.width == 3 * (2 * 32 + 6) + 6


@pytest.mark.parametrize("argv", [
    ["data", "stats", "--dataset", "imagenet:/nowhere"],
    ["data", "show", "--dataset", "cub:/definitely/not/here", "--out", "x.png"],
])
def test_bad_dataset_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_missing_test_split_exits_2(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "a.txt").write_text("a black square\n")
    assert main(["data", "stats", "--dataset", f"folder:{tmp_path}", "--split", "train"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1
    assert main(["data", "stats", "--dataset", f"folder:{tmp_path}", "--split", "test"]) == 2
    assert "no test split" in capsys.readouterr().err


def test_show_needs_png(tmp_path, capsys):
    argv = ["data", "show", "--dataset", f"folder:{tmp_path}", "--out", str(Path("g.jpg"))]
    assert main(argv) == 2
    assert ".png" in capsys.readouterr().err
