"""Paired bootstrap intervals: their coverage, sign convention, buckets and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from textinpaint.evaluation.paired import bootstrap_mean, compare, paired_results, verdict


def test_interval_matches_the_normal_theory_for_a_large_sample():
    rng = np.random.default_rng(1)
    d = rng.normal(0.3, 2.0, size=2000)
    stat = bootstrap_mean(d, seed=0)
    half = 1.96 * d.std(ddof=1) / np.sqrt(d.size)
    assert stat["mean"] == pytest.approx(d.mean())
    assert stat["lo"] < stat["mean"] < stat["hi"]
    assert (stat["hi"] - stat["lo"]) / 2 == pytest.approx(half, rel=0.1)
    assert stat["n"] == 2000
    assert bootstrap_mean(d, seed=0) == stat  # deterministic
    assert bootstrap_mean(d, seed=1) != stat


def test_nan_values_are_left_out_and_degenerate_inputs():
    assert bootstrap_mean([], seed=0) is None
    assert bootstrap_mean([np.nan, np.nan], seed=0) is None
    one = bootstrap_mean([np.nan, 0.5], seed=0)
    assert one == {"mean": 0.5, "lo": 0.5, "hi": 0.5, "n": 1}
    same = bootstrap_mean([0.2] * 50, seed=0)
    assert same["lo"] == pytest.approx(0.2) and same["hi"] == pytest.approx(0.2)


def test_verdict_needs_an_interval_that_excludes_zero():
    assert verdict({"mean": 0.1, "lo": 0.01, "hi": 0.2}) == "better"
    assert verdict({"mean": -0.1, "lo": -0.2, "hi": -0.01}) == "worse"
    assert verdict({"mean": 0.1, "lo": -0.01, "hi": 0.2}) == "tie"
    assert verdict(None) == "–"


def test_compare_signs_and_buckets():
    rng = np.random.default_rng(0)
    n = 400
    other = {"l1_hole": rng.uniform(0.1, 0.2, n), "psnr_hole": rng.uniform(15, 20, n)}
    # 'this' is clearly better on the first half of the images and equal on the second.
    better = np.arange(n) < n // 2
    this = {"l1_hole": other["l1_hole"] - 0.02 * better,
            "psnr_hole": other["psnr_hole"] + 1.0 * better}
    labels = ["1-10%" if b else "10-20%" for b in better]
    out = compare(this, other, labels, seed=0)
    assert out["l1_hole"]["mean"] == pytest.approx(0.01)
    assert out["psnr_hole"]["mean"] == pytest.approx(0.5)
    assert verdict(out["l1_hole"]) == verdict(out["psnr_hole"]) == "better"
    assert list(out["buckets"]) == ["1-10%", "10-20%"]  # ordered by hole area
    assert out["buckets"]["1-10%"]["psnr_hole"]["mean"] == pytest.approx(1.0)
    tie = out["buckets"]["10-20%"]["l1_hole"]
    assert tie["mean"] == pytest.approx(0.0, abs=1e-12) and verdict(tie) == "tie"
    # Swapping the two methods flips every sign.
    back = compare(other, this, labels, seed=0)
    assert back["psnr_hole"]["mean"] == pytest.approx(-0.5)
    assert verdict(back["l1_hole"]) == "worse"


def test_paired_results_compares_each_model_with_every_other_method():
    n = 20
    values = {(m, c): {"l1_hole": np.full(n, v), "psnr_hole": np.full(n, 20 - 10 * v)}
              for m, v in (("a", 0.1), ("b", 0.2)) for c in ("true", "mismatched", "empty")}
    values[("ns", "true")] = {"l1_hole": np.full(n, 0.3), "psnr_hole": np.full(n, 17.0)}
    out = paired_results(values, ["a", "b"], ["ns", "a", "b"], ["1-10%"] * n, seed=0)
    assert set(out) == {"a", "b"}
    assert set(out["a"]["vs"]) == {"ns", "b"} and set(out["a"]["text_gain"]) == {
        "mismatched", "empty"}
    assert out["a"]["vs"]["b"]["l1_hole"]["mean"] == pytest.approx(0.1)
    assert out["b"]["vs"]["a"]["psnr_hole"]["mean"] == pytest.approx(-1.0)
    assert out["a"]["text_gain"]["empty"]["l1_hole"]["mean"] == 0.0


def test_report_section_keeps_the_sign_of_a_bound_that_rounds_to_zero():
    from textinpaint.evaluation.report import paired_section

    def stat(mean, lo, hi):
        return {"mean": mean, "lo": lo, "hi": hi, "n": 10}

    pair = {"l1_hole": stat(0.0003, -0.00004, 0.0006), "psnr_hole": stat(0.2, 0.1, 0.3)}
    res = {"ns": {"kind": "baseline"},
           "m": {"kind": "model", "paired": {"vs": {"ns": pair},
                                             "text_gain": {"mismatched": pair}}}}
    text = "\n".join(paired_section(res))
    assert "| m | ns | +0.0003 [-0.0000, +0.0006] | +0.20 [+0.10, +0.30] | tie / better |" in text
    assert "| m | its mismatched caption |" in text
    assert paired_section(res, only="other") == []
