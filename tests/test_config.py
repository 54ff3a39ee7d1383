"""Config dataclasses: YAML loading, dotted overrides, and the errors that name the key."""

from dataclasses import dataclass, field

import pytest

from textinpaint.config import ConfigError, apply_overrides, load_config, save_yaml


@dataclass
class Train:
    batch_size: int = 4
    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    amp: bool = False


@dataclass
class Model:
    base_channels: int = 64
    norm: str = "instance"
    levels: list[int] = field(default_factory=lambda: [2, 3])


@dataclass
class Root:
    name: str = "x"
    note: str | None = None
    model: Model = field(default_factory=Model)
    train: Train = field(default_factory=Train)


def test_yaml_partial_sections_keep_defaults(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  base_channels: 32\ntrain:\n  lr: 1\n")
    cfg = load_config(Root, path)
    assert cfg.model.base_channels == 32 and cfg.model.norm == "instance"
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)  # ints widen to float
    assert cfg.train.batch_size == 4


def test_overrides_parse_and_check_types():
    cfg = apply_overrides(Root(), ["train.batch_size=8", "model.base_channels=32",
                                   "train.amp=true", "model.levels=[1, 2, 3]", "note=hello",
                                   "train.lr=4e-4"])
    assert cfg.train.lr == 4e-4
    assert cfg.train.batch_size == 8 and cfg.model.base_channels == 32
    assert cfg.train.amp is True and cfg.model.levels == [1, 2, 3] and cfg.note == "hello"


@pytest.mark.parametrize("override, key", [
    ("train.batchsize=8", "train.batchsize"),
    ("nope.lr=1", "nope"),
    ("train.batch_size=eight", "train.batch_size"),
    ("train.amp=3", "train.amp"),
    ("model.levels=5", "model.levels"),
    ("train.batch_size=1.5", "train.batch_size"),
])
def test_bad_override_names_the_key(override, key):
    with pytest.raises(ConfigError, match=rf"'{key}"):
        apply_overrides(Root(), [override])


def test_override_without_equals_sign():
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(Root(), ["train.lr"])


def test_unknown_key_in_file_and_missing_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  channels: 3\n")
    with pytest.raises(ConfigError, match="model.channels"):
        load_config(Root, path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Root, tmp_path / "missing.yaml")


def test_round_trip(tmp_path):
    cfg = apply_overrides(Root(), ["train.batch_size=16", "model.norm=batch"])
    save_yaml(cfg, tmp_path / "c.yaml")
    assert load_config(Root, tmp_path / "c.yaml") == cfg
