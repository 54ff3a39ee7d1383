"""Fixtures of the inference tests, loaded with ``pytest_plugins = ["fixtures_inference"]``.

The tiny model has real networks with random weights, which is all these tests need: they
check plumbing (windows, compositing, HTTP, the page), not picture quality.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A random-initialised 32 px model folder (every component on)."""
    from textinpaint import model_folder

    folder = tmp_path_factory.mktemp("model") / "tiny"
    model_folder.init_model_folder(folder, preset="tiny", resolution=32, seed=0)
    return folder


@pytest.fixture(scope="session")
def tiny_pipe(tiny_model_dir):
    """An InpaintPipeline over the tiny model."""
    from textinpaint.pipeline import InpaintPipeline

    return InpaintPipeline.from_pretrained(tiny_model_dir)
