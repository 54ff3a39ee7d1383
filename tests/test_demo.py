"""The README's main job: ``textinpaint demo`` writes its PNGs and reports each fill."""

import json

import numpy as np
from PIL import Image

from textinpaint.cli import main


def test_demo_writes_two_fills_that_differ_only_in_the_hole(tmp_path, tiny_model_dir, capsys):
    args = ["demo", "--model", str(tiny_model_dir), "--out", str(tmp_path), "--seed", "2"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["fills"]) == 2
    assert report["fills"][0]["caption"] != report["fills"][1]["caption"]
    truth = np.asarray(Image.open(tmp_path / "ground_truth.png"))
    masked = np.asarray(Image.open(tmp_path / "masked.png"))
    hole = (masked != truth).any(-1)
    assert hole.any()
    for fill in report["fills"]:
        pixels = np.asarray(Image.open(fill["file"]))
        assert (pixels[~hole] == truth[~hole]).all()  # only the hole may change
    assert Image.open(tmp_path / "comparison.png").size[0] > 4 * truth.shape[1]


def test_demo_without_a_model_names_the_missing_folder(tmp_path, monkeypatch, capsys):
    import textinpaint.demo as demo
    from textinpaint import shipped

    monkeypatch.setattr(demo, "SHIPPED_SHAPES_MODEL", tmp_path / "nope")
    monkeypatch.setattr(shipped, "SOURCE_MODELS", tmp_path / "nope")
    monkeypatch.delenv(shipped.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--out", str(tmp_path / "o")]) == 2
    assert "models/shapes-64" in capsys.readouterr().err
