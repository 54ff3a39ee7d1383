"""Training recipes: DAMSM + phases from one file, each phase continuing the last, resumable."""

import json
from pathlib import Path

import pytest
import yaml

from textinpaint.cli import main
from textinpaint.config import to_dict
from textinpaint.errors import UserError
from textinpaint.model_folder import load_model
from textinpaint.presets import CONFIG_ROOT
from textinpaint.training.recipe import (
    load_recipe,
    phase_configs,
    phase_dirs,
    phase_overrides,
    with_options,
)

DAMSM = ["data.length=24", "model.feature_dim=16", "model.word_embed_dim=8",
         "model.image_widths=[4,8,8,16,16]", "train.batch_size=8", "train.warmup_steps=1",
         "train.eval_limit=8", "train.tensorboard=false", "train.max_steps=2"]
TINY = ["train.sample_every=0", "train.shapes_length=16", "train.checkpoint_every=1",
        "generator.word_dim=16", "generator.sentence_dim=16", "discriminator.sentence_dim=16"]


def write_recipe(path: Path, **changes) -> Path:
    recipe = {
        "dataset": "shapes", "resolution": 32, "preset": "tiny",
        "damsm": {"overrides": DAMSM},
        "phases": [
            {"name": "first", "max_steps": 2, "overrides": TINY},
            {"name": "second", "max_steps": 4, "masks": "center",
             "overrides": [*TINY, "loss.per_image=true"]},
        ],
        "preset_overrides": {"other": ["loss.hole=3.0"]},
        **changes,
    }
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_recipe_trains_damsm_and_phases_in_order_and_exports(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml")
    out = tmp_path / "out"
    assert main(["train-recipe", str(recipe), "--out", str(out), "--no-progress"]) == 0
    first, second = phase_dirs(load_recipe(recipe), out)
    assert json.loads((out / "damsm" / "config.json").read_text())["format"] == "textinpaint-damsm"
    info = json.loads((second / "config.json").read_text())
    # phase 2 continued phase 1's state (steps 3-4 on top of 1-2) under its own config
    assert json.loads((first / "config.json").read_text())["steps"] == 2
    assert info["steps"] == 4 and info["images_seen"] == 4 * info["train"]["batch_size"]
    assert info["loss"]["per_image"] is True and info["train"]["masks"] == "center"
    model = load_model(out)
    assert model.config["steps"] == 4 and model.config["name"] == "out"
    card = (out / "README.md").read_text()
    assert f"train-recipe {out / 'recipe.yaml'} --out {out}" in card and "per_image" in card

    # the card's command (the recorded recipe) again: every step is done, nothing trains
    before = (out / "generator.safetensors").read_bytes()
    mtime = (second / "config.json").stat().st_mtime_ns
    assert main(["train-recipe", str(out / "recipe.yaml"), "--out", str(out)]) == 0
    assert (second / "config.json").stat().st_mtime_ns == mtime
    assert (out / "generator.safetensors").read_bytes() == before

    # an existing DAMSM folder instead of the DAMSM step
    other = tmp_path / "other"
    assert main(["train-recipe", str(recipe), "--out", str(other), "--damsm",
                 str(out / "damsm")]) == 0
    assert not (other / "damsm").exists()
    assert load_recipe(other / "recipe.yaml").damsm.folder == str(out / "damsm")


def test_a_fresh_phase_fine_tunes_the_previous_generator_from_step_0(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", phases=[
        {"name": "first", "max_steps": 2, "overrides": TINY},
        {"name": "tune", "max_steps": 3, "fresh": True, "overrides": TINY},
    ])
    out = tmp_path / "out"
    assert main(["train-recipe", str(recipe), "--out", str(out), "--no-progress"]) == 0
    first, tune = phase_dirs(load_recipe(recipe), out)
    info = json.loads((tune / "config.json").read_text())
    assert info["steps"] == 3  # its own count, not 2 + 3
    assert load_model(out).seam is None  # no inference defaults in this recipe
    assert info["train"]["init_generator"] == str(first)
    with pytest.raises(UserError, match="fresh but is the first phase"):
        load_recipe(write_recipe(tmp_path / "bad.yaml", phases=[
            {"name": "a", "max_steps": 1, "fresh": True}]))


def test_a_run_can_begin_at_a_later_phase_from_what_the_earlier_ones_ended_in(tmp_path,
                                                                               capsys):
    """--at-phase/--start-from: the phases before are skipped; a fresh phase starts from the
    given model, a continuing one from the given run's whole state (its step count)."""
    recipe = write_recipe(tmp_path / "r.yaml", phases=[
        {"name": "first", "max_steps": 2, "overrides": TINY},
        {"name": "more", "max_steps": 3, "overrides": TINY},
        {"name": "tune", "max_steps": 1, "fresh": True, "overrides": TINY},
    ])
    full = tmp_path / "full"
    assert main(["train-recipe", str(recipe), "--out", str(full), "--no-progress"]) == 0
    first, more, _ = phase_dirs(load_recipe(recipe), full)
    damsm = ["--damsm", str(full / "damsm"), "--no-progress"]

    late = tmp_path / "late"
    assert main(["train-recipe", str(recipe), "--out", str(late), "--at-phase", "tune",
                 "--start-from", str(more), *damsm]) == 0
    assert not (late / "1-first").exists() and not (late / "2-more").exists()
    info = json.loads((late / "3-tune" / "config.json").read_text())
    assert info["train"]["init_generator"] == str(more) and info["steps"] == 1
    record = load_recipe(late / "recipe.yaml")
    assert (record.start_phase, record.start_from) == ("tune", str(more))

    middle = tmp_path / "middle"
    assert main(["train-recipe", str(recipe), "--out", str(middle), "--at-phase", "more",
                 "--start-from", str(first), *damsm]) == 0
    assert json.loads((middle / "2-more" / "config.json").read_text())["steps"] == 3  # 2 + 1

    for args, message in ((["--at-phase", "tune"], "together"),
                          (["--at-phase", "last", "--start-from", str(more)],
                           "'last' is not one of its phases"),
                          (["--at-phase", "tune", "--start-from", str(tmp_path / "gone")],
                           "does not exist")):
        assert main(["train-recipe", str(recipe), "--out", str(tmp_path / "bad"), *args]) != 0
        assert message in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_the_recipes_inference_defaults_reach_the_exported_model(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", inference={"seam": True}, phases=[
        {"name": "only", "max_steps": 1, "overrides": TINY}])
    out = tmp_path / "out"
    assert main(["train-recipe", str(recipe), "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "config.json").read_text())["inference"] == {"seam": True}
    assert load_model(out).seam is not None and load_model(out, seam=False).seam is None


def test_a_phase_can_fold_the_word_demand_to_softmax_first(tmp_path):
    """fold_word_demand: the previous generator's sigmoid module becomes a softmax one of
    that strength (written once to N-NAME-init) and the phase trains from it."""
    recipe = write_recipe(tmp_path / "r.yaml", phases=[
        {"name": "first", "max_steps": 1, "overrides": TINY},
        {"name": "words", "max_steps": 1, "fresh": True, "fold_word_demand": 0.25,
         "overrides": [*TINY, "generator.word_demand_norm=softmax", "loss.demand=0.1",
                       "train.trainable=^word_demand\\.(word_proj|local_proj|global_proj)\\."]},
    ])
    out = tmp_path / "out"
    assert main(["train-recipe", str(recipe), "--out", str(out), "--no-progress"]) == 0
    first, words = phase_dirs(load_recipe(recipe), out)
    folded = out / "2-words-init"
    fold = json.loads((folded / "config.json").read_text())["word_demand_fold"]
    assert fold["from"] == str(first) and fold["gamma"] == 0.25
    model = load_model(out)
    assert model.config["train"]["init_generator"] == str(folded)
    assert model.generator.cfg.word_demand_norm == "softmax"
    assert float(model.generator.word_demand.gamma) == 0.25  # frozen by train.trainable
    with pytest.raises(UserError, match="needs 'fresh: true'"):
        load_recipe(write_recipe(tmp_path / "bad.yaml", phases=[
            {"name": "a", "max_steps": 1}, {"name": "b", "max_steps": 1,
                                              "fold_word_demand": 0.5}]))


def test_interrupted_phase_resumes_from_its_checkpoint(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml")
    out = tmp_path / "out"
    main(["train-recipe", str(recipe), "--out", str(out), "--no-progress"])
    second = phase_dirs(load_recipe(recipe), out)[1]
    # as if killed after its first step: the export (written last) is gone, checkpoints stay
    (second / "config.json").unlink()
    for ckpt in sorted(second.glob("checkpoints/*"))[1:]:
        ckpt.unlink()
    assert main(["train-recipe", str(recipe), "--out", str(out), "--no-progress"]) == 0
    assert json.loads((second / "config.json").read_text())["steps"] == 4


def test_preset_and_time_scale_shape_each_phase():
    recipe = load_recipe(CONFIG_ROOT / "recipes" / "cub-128-equal-time.yaml")
    last = recipe.phases[-1]
    full = phase_overrides(recipe, last)
    mmfl = phase_overrides(with_options(recipe, preset="mmfl", time_scale=0.5), last)
    assert full[-1] == "train.max_minutes=150.69" and mmfl[-1] == "train.max_minutes=75.345"
    # the preset's own overrides come after the phase's, so they win
    assert mmfl.index("generator.prefill=none") > mmfl.index("generator.prefill=ns")
    assert "generator.prefill=none" not in full
    # train-recipe's key=value arguments come after everything but the phase's time limit
    seeded = phase_overrides(with_options(recipe, overrides=["train.batch_size=2"]), last)
    assert seeded[-2:] == ["train.batch_size=2", "train.max_minutes=150.69"]
    assert seeded.index("train.batch_size=2") > seeded.index("train.batch_size=4")
    shipped = load_recipe(CONFIG_ROOT / "recipes" / "birds-128-v1.yaml")
    assert [p.max_steps for p in shipped.phases] == [4000, 5000, 6000, 30000]


@pytest.mark.parametrize("path", sorted((CONFIG_ROOT / "recipes").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_shipped_recipe_builds_each_phase(path):
    recipe = load_recipe(path)
    for cfg in phase_configs(recipe):
        assert cfg.resolution == recipe.resolution


def test_birds_256_is_what_its_recipe_builds():
    """The shipped 256-px folder records the configs its recipe makes today: the recipe
    reproduces it (and an edit to either is caught)."""
    recipe = load_recipe(CONFIG_ROOT / "recipes" / "birds-256.yaml")
    (cfg,) = phase_configs(recipe)
    info = json.loads((CONFIG_ROOT.parent / "models" / "birds-256" / "config.json").read_text())
    assert info["resolution"] == recipe.resolution == 256
    assert info["train"] == _without_new_defaults(to_dict(cfg.train), info["train"],
                                                  type(cfg.train)())
    assert info["generator"] == _without_new_defaults(to_dict(cfg.generator), info["generator"],
                                                      type(cfg.generator)())
    assert info["damsm_run"]["resolution"] == 256


def test_birds_128_is_what_its_recipe_builds():
    """models/birds-128 is its recipe's last phase: v1's generator fine-tuned on holes that
    hide the bird, then with brush strokes added, then afresh with colour swaps, then afresh
    with the discriminator updated every second step, then its word-demand module alone,
    folded to softmax weights that act, then the module alone again with the swaps' colour
    words in its target."""
    recipe = load_recipe(CONFIG_ROOT / "recipes" / "birds-128.yaml")
    text, strokes, swaps, lean, explain, demand_swaps = phase_configs(recipe)
    assert "freeform" not in text.train.masks and "freeform:thin" in strokes.train.masks
    assert text.train.init_generator == "models/birds-128-v1" == recipe.damsm.folder
    assert all(p.fresh for p in recipe.phases[2:])
    assert swaps.train.colour_swap == 0.5 == lean.train.colour_swap
    assert swaps.train.d_every == 1 and lean.train.d_every == 2
    assert recipe.phases[4].fold_word_demand == 0.25 and explain.loss.demand > 0
    assert recipe.phases[5].fold_word_demand is None  # already softmax, still at 0.25
    assert explain.loss.demand_swap == 0 < demand_swaps.loss.demand_swap
    for phase in (explain, demand_swaps):
        assert phase.generator.word_demand_norm == "softmax"
        assert "gamma" not in phase.train.trainable  # held at the fold's 0.25
    assert recipe.inference == {"seam": True}
    info = json.loads((CONFIG_ROOT.parent / "models" / "birds-128" / "config.json").read_text())
    assert info["resolution"] == recipe.resolution == 128
    assert info["inference"] == recipe.inference
    assert info["generator"]["word_demand_norm"] == "softmax"
    # run as a fresh start from the explain phase's export (then models/birds-128); the
    # recipe sets that at run time (its phase folder), so it is left out of the config
    assert info["train"].pop("init_generator") == "models/birds-128"
    made = to_dict(demand_swaps.train)
    made.pop("init_generator")
    assert info["train"] == _without_new_defaults(made, info["train"],
                                                  type(demand_swaps.train)())
    assert info["loss"] == _without_new_defaults(to_dict(demand_swaps.loss), info["loss"],
                                                 type(demand_swaps.loss)())


def _without_new_defaults(made: dict, recorded: dict, defaults) -> dict:
    """``made`` less the keys added to the config after the model was trained that still
    hold their default (they cannot have changed what the model became)."""
    base = to_dict(defaults)
    return {k: v for k, v in made.items() if k in recorded or v != base.get(k)}


@pytest.mark.parametrize("change, message", [
    ({"phases": []}, "has no phases"),
    ({"phases": [{"name": "a b", "max_steps": 1}]}, "folder-safe"),
    ({"phases": [{"name": "a", "max_steps": 1}, {"name": "a", "max_steps": 2}]}, "two phases"),
    ({"phases": [{"name": "a"}]}, "never ends"),
    ({"phases": [{"name": "a", "steps": 1}]}, "unknown config key 'phases\\[0\\].steps'"),
    ({"time_scale": 0}, "time_scale must be positive"),
    ({"inference": {"seam": "yes"}}, "'inference.seam' must be true or false"),
    ({"inference": {"flip": True}}, "unknown inference key"),
])
def test_bad_recipes_are_refused_with_the_field(tmp_path, change, message):
    with pytest.raises(UserError, match=message):
        load_recipe(write_recipe(tmp_path / "r.yaml", **change))


def test_a_folder_of_another_recipe_is_not_continued(tmp_path, capsys):
    out = tmp_path / "out"
    main(["train-recipe", str(write_recipe(tmp_path / "r.yaml")), "--out", str(out),
          "--no-progress"])
    code = main(["train-recipe", str(write_recipe(tmp_path / "r.yaml")), "--out", str(out),
                 "--preset", "full"])
    assert code != 0 and "holds a run of another recipe" in capsys.readouterr().err
    assert not (out / "3-first").exists()


def test_command_line_overrides_reach_every_phase_and_the_record(tmp_path, capsys):
    recipe, out = write_recipe(tmp_path / "r.yaml"), tmp_path / "out"
    assert main(["train-recipe", str(recipe), "--out", str(out), "--no-progress",
                 "train.seed=3"]) == 0
    for run_dir in phase_dirs(load_recipe(recipe), out):
        assert json.loads((run_dir / "config.json").read_text())["train"]["seed"] == 3
    assert load_recipe(out / "recipe.yaml").overrides == ["train.seed=3"]
    # a record written before the 'overrides' field existed still continues (its default)
    old = tmp_path / "old"
    assert main(["train-recipe", str(recipe), "--out", str(old), "--no-progress"]) == 0
    record = yaml.safe_load((old / "recipe.yaml").read_text())
    del record["overrides"]
    (old / "recipe.yaml").write_text(yaml.safe_dump(record))
    assert main(["train-recipe", str(recipe), "--out", str(old)]) == 0
    # the same folder with another seed is another run: refused
    assert main(["train-recipe", str(recipe), "--out", str(out), "train.seed=4"]) != 0
    assert "holds a run of another recipe" in capsys.readouterr().err

    # bad input fails before anything trains or pins the folder to the bad recipe
    bad = tmp_path / "bad"
    for args, message in ((["train.sed=1"], "unknown config key 'train.sed'"),
                          (["--dataset", f"cub:{tmp_path / 'nowhere'}"], "does not exist"),
                          (["--damsm", str(tmp_path / "nowhere")], "DAMSM folder")):
        assert main(["train-recipe", str(recipe), "--out", str(bad), *args]) != 0
        assert message in capsys.readouterr().err
        assert not bad.exists()


def test_the_equal_images_recipe_sees_as_many_images_as_birds_128():
    """birds-128-equal-images replays models/birds-128's whole training in steps, so another
    preset on it sees exactly the shipped model's images (its v1 start, then its fine-tunes)."""
    recipe = load_recipe(CONFIG_ROOT / "recipes" / "birds-128-equal-images.yaml")
    models = CONFIG_ROOT.parent / "models"
    v1 = json.loads((models / "birds-128-v1" / "config.json").read_text())
    final = json.loads((models / "birds-128" / "config.json").read_text())
    steps = [p.max_steps for p in recipe.phases]
    assert [p.fresh for p in recipe.phases] == [False] * 4 + [True, False, True, True]
    assert steps[3] == v1["steps"]
    # birds-128's last phase trains only its word-demand module (which image-only lacks):
    # the chain ends where its painter's training did, the lean phase's 5,581 steps
    assert final["train"]["trainable"].startswith("^word_demand") and steps[-1] == 5581
    assert all(cfg.train.batch_size == 4 for cfg in phase_configs(recipe))
    assert all(p.until_minutes == 0 for p in recipe.phases)  # steps, not a CPU's clock
