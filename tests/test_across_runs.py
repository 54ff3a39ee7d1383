"""Comparing two methods over several training runs: the crossed bootstrap and compare-runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from textinpaint.cli import main
from textinpaint.evaluation.across_runs import crossed_bootstrap
from textinpaint.evaluation.paired import bootstrap_mean, verdict


def test_runs_that_agree_resolve_a_difference():
    rng = np.random.default_rng(0)
    d = 0.5 + rng.normal(0, 1, size=(3, 400))
    stat = crossed_bootstrap(d, seed=0)
    assert stat["mean"] == pytest.approx(d.mean())
    assert stat["per_run"] == pytest.approx(d.mean(axis=1).tolist())
    assert stat["runs_better"] == 3 and stat["runs"] == 3 and stat["n"] == 400
    assert verdict(stat) == "better"
    assert crossed_bootstrap(d, seed=0) == stat  # deterministic


def test_runs_that_disagree_are_a_tie_even_where_the_images_alone_resolve_it():
    # Each run's sign is clear over its images, but the two runs point opposite ways: the
    # pooled images alone "resolve" a small positive mean; counting the runs does not.
    rng = np.random.default_rng(1)
    d = np.stack([1.2 + rng.normal(0, 0.3, 500), -1.0 + rng.normal(0, 0.3, 500)])
    assert verdict(bootstrap_mean(d.ravel(), seed=0)) == "better"
    stat = crossed_bootstrap(d, seed=0)
    assert stat["runs_better"] == 1
    assert verdict(stat) == "tie" and stat["lo"] < -0.5 and stat["hi"] > 0.5


def test_nan_images_are_left_out_and_bad_shapes_refused():
    d = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]])
    stat = crossed_bootstrap(d, seed=0)
    assert stat["n"] == 2 and stat["mean"] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        crossed_bootstrap(np.zeros(5), seed=0)
    with pytest.raises(ValueError):
        crossed_bootstrap(np.full((2, 3), np.nan), seed=0)


# ------------------------------------------------------------------ end to end, real masks

@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, shared_data):
    """Two 'training runs' (untrained tiny models of seeds 0 and 1, with and without text),
    each evaluated by `textinpaint evaluate` on NVIDIA irregular masks."""
    from textinpaint.model_folder import init_model_folder

    root = tmp_path_factory.mktemp("runs")
    masks = f"irregular:{shared_data / 'masks' / 'nvidia_irregular_test'}"
    folders = []
    for seed in (0, 1):
        run = root / f"seed{seed}"
        text = init_model_folder(run / "text", resolution=32, seed=seed)
        blind = init_model_folder(run / "blind", resolution=32, seed=seed, use_text=False)
        out = run / "eval"
        assert main(["evaluate", "--no-progress", "--dataset", "shapes", "--masks", masks,
                     "--model", str(text), "--model", str(blind), "--baselines", "ns",
                     "--limit", "12", "--out", str(out)]) == 0
        folders.append(out)
    return folders


def test_compare_runs_pools_the_evaluations(two_runs, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "cmp.md"
    assert main(["compare-runs", *map(str, two_runs), "--this", "text", "--other", "blind",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed == out.read_text() and "over 2 training runs" in printed
    result = json.loads(out.with_suffix(".json").read_text())
    # Each run's difference is the difference of that evaluation's reported means, signed
    # positive = `text` better (lower L1, higher PSNR).
    for k, folder in enumerate(two_runs):
        res = json.loads((folder / "metrics.json").read_text())["results"]
        assert result["l1_hole"]["per_run"][k] == pytest.approx(
            res["blind"]["l1_hole"] - res["text"]["l1_hole"], abs=1e-5)
        assert result["psnr_hole"]["per_run"][k] == pytest.approx(
            res["text"]["psnr_hole"] - res["blind"]["psnr_hole"], abs=1e-3)
    assert result["n"] == 12 and result["buckets"]
    assert sum(b["l1_hole"]["n"] for b in result["buckets"].values()) == 12
    assert all(label in printed for label in result["buckets"])


def test_compare_runs_refuses_bad_input_in_one_line(two_runs, tmp_path, capsys):
    run0 = two_runs[0]
    capsys.readouterr()
    cases = [
        ([run0], "at least two"),
        ([run0, tmp_path], "per_image.csv: no such file"),
        ([*two_runs, "--other", "text"], "name two methods"),
        ([*two_runs, "--other", "lama"], "no method 'lama' in it (it has blind, ns, text)"),
        ([*two_runs, "--out", str(tmp_path / "cmp.txt")], "give a .md file name"),
    ]
    for argv, message in cases:
        argv = ["--this", "text", "--other", "blind", *map(str, argv)]
        assert main(["compare-runs", *argv]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and message in err, (argv, err)


def test_compare_runs_refuses_evaluations_of_other_masks(two_runs, tmp_path, capsys):
    run0 = two_runs[0]
    masks = json.loads((run0 / "metrics.json").read_text())["masks"]
    other = tmp_path / "other-seed"  # the same models and images, masks drawn with seed 5
    assert main(["evaluate", "--no-progress", "--dataset", "shapes", "--masks", masks,
                 "--model", str(run0.parent / "text"), "--model", str(run0.parent / "blind"),
                 "--baselines", "none", "--limit", "12", "--seed", "5",
                 "--out", str(other)]) == 0
    capsys.readouterr()
    assert main(["compare-runs", str(run0), str(other), "--this", "text",
                 "--other", "blind"]) == 2
    err = capsys.readouterr().err.strip()
    assert "other images or masks" in err and str(other) in err and "\n" not in err
