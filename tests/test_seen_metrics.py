"""What a person sees: caption control, detail, realism (KID), explain diagnostics, and that
the evaluation encoder never reaches a training loss."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from textinpaint.cli import main
from textinpaint.errors import UserError
from textinpaint.evaluation import control, detail, realism
from textinpaint.evaluation.control_run import explain_scores
from textinpaint.evaluation.encoder import EvalEncoder, hole_crops, load_encoder, save_encoder

SRC = Path(__file__).resolve().parents[1] / "src" / "textinpaint"
PALETTE = control.DEFAULT_PALETTE


def painted_fills(colours, base=(0.45, 0.40, 0.35), size=16):
    """One fill per palette entry: the hole painted ``colours[k]`` (RGB 0-255) over a base."""
    fills = []
    for c in colours:
        img = torch.tensor(base, dtype=torch.float32)[None, :, None, None].repeat(1, 1, size,
                                                                                  size)
        img[:, :, 4:12, 4:12] = torch.tensor(c, dtype=torch.float32)[None, :, None, None] / 255
        fills.append(img)
    hole = torch.zeros(1, size, size, dtype=torch.bool)
    hole[:, 4:12, 4:12] = True
    return fills, hole


def ab_of(fills, hole):
    return np.stack([control.hole_ab(control.to_lab(f), hole) for f in fills], axis=1)


# ------------------------------------------------------------------------------- control

def test_fills_coloured_as_asked_score_one():
    fills, hole = painted_fills([control.COLOUR_RGB[c] for c in PALETTE])
    hits = control.control_hits(ab_of(fills, hole), control.directions(PALETTE))
    np.testing.assert_allclose(hits, 1.0)


def test_fills_that_ignore_the_caption_score_chance_for_every_colour():
    fills, hole = painted_fills([(120, 90, 60)] * len(PALETTE))
    hits = control.control_hits(ab_of(fills, hole), control.directions(PALETTE))
    np.testing.assert_allclose(hits, 1 / len(PALETTE))
    assert control.caption_effect([control.to_lab(f) for f in fills], hole)[0] == 0.0


def test_fills_in_the_wrong_order_score_zero_and_caption_effect_is_large():
    wrong = [control.COLOUR_RGB[c] for c in ("blue", "green", "red", "yellow")]
    fills, hole = painted_fills(wrong)
    hits = control.control_hits(ab_of(fills, hole), control.directions(PALETTE))
    np.testing.assert_allclose(hits, 0.0)
    assert control.caption_effect([control.to_lab(f) for f in fills], hole)[0] > 40


def test_palette_and_task_parsing():
    names, rgb = control.parse_palette("red, teal=#20a0a0")
    assert names == ("red", "teal") and rgb["teal"] == (32, 160, 160)
    names, rgb = control.parse_palette("vermillion,cobalt")  # any CSS4/xkcd colour name
    assert rgb["cobalt"][2] > rgb["cobalt"][0] and rgb["vermillion"][0] > rgb["vermillion"][2]
    (task,) = control.build_tasks(["box"], "vermillion,cobalt,x=#00ff00")
    dirs = control.directions(task.palette, dict(task.rgb))  # every colour has a direction
    assert dirs.shape == (3, 2) and np.isfinite(dirs).all()
    for bad in ("red", "red,red", "red,notacolour", "red,x=#12"):
        with pytest.raises(UserError):
            control.parse_palette(bad)
    box, head = control.build_tasks(["box", "head"], None, {"head": "a {colour} crown"})
    assert box.captions("ignored", None)[0].startswith("this bird is bright red")
    assert head.captions("ignored", None) == [f"a {c} crown" for c in PALETTE]
    obj = control.build_tasks(["object"])[0]
    caps = obj.captions("a scene with a large green circle at the top", {"color": "green"})
    assert caps[0] == "a scene with a large red circle at the top"
    with pytest.raises(UserError):
        control.build_tasks(["tail"])
    with pytest.raises(UserError):
        control.build_tasks(["box"], None, {"box": "no colour slot"})
    assert control.auto_kinds("cub:/x") == ["box", "head"] and control.auto_kinds("folder:y") == []


# -------------------------------------------------------------------------------- detail

def test_detail_ratio_of_an_image_against_itself_is_one_and_blur_lowers_it():
    from kornia.filters import gaussian_blur2d

    torch.manual_seed(0)
    img = torch.rand(2, 3, 48, 48)
    mask = torch.zeros(2, 1, 48, 48)
    mask[:, :, 8:40, 8:40] = 1
    assert torch.allclose(detail.detail_ratio(img, img, mask), torch.ones(2, dtype=torch.float64))
    blurred = gaussian_blur2d(img, (7, 7), (2.0, 2.0))
    ratio = detail.detail_ratio(blurred, img, mask)
    assert torch.all(ratio < 0.5)
    flat = img * (1 - mask) + 0.5 * mask  # a flat fill: no detail at all
    assert torch.all(detail.detail_ratio(flat, img, mask) == 0)


def test_detail_ignores_the_seam_and_small_holes():
    img = torch.full((1, 3, 32, 32), 0.5)
    img[:, :, :, 16:] = 0.9  # an edge, outside the eroded hole below
    mask = torch.zeros(1, 1, 32, 32)
    mask[:, :, 4:28, 20:30] = 1
    pred = img.clone()
    pred[:, :, 4:28, 20:30] = 0.2  # a step at the seam only
    assert torch.isnan(detail.detail_ratio(pred, img, mask))  # flat truth in the eroded hole
    tiny = torch.zeros(1, 1, 32, 32)
    tiny[:, :, 10:14, 10:14] = 1
    assert torch.isnan(detail.detail_ratio(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32),
                                           tiny))
    s = detail.summarize([0.5, 1.0, float("nan"), 1.5])
    assert s["n"] == 3 and s["median"] == 1.0 and s["in_0.6_1.2"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------- realism

def test_kid_of_a_set_against_itself_is_near_zero_and_shifted_features_are_far():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(200, 16, generator=g)
    same = realism.kid(real, real.clone())
    assert abs(same["kid"]) < 1e-9 and same["n"] == 200
    other = realism.kid(real, torch.randn(200, 16, generator=g))  # same distribution
    shifted = realism.kid(real, torch.randn(200, 16, generator=g) + 0.8)
    assert abs(other["kid"]) < 0.05 < shifted["kid"]
    assert shifted["lo"] > 0 and shifted["lo"] <= shifted["kid"] <= shifted["hi"]
    assert other["lo"] < 0 < other["hi"]  # the interval holds 0 for equal distributions
    assert realism.kid(real[:2], real[:2]) is None


def test_hole_crops_and_encoder_folder_round_trip(tmp_path):
    images = torch.zeros(2, 3, 32, 32)
    images[:, 0, 8:16, 4:20] = 1.0
    mask = torch.zeros(2, 1, 32, 32)
    mask[0, :, 8:16, 4:20] = 1  # the red box exactly: the crop is all red
    crops = hole_crops(images, mask, size=8)
    assert crops.shape == (2, 3, 8, 8)
    assert torch.allclose(crops[0, 0], torch.ones(8, 8), atol=1e-5)
    torch.manual_seed(0)
    net = EvalEncoder(classes=3, channels=(8, 16), input_size=16)
    save_encoder(tmp_path / "enc", net.eval(), {"classes": 3, "channels": [8, 16]})
    enc = load_encoder(tmp_path / "enc")
    feats = enc(images, mask)
    assert feats.shape == (2, 16) and not feats.requires_grad
    with pytest.raises(UserError, match="not an evaluation-encoder folder"):
        load_encoder(tmp_path / "missing")


# ------------------------------------------------------------------------------- explain

def explain_batch(weights, attention, colour_at):
    t = weights.shape[1]
    tokens = torch.arange(10, 10 + t)[None].repeat(weights.shape[0], 1)
    tokens[:, colour_at] = 99
    lengths = torch.full((weights.shape[0],), t)
    mask = torch.zeros(weights.shape[0], 1, 8, 8)
    mask[:, :, :4, :4] = 1  # top-left quarter
    return explain_scores({"word_weights": weights, "word_attention": attention}, tokens,
                          lengths, 99, mask)


def test_explain_on_constructed_weights_and_maps():
    t = 6
    attn = torch.full((1, t, 4, 4), 1 / t)
    attn[0, 2] = 0.0
    attn[0, 2, :2, :2] = 1.0  # the colour word looks only at the hole
    weights = torch.tensor([[0.1, 0.2, 0.9, 0.3, 0.2, 0.1]])
    (row,) = explain_batch(weights, attn, colour_at=2)
    assert row["top2"] == 1.0 and row["spread"] == pytest.approx(0.8)
    assert row["saturated"] == 0.0
    assert row["focus_colour"] == pytest.approx(4.0)  # all mass in a quarter of the map
    assert row["top2_chance"] == pytest.approx(1 - 10 / 15)
    # A saturated module: every weight 1.0 (or ~0) -> chance, never a hit; uniform maps -> 1.
    for value in (1.0, 1e-13):
        (sat,) = explain_batch(torch.full((1, t), value), torch.full((1, t, 4, 4), 1 / t), 2)
        assert sat["saturated"] == 1.0 and sat["top2"] == pytest.approx(sat["top2_chance"])
        assert sat["focus_colour"] == pytest.approx(1.0) and sat["focus_words"] == \
            pytest.approx(1.0)
    (low,) = explain_batch(torch.tensor([[0.9, 0.8, 0.1, 0.7, 0.6, 0.5]]), attn, 2)
    assert low["top2"] == 0.0


# --------------------------------------------------------------------- end to end (CLI)

@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("enc") / "eval-encoder"
    save_encoder(folder, EvalEncoder(classes=4, channels=(8, 16)).eval(),
                 {"classes": 4, "channels": [8, 16]})
    return folder


def test_evaluate_writes_control_detail_realism_and_pictures(tiny_model_dir, encoder_dir,
                                                             tmp_path):
    out = tmp_path / "eval"
    assert main(["evaluate", "--no-progress", "--dataset", "shapes", "--masks", "center",
                 "--model", str(tiny_model_dir), "--limit", "6", "--batch-size", "4",
                 "--eval-encoder", str(encoder_dir), "--out", str(out)]) == 0
    for name in ("metrics.json", "report.md", "control_object.png", "by_hole_size.png",
                 "control_per_image.csv"):
        assert (out / name).is_file(), name
    import csv

    rows = list(csv.DictReader((out / "control_per_image.csv").open()))
    assert len(rows) == 6 * 4  # six images x (three baselines + the model)
    blind = [r for r in rows if r["method"] == "ns"]
    assert all(r["credits"] == "0.25/0.25/0.25/0.25" for r in blind)
    res = json.loads((out / "metrics.json").read_text())["results"]
    for r in res.values():
        c = r["control"]["object"]
        assert c["n"] == 6 and c["palette"] == list(PALETTE) and c["chance"] == 0.25
        assert 0 <= c["accuracy"]["mean"] <= 1 and set(c["per_colour"]) == set(PALETTE)
        assert r["realism"]["kid"]["n"] == 6 and r["detail"]["n"] >= 1
        if r["kind"] == "baseline":  # caption-blind by construction: exactly chance
            assert c["accuracy"] == {"mean": 0.25, "lo": 0.25, "hi": 0.25, "n": 6}
            assert c["caption_effect"]["mean"] == 0.0 and "explain" not in c
    assert set(res["tiny"]["control"]["object"]["explain"]) >= {"spread", "top2", "focus_colour"}
    report = (out / "report.md").read_text()
    assert report.index("## What a person sees") < report.index("## Pixel metrics")
    assert "| tiny | shapes target object | 6 |" in report


def test_evaluate_control_options_and_errors(tmp_path, capsys):
    argv = ["evaluate", "--no-progress", "--dataset", "shapes", "--limit", "4",
            "--resolution", "32", "--out", str(tmp_path / "o"), "--eval-encoder", "none"]
    assert main([*argv, "--control", "none"]) == 0
    res = json.loads((tmp_path / "o" / "metrics.json").read_text())["results"]
    assert "control" not in res["ns"] and "realism" not in res["ns"]
    for extra, message in ((["--control", "tail"], "unknown task 'tail'"),
                           (["--palette", "red"], "at least two"),
                           (["--template", "box"], "TASK=TEXT"),
                           (["--eval-encoder", str(tmp_path)], "not an evaluation-encoder")):
        assert main([*argv, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and message in err


# ------------------------------------------------------- the judge never trains anything

def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_training_code_imports_or_loads_the_evaluation_encoder():
    training = [*(SRC / "losses").glob("*.py"), *(SRC / "training").glob("*.py"),
                *(SRC / "nn").glob("*.py")]
    assert training
    for path in training:
        text = path.read_text()
        assert not any("encoder" in n and "evaluation" in n for n in _imports(path)), path
        assert "eval-encoder" not in text and "eval_encoder" not in text, path


def test_a_training_step_never_loads_the_evaluation_encoder(tiny_model_dir, tmp_path):
    """Run a real (tiny) training in a fresh interpreter and check what it imported."""
    code = (
        "import sys\n"
        "from textinpaint.cli import main\n"
        f"rc = main(['train', '--preset', 'tiny', '--dataset', 'shapes', '--resolution', '32',"
        f" '--damsm', {str(tiny_model_dir)!r}, '--max-steps', '2',"
        f" '--out', {str(tmp_path / 'run')!r}, 'train.batch_size=2'])\n"
        "loaded = [m for m in sys.modules if m.startswith('textinpaint.evaluation')]\n"
        "print('LOADED', loaded)\n"
        "sys.exit(rc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(s for s in proc.stdout.splitlines() if s.startswith("LOADED"))
    assert "encoder" not in line and "realism" not in line, line


def test_sample_spreads_the_evaluation_over_the_split(tmp_path):
    from textinpaint.evaluation.evalset import build_eval_set

    full = build_eval_set("shapes", "test", "object", 32, limit=12, progress=False)
    some = build_eval_set("shapes", "test", "object", 32, limit=12, progress=False, sample=4)
    assert some.n == 4 and [some.dataset[k]["index"] for k in range(4)] == [0, 1, 2, 3]
    # positions 0, 4, 7, 11 of the full set: the same captions, in order
    assert some.captions == [full.captions[i] for i in (0, 4, 7, 11)]
    assert all(j is None or 0 <= j < 4 for j in some.mismatch)
    assert main(["evaluate", "--no-progress", "--dataset", "shapes", "--limit", "12",
                 "--sample", "4", "--resolution", "32", "--eval-encoder", "none",
                 "--out", str(tmp_path / "o")]) == 0
    data = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert data["n"] == 4 and data["results"]["ns"]["control"]["object"]["n"] == 4


def test_evaluate_uses_the_shipped_evaluation_encoder_by_default(tmp_path):
    from textinpaint.evaluation.encoder import shipped_folder

    if not (shipped_folder() / "config.json").is_file():
        pytest.skip("models/eval-encoder is not shipped in this tree")
    assert main(["evaluate", "--no-progress", "--dataset", "shapes", "--limit", "4",
                 "--resolution", "32", "--control", "none", "--out", str(tmp_path / "o")]) == 0
    data = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert str(shipped_folder()) in data["protocol"]["realism"]
    assert data["results"]["ns"]["realism"]["kid"]["n"] == 4
