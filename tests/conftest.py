"""Shared fixtures: where the real data lives, and a cache that never touches ~/.cache."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$TEXTINPAINT_DATA``, else ``<repo>/../shared/data`` (may not exist)."""
    return Path(os.environ.get("TEXTINPAINT_DATA", REPO.parent / "shared" / "data"))


# The suite's networks are tiny: one thread is as fast as two on a quiet machine and many
# times faster when other processes share the two cores (oversubscribed OpenMP spins).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder (cub/, masks/, ...); skips the test where it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set TEXTINPAINT_DATA)")
    return path


@pytest.fixture(scope="session", autouse=True)
def _cache_in_tmp(tmp_path_factory):
    """Point TEXTINPAINT_CACHE into a per-session temporary folder for every test.

    Session-wide (not per test) so that tests reading the same data share one cache, as a
    user's runs would; the cache key covers paths and settings, so sharing is safe.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TEXTINPAINT_CACHE", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A random-initialised 32 px model folder (every component on).

    Real networks with random weights: enough for tests of plumbing (windows, compositing,
    HTTP, the page, evaluation), never of picture quality.
    """
    from textinpaint.model_folder import init_model_folder

    folder = tmp_path_factory.mktemp("model") / "tiny"
    init_model_folder(folder, preset="tiny", resolution=32, seed=0)
    return folder


@pytest.fixture(scope="session")
def seam_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model folder with the seam correction as its own default (config.json
    ``inference.seam``), as ``birds-128`` ships."""
    folder = tmp_path_factory.mktemp("seam") / "tiny-seam"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "inference": {"seam": True}}))
    return folder


@pytest.fixture(scope="session")
def tiny_pipe(tiny_model_dir):
    """An InpaintPipeline over the tiny model."""
    from textinpaint.pipeline import InpaintPipeline

    return InpaintPipeline.from_pretrained(tiny_model_dir)
