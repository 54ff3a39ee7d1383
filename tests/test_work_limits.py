"""The bounds on one fill (windows, memory estimate), the server's memory budget, and the
Host/Origin helpers, as plain functions."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from textinpaint.pipeline import InpaintPipeline
from textinpaint.server.budget import MemoryBudget
from textinpaint.server.guard import default_allowed_hosts, host_name
from textinpaint.windows import _pool2, plan_windows
from textinpaint.work import TooMuchWork, WorkLimits, estimate_bytes, plan_bounded


def specks(size: int, step: int) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[step // 2::step, step // 2::step] = True
    return hole


def test_pooling_matches_a_block_max():
    grid = np.random.default_rng(0).random((7, 9)) > 0.7
    padded = np.zeros((8, 10), bool)
    padded[:7, :9] = grid
    np.testing.assert_array_equal(_pool2(grid), padded.reshape(4, 2, 5, 2).any(axis=(1, 3)))


@pytest.mark.parametrize("limit", [1, 4, 16, 64])
def test_many_holes_merge_into_at_most_max_windows_covering_every_hole(limit):
    hole = specks(500, 11)
    windows = plan_windows(hole, 32, max_windows=limit)
    assert 1 <= len(windows) <= limit
    covered = np.zeros_like(hole)
    for w in windows:
        x0, y0, x1, y1 = w.clipped(500, 500)
        covered[y0:y1, x0:x1] = True
    assert covered[hole].all()
    for i, a in enumerate(windows):  # still disjoint: no fill is ever blended
        assert not any(a.overlaps(b) for b in windows[i + 1:])


def test_few_holes_are_planned_as_before():
    hole = specks(500, 200)  # 4 holes far apart
    assert plan_windows(hole, 32, max_windows=64) == plan_windows(hole, 32)


def test_max_side_caps_windows_but_never_below_the_hole():
    hole = np.zeros((300, 2000), bool)
    hole[100:200, 900:1000] = True  # a 100-pixel hole would get a 200-pixel window
    assert plan_windows(hole, 32, max_side=150)[0].side == 150
    assert plan_windows(hole, 32, max_side=50)[0].side == 100


def test_plan_bounded_refuses_with_the_numbers():
    hole = np.ones((1, 5000), bool)
    with pytest.raises(TooMuchWork, match=r"5000×1 pixels, its long side 5000 .*20:1"):
        plan_bounded(hole, 32, WorkLimits(max_aspect=20))
    with pytest.raises(TooMuchWork, match=r"5000-pixel fill window; the limit is 4096"):
        plan_bounded(hole, 32, WorkLimits(max_window_side=4096))
    need = estimate_bytes(5000, 1, 5000) / 2**20
    with pytest.raises(TooMuchWork, match=rf"about {need:.0f} MB; the limit is 100 MB.*--x"):
        plan_bounded(hole, 32, WorkLimits(max_memory_mb=100, memory_hint="--x"))
    assert plan_bounded(np.zeros((10, 10), bool), 32, WorkLimits(max_memory_mb=1)) == []


def test_pipeline_limits_apply_before_any_window_is_cut(tiny_pipe, monkeypatch):
    bounded = tiny_pipe.with_limits(WorkLimits(max_memory_mb=1))
    assert isinstance(bounded, InpaintPipeline) and bounded.model is tiny_pipe.model
    cut = []
    monkeypatch.setattr(InpaintPipeline, "_job", lambda *a: cut.append(a))
    with pytest.raises(TooMuchWork, match="image 1"):
        bounded(prompt="x", image=[np.zeros((8, 8, 3), np.uint8), np.zeros((600, 600, 3),
                                                                             np.uint8)],
                mask_image=[np.ones((8, 8), bool), np.ones((600, 600), bool)])
    assert cut == []


def test_memory_budget_waits_then_gives_up():
    budget = MemoryBudget(100)
    assert budget.acquire(80, 1)
    assert not budget.acquire(30, 0.05)  # no room: refused after the timeout
    got = []
    waiter = threading.Thread(target=lambda: got.append(budget.acquire(30, 10)))
    waiter.start()
    budget.release(80)
    waiter.join(10)
    assert got == [True] and budget.used == 30
    budget.release(30)
    assert budget.acquire(500, 1) and budget.used == 100  # one request: at most the total
    budget.release(500)
    assert budget.used == 0


@pytest.mark.parametrize("value, name", [
    ("127.0.0.1:8080", "127.0.0.1"), ("LOCALHOST", "localhost"), ("[::1]:80", "::1"),
    ("::1", "::1"), ("evil.example:1", "evil.example")])
def test_host_name(value, name):
    assert host_name(value) == name


def test_default_allowed_hosts():
    assert default_allowed_hosts("127.0.0.1") == ["127.0.0.1", "::1", "localhost"]
    assert "10.0.0.5" in default_allowed_hosts("10.0.0.5")
    assert default_allowed_hosts("0.0.0.0") is None
