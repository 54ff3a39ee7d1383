"""Folding a sigmoid word-demand model into a softmax one (training/word_demand_fold.py)."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from textinpaint.errors import UserError
from textinpaint.model_folder import load_model
from textinpaint.training.word_demand_fold import fold_word_demand


def saturated(tiny_model_dir, folder):
    """The tiny model with its sigmoid word weights all 0 (every score hugely negative, as
    in the shipped birds models) and gamma 0.4: every word scaled by 0.6."""
    shutil.copytree(tiny_model_dir, folder)
    state = load_file(str(folder / "generator.safetensors"))
    for name in ("word_proj", "local_proj", "global_proj"):
        state[f"word_demand.{name}.weight"] = torch.zeros_like(state[f"word_demand.{name}.weight"])
    state["word_demand.word_proj.bias"].fill_(1.0)
    state["word_demand.local_proj.bias"].zero_()
    state["word_demand.global_proj.bias"].fill_(-100.0)
    state["word_demand.gamma"].fill_(0.4)
    save_file(state, str(folder / "generator.safetensors"))
    return folder


def test_a_saturated_module_folds_into_the_same_fills(tiny_model_dir, tmp_path):
    """Saturated sigmoid weights scale every word by one factor (0.6 here); folded into the
    word-attention projections with softmax gamma 0 the model must fill as it did, and
    ``gamma`` is the folded module's strength."""
    source = saturated(tiny_model_dir, tmp_path / "source")
    assert fold_word_demand(source, tmp_path / "folded", 0.0) == pytest.approx(0.6)
    assert json.loads((tmp_path / "folded" / "config.json").read_text())["generator"][
        "word_demand_norm"] == "softmax"
    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 6:26, 6:26] = 1

    def fill(folder):
        model = load_model(folder)
        tokens, lengths = model.encode_text(["a big red circle at the top left"])
        return model(image, mask, tokens, lengths)["final"]

    torch.testing.assert_close(fill(tmp_path / "folded"), fill(source), rtol=0, atol=1e-5)
    fold_word_demand(source, tmp_path / "acting", 0.9)
    acting = load_file(str(tmp_path / "acting" / "generator.safetensors"))
    assert float(acting["word_demand.gamma"]) == pytest.approx(0.9)
    with pytest.raises(UserError, match="no sigmoid word-demand module"):
        fold_word_demand(tmp_path / "folded", tmp_path / "again")
