"""Evaluation: metric values, baselines, the evaluation set, text gain, caption accuracy, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from textinpaint.cli import main
from textinpaint.errors import UserError
from textinpaint.evaluation import caption_accuracy, metrics
from textinpaint.evaluation.baselines import BASELINES, get_baseline, parse_baselines
from textinpaint.evaluation.evalset import build_eval_set, mismatch_indices
from textinpaint.evaluation.fid import InceptionFeatures, fid_kid
from textinpaint.evaluation.runner import evaluate, unique_names

OUTPUTS = ("metrics.json", "report.md", "per_image.csv", "grid.png", "by_hole_area.png")


def centre_mask(b=2, size=32, lo=8, hi=24):
    m = torch.zeros(b, 1, size, size)
    m[:, :, lo:hi, lo:hi] = 1
    return m


# ------------------------------------------------------------------------------ metrics

def test_identical_images_are_perfect():
    img = torch.rand(2, 3, 32, 32)
    r = metrics.image_metrics(img, img, centre_mask())
    for k in ("l1", "l1_hole"):
        assert torch.all(r[k] == 0)
    for k in ("psnr", "psnr_hole"):
        assert torch.all(r[k] == metrics.PSNR_CAP)  # capped, not inf
    for k in ("ssim", "ssim_hole"):
        assert torch.allclose(r[k], torch.ones(2, dtype=torch.float64), atol=1e-6)


@pytest.mark.parametrize("e", [0.01, 0.1, 0.25])
def test_constant_error(e):
    target = torch.full((2, 3, 32, 32), 0.5)
    r = metrics.image_metrics(target + e, target, centre_mask())
    for k in ("l1", "l1_hole"):
        assert torch.allclose(r[k], torch.tensor(e, dtype=torch.float64), atol=1e-6)
    for k in ("psnr", "psnr_hole"):
        assert torch.allclose(r[k], torch.tensor(-10 * math.log10(e * e), dtype=torch.float64),
                              atol=1e-3)


def test_hole_metrics_only_see_the_hole():
    target = torch.rand(2, 3, 32, 32)
    mask = centre_mask()
    outside = target + 0.2 * (1 - mask)  # wrong only where the pixels are known
    r = metrics.image_metrics(outside.clamp(0, 1), target, mask)
    assert torch.all(r["l1_hole"] == 0) and torch.all(r["psnr_hole"] == metrics.PSNR_CAP)
    assert torch.all(r["l1"] > 0)
    inside = (target + 0.2 * mask).clamp(0, 1)
    r = metrics.image_metrics(inside, target, mask)
    ratio = mask.mean()
    assert torch.allclose(r["l1"], r["l1_hole"] * ratio, atol=1e-6)
    assert torch.all(r["ssim_hole"] < r["ssim"])  # the known part's SSIM lifts the full one


def test_empty_hole_gives_nan_and_means_skip_it():
    img = torch.rand(1, 3, 32, 32)
    r = metrics.image_metrics(img, img, torch.zeros(1, 1, 32, 32))
    assert math.isnan(float(r["l1_hole"][0])) and float(r["l1"][0]) == 0
    assert metrics.mean([1.0, math.nan, 3.0]) == 2.0 and metrics.mean([math.nan]) is None


def test_gain_sign_and_bins():
    assert metrics.gain("psnr", 20.0, 18.0) == 2.0
    assert metrics.gain("l1_hole", 0.1, 0.15) == pytest.approx(0.05)  # lower L1 with truth
    assert metrics.gain("ssim", None, 0.5) is None
    assert metrics.ratio_bin(0.0) == "0-10%" and metrics.ratio_bin(0.25) == "20-30%"
    assert metrics.ratio_bin(1.0) == "90-100%"


def test_fid_kid_from_features():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(100, 32, generator=g)  # 32-d stands in for 2048-d: same code, faster
    same = fid_kid(real, real)
    far = fid_kid(real, torch.randn(100, 32, generator=g) + 1.0)
    assert abs(same["fid"]) < 1e-3 and far["fid"] > 20 and far["kid"] > same["kid"]
    assert fid_kid(real, real) == same  # KID's subsets come from a fixed seed


def test_fid_weights_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        InceptionFeatures(tmp_path / "missing.pth")


# ---------------------------------------------------------------------------- baselines

@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_composite_exactly(name):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (2, 3, 32, 32))
    image = torch.from_numpy(pixels).float() / 127.5 - 1
    mask = torch.from_numpy(rng.random((2, 1, 32, 32)) < 0.3).float()
    out = get_baseline(name)(image, mask)
    assert out.shape == image.shape
    known = mask.expand_as(image) == 0
    assert torch.equal(out[known], image[known])  # bit for bit
    assert out.min() >= -1 and out.max() <= 1


def test_mean_fill_colour():
    image = torch.full((1, 3, 16, 16), -1.0)
    image[:, 0] = 1.0  # pure red where known
    mask = centre_mask(1, 16, 4, 12)
    out = get_baseline("mean")(image, mask)
    assert torch.allclose(out[0, :, 8, 8], torch.tensor([1.0, -1.0, -1.0]))


def test_baseline_registry():
    assert [b.name for b in parse_baselines(None)] == ["telea", "ns", "mean"]
    assert [b.name for b in parse_baselines("ns, mean,ns")] == ["ns", "mean"]
    assert parse_baselines("none") == []
    with pytest.raises(UserError, match="unknown baseline 'lama'"):
        parse_baselines("telea,lama")


# ------------------------------------------------------------------------ evaluation set

def test_mismatched_captions():
    caps = ["a", "b", "a", "c", "d"]
    first = mismatch_indices(caps, seed=3)
    assert first == mismatch_indices(caps, seed=3)
    for i, j in enumerate(first):
        assert j != i and caps[j] != caps[i]
    assert mismatch_indices(["x", "x"], 0) == [None, None]
    assert mismatch_indices(["x"], 0) == [None]
    colours = ["red", "red", "blue", "green", "blue"]
    for i, j in enumerate(mismatch_indices(caps, 1, colours)):
        assert colours[j] != colours[i]


def test_eval_set_is_deterministic():
    a = build_eval_set("shapes", "test", "center", 32, seed=1, limit=6, progress=False)
    b = build_eval_set("shapes", "test", "center", 32, seed=1, limit=6, progress=False)
    assert a.captions == b.captions and a.mismatch == b.mismatch
    for i in range(6):
        x, y = a.dataset[i], b.dataset[i]
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["mask"], y["mask"])
    assert a.targets[0]["target"]


def test_unique_names():
    assert unique_names(["a", "a", "b", "a"]) == ["a", "a-2", "b", "a-3"]
    assert unique_names(["telea", "x"]) == ["telea", "x"]


# --------------------------------------------------------------------- caption accuracy

def test_caption_accuracy_on_constructed_fills():
    from textinpaint.data.shapes import COLORS

    es = build_eval_set("shapes", "test", "object", 64, limit=4, progress=False)
    item = es.dataset[0]
    target = es.targets[0]
    truth = ((item["image"].permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()
    hole = item["mask"][0].numpy() > 0.5
    assert caption_accuracy.hidden_fraction(target, hole) == 1.0
    ok = caption_accuracy.score(truth, target, given=None)
    assert ok["color_gt"] and ok["shape_gt"]
    other = next(c for c in COLORS if c != target["color"])
    painted = truth.copy()
    painted[hole] = COLORS[other]
    wrong = caption_accuracy.score(painted, target, given={"color": other, "shape": "square"})
    assert not wrong["color_gt"] and wrong["color_given"]
    summary = caption_accuracy.summarize([ok, wrong])
    assert summary["n"] == 2 and summary["color_gt"] == 0.5 and summary["color_given"] == 1.0


# --------------------------------------------------------------------------- end to end

def run_cli(*argv):
    return main(["evaluate", "--no-progress", *argv])


def test_cli_baselines_on_shapes(tmp_path, capsys):
    out = tmp_path / "eval"
    argv = ["--dataset", "shapes", "--masks", "object", "--resolution", "32", "--limit", "8",
            "--batch-size", "3"]
    assert run_cli(*argv, "--out", str(out)) == 0
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    data = json.loads((out / "metrics.json").read_text())
    assert data["n"] == 8 and data["resolution"] == 32 and data["dataset"] == "shapes"
    assert set(data["results"]) == {"telea", "ns", "mean"}
    for r in data["results"].values():
        assert 0 <= r["l1"] <= r["l1_hole"] and r["buckets"]
        assert r["caption_accuracy"]["true"]["n"] == 8
    report = (out / "report.md").read_text()
    assert "| telea |" in report and "FID/KID skipped" in report and "radius 3" in report
    # Same settings, other batch size: the same numbers, byte for byte.
    assert run_cli(*argv[:-2], "--batch-size", "8", "--out", str(tmp_path / "again")) == 0
    assert (tmp_path / "again" / "metrics.json").read_text() == \
        (out / "metrics.json").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "shapes", "--masks", "ellipse"], "unknown mask kind 'ellipse'"),
    (["--dataset", "shapes", "--baselines", "lama"], "unknown baseline"),
    (["--dataset", "shapes", "--model", "/no/such/model"], "does not exist"),
])
def test_cli_errors_exit_2_with_one_line(argv, message, tmp_path, capsys):
    assert run_cli(*argv, "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and message in err


def test_cli_dataset_without_test_split(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "data" / "a.png")
    (tmp_path / "data" / "a.txt").write_text("a black square\n")
    assert run_cli("--dataset", f"folder:{tmp_path / 'data'}", "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert "no test split" in err and "\n" not in err


def test_cli_incomplete_model_folder(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert run_cli("--dataset", "shapes", "--model", str(tmp_path / "m"),
                   "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err.strip()
    assert "lacks" in err and "\n" not in err


# ------------------------------------------------------------------------- tiny models

@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from textinpaint.model_folder import init_model_folder

    root = tmp_path_factory.mktemp("models")
    text = init_model_folder(root / "text", resolution=32, seed=0)
    blind = init_model_folder(root / "blind", resolution=32, seed=0, use_text=False)
    return text, blind


def test_text_gain_with_tiny_models(tiny_models, tmp_path):
    from textinpaint.model_folder import load_model

    text, blind = (load_model(f) for f in tiny_models)
    out = tmp_path / "eval"
    result = evaluate([get_baseline("mean"), text, blind], "shapes", masks="object",
                      out_dir=out, resolution=32, limit=6, batch_size=4, progress=False)
    for name in OUTPUTS + ("grid_text.png",):
        assert (out / name).is_file(), name
    res = result["results"]
    assert list(res) == ["mean", "text", "blind"]
    assert "text_gain" not in res["mean"] and "r_precision" not in res["mean"]
    # A model whose fill ignores the caption gains nothing from the true one.
    for cond in ("mismatched", "empty"):
        for k, v in res["blind"]["text_gain"][cond].items():
            assert v == pytest.approx(0.0, abs=1e-9), (cond, k)
    t = res["text"]
    assert 0 <= t["r_precision"] <= 1 and t["r_precision_candidates"] == 6
    assert set(t["text_gain"]) == {"mismatched", "empty"}
    acc = t["caption_accuracy"]
    assert set(acc["mismatched"]) == {"matches_ground_truth", "matches_given_caption"}
    assert "each model's own DAMSM" in result["protocol"]["r_precision"]


def test_paired_differences_and_per_image_scores(tiny_models, tmp_path):
    from textinpaint.model_folder import load_model

    text, blind = (load_model(f) for f in tiny_models)
    out = tmp_path / "eval"
    result = evaluate([get_baseline("mean"), text, blind], "shapes", masks="center",
                      out_dir=out, resolution=32, limit=6, batch_size=4, progress=False)
    res = result["results"]
    assert "paired" not in res["mean"]  # baselines are the reference, not compared
    # The caption-blind model: its text gain is exactly 0, a tie with a zero-width interval.
    for stat in res["blind"]["paired"]["text_gain"]["mismatched"].values():
        assert stat["mean"] == stat["lo"] == stat["hi"] == 0.0 and stat["n"] == 6
    # The mean paired difference is the difference of the reported means, signed so that
    # positive = the model is better.
    vs_mean = res["text"]["paired"]["vs"]["mean"]
    assert vs_mean["l1_hole"]["mean"] == pytest.approx(
        res["mean"]["l1_hole"] - res["text"]["l1_hole"], abs=1e-12)
    assert vs_mean["psnr_hole"]["mean"] == pytest.approx(
        res["text"]["psnr_hole"] - res["mean"]["psnr_hole"], abs=1e-9)
    assert set(res["text"]["paired"]["vs"]) == {"mean", "blind"}
    assert set(vs_mean["buckets"]) == set(res["text"]["buckets"])
    # per_image.csv: one row per image, method and caption; its means are the report's.
    import csv

    rows = list(csv.DictReader((out / "per_image.csv").open()))
    assert len(rows) == 6 * (1 + 3 + 3)
    blind_true = [float(r["l1_hole"]) for r in rows
                  if r["method"] == "blind" and r["caption"] == "true"]
    assert np.mean(blind_true) == pytest.approx(res["blind"]["l1_hole"], rel=1e-5)
    assert {r["index"] for r in rows} == {str(i) for i in range(6)}
    report = (out / "report.md").read_text()
    assert "## Paired differences" in report and "| text | its mismatched caption |" in report


def test_cli_with_model_and_resolution_check(tiny_models, tmp_path, capsys):
    text, _ = tiny_models
    assert run_cli("--dataset", "shapes", "--model", str(text), "--resolution", "64",
                   "--out", str(tmp_path / "o")) == 2
    assert "trained at 32 px" in capsys.readouterr().err
    assert run_cli("--dataset", "shapes", "--model", str(text), "--model", str(text),
                   "--baselines", "none", "--limit", "4", "--masks", "center",
                   "--out", str(tmp_path / "ok")) == 0
    data = json.loads((tmp_path / "ok" / "metrics.json").read_text())
    assert list(data["results"]) == ["text", "text-2"]  # duplicates disambiguated
    assert data["resolution"] == 32  # taken from the model


@pytest.mark.parametrize("flags, name", [([], "tiny-seam+seam"), (["--seam", "off"], "tiny-seam"),
                                         (["--seam", "both"], "tiny-seam+seam")])
def test_evaluate_scores_a_model_as_its_folder_says_by_default(seam_model_dir, tmp_path, flags,
                                                               name):
    assert run_cli("--dataset", "shapes", "--model", str(seam_model_dir), *flags,
                   "--baselines", "none", "--limit", "2", "--masks", "center", "--control",
                   "none", "--eval-encoder", "none", "--out", str(tmp_path / "o")) == 0
    res = json.loads((tmp_path / "o" / "metrics.json").read_text())["results"]
    assert name in res and ("tiny-seam" in res) == (flags != [])


def test_cli_guidance_scales_score_each_model_at_each_scale(tiny_models, tmp_path, capsys):
    text, _ = tiny_models
    common = ["--dataset", "shapes", "--model", str(text), "--baselines", "none", "--limit", "4",
              "--masks", "center", "--control", "none", "--eval-encoder", "none"]
    assert run_cli(*common, "--guidance-scale", "1, 0,2", "--out", str(tmp_path / "o")) == 0
    res = json.loads((tmp_path / "o" / "metrics.json").read_text())["results"]
    assert list(res) == ["text", "text+guide0", "text+guide2"]
    # scale 0 is the empty caption's fill: the true caption gains nothing over it
    assert res["text+guide0"]["text_gain"]["empty"]["l1_hole"] == pytest.approx(0, abs=1e-6)
    assert res["text+guide2"]["l1_hole"] != res["text"]["l1_hole"]
    assert run_cli(*common, "--guidance-scale", "1,x", "--out", str(tmp_path / "bad")) == 2
    assert "--guidance-scale must be a number from 0 to 4" in capsys.readouterr().err


@pytest.mark.parametrize("flag, suffix", [("--flip-ensemble", "+flip"), ("--seam", "+seam")])
def test_cli_option_both_scores_each_model_twice_and_pairs_them(tiny_models, tmp_path, flag,
                                                               suffix):
    text, _ = tiny_models
    assert run_cli("--dataset", "shapes", "--model", str(text), flag, "both",
                   "--baselines", "none", "--limit", "4", "--masks", "center",
                   "--out", str(tmp_path / "o")) == 0
    res = json.loads((tmp_path / "o" / "metrics.json").read_text())["results"]
    assert list(res) == ["text", "text" + suffix]
    assert res["text"]["l1_hole"] != res["text" + suffix]["l1_hole"]
    assert set(res["text" + suffix]["paired"]["vs"]) == {"text"}
