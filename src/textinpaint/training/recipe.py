"""Training recipes: a model's whole training in one YAML file, run and resumed by one command.

A shipped model is rarely one ``textinpaint train`` call: ``models/birds-128`` took a DAMSM
run and four phases (other holes, another prefill, a per-image loss, a learning-rate decay),
each continuing the previous one's whole state. A recipe names them::

    dataset: cub:../shared/data/cub
    resolution: 128
    preset: full
    damsm: {overrides: [train.max_minutes=20]}     # or {folder: DIR}, or --damsm DIR
    phases:
      - {name: telea, max_steps: 4000, overrides: [train.batch_size=4]}
      - {name: decay, until_minutes: 150.69, overrides: [train.lr_decay_over=minutes, ...]}
    preset_overrides:
      mmfl: [generator.prefill=none]                # applied after each phase's own
    overrides: [train.seed=1]                       # every phase, after all of the above
    inference: {seam: true}                         # the exported model's own defaults

and :func:`run_recipe` trains them into ``OUT/damsm``, ``OUT/1-telea``, ``OUT/2-decay``, ...
then exports the last phase into ``OUT`` itself, which becomes the model folder (as a
``textinpaint train`` run folder does). Run it again after an interruption and it skips
finished phases and resumes the unfinished one from its last checkpoint. ``until_minutes``
counts the trainer's clock over all phases so far (``train.max_minutes``), which is what an
equal-time comparison of presets needs; ``time_scale`` shrinks or stretches every such limit
at once. ``OUT/recipe.yaml`` records the recipe as run (with the command's options in
place), so the model card's command reruns it and another recipe cannot continue the folder.
A run can begin at a later phase (``--at-phase NAME --start-from MODEL``) when the earlier
phases ran elsewhere and only what they ended in is at hand.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from ..config import load_config, to_dict
from ..errors import UserError
from ..model_folder import check_inference, read_config
from ..presets import preset_path

log = logging.getLogger(__name__)


@dataclass
class DamsmStep:
    """The DAMSM a recipe uses: an existing DAMSM (or model) ``folder``, else a run of
    ``train-damsm``'s preset for the dataset and resolution (or ``config``) plus
    ``overrides``."""

    folder: str = ""
    config: str = ""
    overrides: list[str] = field(default_factory=list)


@dataclass
class Phase:
    """One ``textinpaint train`` call continuing the previous phase's whole state.

    It ends at global step ``max_steps`` or when the run's training time (all phases so far)
    reaches ``until_minutes``, whichever comes first; at least one must be set. A ``fresh``
    phase takes only the previous phase's generator (its EMA weights, as
    ``train.init_generator`` does) and starts a new discriminator, optimisers, step count
    and clock: a fine-tune of a finished model, whose steps and minutes, and those of the
    phases continuing it, count from its start. ``fold_word_demand: G`` (fresh phases only)
    first turns that generator's sigmoid word-demand module into a softmax one of strength
    ``G`` that fills as it did (:mod:`.word_demand_fold`, written to ``N-NAME-init``).
    """

    name: str = ""
    max_steps: int = 0
    until_minutes: float = 0.0
    masks: str = ""
    fresh: bool = False
    fold_word_demand: float | None = None
    overrides: list[str] = field(default_factory=list)


@dataclass
class Recipe:
    """A whole training: dataset, resolution, preset, DAMSM and phases (see module doc)."""

    dataset: str = ""
    resolution: int = 128
    preset: str = "full"
    damsm: DamsmStep | None = None
    phases: list[Phase] = field(default_factory=list)
    preset_overrides: dict[str, list[str]] = field(default_factory=dict)
    # Applied to every phase last (``train-recipe``'s key=value arguments land here), e.g.
    # ``train.seed=1`` for a second run of the same schedule.
    overrides: list[str] = field(default_factory=list)
    export_half: bool = True
    # The exported model's inference defaults (config.json "inference"), e.g. {seam: true}.
    inference: dict[str, bool] = field(default_factory=dict)
    # Multiplies every until_minutes: 0.5 runs the same schedule in half the training time.
    time_scale: float = 1.0
    # A run that begins at phase ``start_phase`` (train-recipe --at-phase), taking
    # ``start_from`` as what the phase before it ended in, the earlier phases skipped: for a
    # recipe whose first phases ran elsewhere (another machine, a session whose folder is
    # gone). A fresh phase needs only a model folder; another phase the run (or checkpoint)
    # whose whole state it continues.
    start_phase: str = ""
    start_from: str = ""


def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe file; a bad one raises :class:`UserError` naming the field."""
    recipe = load_config(Recipe, path)
    where = f"recipe '{path}'"
    if not recipe.phases:
        raise UserError(f"{where} has no phases; list at least one under 'phases'")
    names = set()
    for i, phase in enumerate(recipe.phases):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", phase.name or ""):
            raise UserError(f"{where}: phases[{i}].name must be a folder-safe word "
                            f"(letters, digits, '_', '-', '.'), got {phase.name!r}")
        if phase.name in names:
            raise UserError(f"{where}: two phases are named '{phase.name}'; names must differ")
        names.add(phase.name)
        if phase.fresh and i == 0:
            raise UserError(f"{where}: phase '{phase.name}' is fresh but is the first phase; "
                            "a fresh phase starts from the previous phase's generator")
        if phase.fold_word_demand is not None and not (phase.fresh and
                                                       phase.fold_word_demand >= 0):
            raise UserError(f"{where}: phase '{phase.name}' folds the word demand, which needs "
                            "'fresh: true' and a fold_word_demand of 0 or more")
        if phase.max_steps <= 0 and phase.until_minutes <= 0:
            raise UserError(f"{where}: phase '{phase.name}' never ends; give it max_steps or "
                            "until_minutes")
    if recipe.time_scale <= 0:
        raise UserError(f"{where}: time_scale must be positive, got {recipe.time_scale}")
    _check_start(recipe, where)
    check_inference(recipe.inference, where)
    return recipe


def _check_start(recipe: Recipe, where: str) -> None:
    """``start_phase`` and ``start_from`` come together, name a phase and an existing path."""
    if bool(recipe.start_phase) != bool(recipe.start_from):
        raise UserError(f"{where}: give --at-phase and --start-from together (start_phase "
                        f"{recipe.start_phase!r}, start_from {recipe.start_from!r})")
    if not recipe.start_phase:
        return
    names = [p.name for p in recipe.phases]
    if recipe.start_phase not in names:
        raise UserError(f"{where}: --at-phase '{recipe.start_phase}' is not one of its phases "
                        f"({', '.join(names)})")
    if not Path(recipe.start_from).exists():
        raise UserError(f"--start-from '{recipe.start_from}' does not exist; give the model "
                        "folder (or, for a phase that is not fresh, the run) that the phase "
                        f"before '{recipe.start_phase}' ended in")


def phase_dirs(recipe: Recipe, out: str | Path) -> list[Path]:
    """The run folder of each phase: ``OUT/1-NAME``, ``OUT/2-NAME``, ..."""
    return [Path(out) / f"{i}-{p.name}" for i, p in enumerate(recipe.phases, 1)]


def with_options(recipe: Recipe, preset: str | None = None, damsm: str | Path | None = None,
                 dataset: str | None = None, time_scale: float | None = None,
                 overrides: list[str] = (), at_phase: str | None = None,
                 start_from: str | Path | None = None) -> Recipe:
    """The recipe with ``train-recipe``'s options in place of its own fields (None: keep):
    another ``preset`` (an ablation on the same schedule), an existing ``damsm`` folder, a
    ``dataset`` spec, a ``time_scale``, a start ``at_phase`` from ``start_from``;
    ``overrides`` are appended to the recipe's own (they win over every phase's)."""
    if time_scale is not None and time_scale <= 0:
        raise UserError(f"--time-scale must be positive, got {time_scale}")
    step = recipe.damsm or DamsmStep()
    changed = replace(recipe, preset=preset or recipe.preset, dataset=dataset or recipe.dataset,
                      damsm=replace(step, folder=str(damsm)) if damsm else recipe.damsm,
                      time_scale=recipe.time_scale if time_scale is None else time_scale,
                      overrides=[*recipe.overrides, *overrides],
                      start_phase=at_phase or recipe.start_phase,
                      start_from=str(start_from) if start_from else recipe.start_from)
    _check_start(changed, "train-recipe")
    return changed


def phase_overrides(recipe: Recipe, phase: Phase) -> list[str]:
    """The ``key=value`` overrides one phase trains with (later ones win)."""
    items = [f"resolution={recipe.resolution}"]
    if phase.masks:
        items.append(f"train.masks={phase.masks}")
    items += phase.overrides + recipe.preset_overrides.get(recipe.preset, [])
    items += recipe.overrides
    if phase.until_minutes > 0:
        items.append(f"train.max_minutes={phase.until_minutes * recipe.time_scale:g}")
    return items


def phase_configs(recipe: Recipe) -> list:
    """Each phase's full :class:`InpaintConfig` (the preset plus :func:`phase_overrides`);
    a bad key or value raises :class:`UserError` naming it."""
    from .inpaint_config import InpaintConfig

    return [load_config(InpaintConfig, preset_path("inpaint", recipe.preset),
                        phase_overrides(recipe, phase)) for phase in recipe.phases]


def _done(folder: Path, kind: str) -> bool:
    """Whether a run folder was exported (its config.json is written last)."""
    return (folder / "config.json").is_file() and read_config(folder).get("format") == kind


def _check_same_recipe(out: Path, resolved: dict) -> None:
    """Write OUT/recipe.yaml, or refuse to continue a folder started with another recipe."""
    record = out / "recipe.yaml"
    if record.is_file():
        # read as a Recipe, so a record written before a field existed gets its default
        before = to_dict(load_config(Recipe, record))
        if before != resolved:
            raise UserError(f"'{out}' holds a run of another recipe (see {record}); choose "
                            "another --out, or delete that folder to start over")
        return
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(yaml.safe_dump(resolved, sort_keys=False))


def run_recipe(recipe: Recipe, out: str | Path, progress: bool = True) -> Path:
    """Run (or resume) every step of ``recipe`` into ``out`` and export the model into it.

    Args:
        recipe: from :func:`load_recipe` (and :func:`with_options`).
        out: the recipe's folder: ``damsm/``, one subfolder per phase, ``recipe.yaml`` (the
            recipe as run, itself a recipe file) and, at the end, the model folder's files.
        progress: show progress bars (else the GAN phases log a line per checkpoint).

    Returns:
        ``out``, now the model folder of the last phase (fp16 weights with ``export_half``).
    """
    from ..data import parse_dataset_spec
    from .damsm import DamsmTrainConfig, preset_for, train_damsm
    from .export import export_run
    from .inpaint import NO_STEP_LIMIT, train_inpaint

    out = Path(out)
    if not recipe.dataset:
        raise UserError("the recipe names no dataset; add 'dataset:' or pass --dataset")
    # Checked up front (the dataset spec, the DAMSM folder, every phase's config), so bad
    # input fails before the DAMSM trains and before OUT/recipe.yaml pins the folder to it.
    parse_dataset_spec(recipe.dataset)
    step = recipe.damsm or DamsmStep()
    if step.folder and not Path(step.folder).is_dir():
        raise UserError(f"DAMSM folder '{step.folder}' does not exist; pass a folder written "
                        "by train-damsm (or a model folder), or leave --damsm out")
    configs = phase_configs(recipe)
    _check_same_recipe(out, to_dict(recipe))

    damsm = Path(step.folder) if step.folder else out / "damsm"
    if not step.folder and not _done(damsm, "textinpaint-damsm"):
        name = recipe.dataset.partition(":")[0]
        config = step.config or preset_for(name, recipe.resolution)
        cfg = load_config(DamsmTrainConfig, config,
                          [f"data.resolution={recipe.resolution}", *step.overrides])
        log.info("recipe: training the DAMSM into %s", damsm)
        train_damsm(recipe.dataset, damsm, cfg, resume=True, progress=progress)

    previous = Path(recipe.start_from) if recipe.start_from else None
    skip = [p.name for p in recipe.phases].index(recipe.start_phase) if recipe.start_phase else 0
    for phase, cfg, run_dir in zip(recipe.phases[skip:], configs[skip:],
                                   phase_dirs(recipe, out)[skip:]):
        if _done(run_dir, "textinpaint-model"):
            log.info("recipe: phase %s is done (%s)", phase.name, run_dir)
        else:
            log.info("recipe: phase %s into %s", phase.name, run_dir)
            if phase.fresh:  # a fresh first phase is refused: previous is set
                start = previous if phase.fold_word_demand is None else \
                    _folded(previous, run_dir, phase.fold_word_demand)
                cfg = replace(cfg, train=replace(cfg.train, init_generator=str(start)))
            train_inpaint(cfg, recipe.dataset, damsm, run_dir, preset=recipe.preset,
                          max_steps=phase.max_steps or NO_STEP_LIMIT, resume=True,
                          start_from=None if phase.fresh else previous,
                          progress=progress)
        previous = run_dir
    extra = {"command": how_trained(recipe, out)}
    if recipe.inference:
        extra["inference"] = recipe.inference
    return export_run(previous, out, half=recipe.export_half, name=out.name, extra=extra)


def _folded(previous: Path, run_dir: Path, gamma: float) -> Path:
    """``previous``'s generator with its word demand folded to softmax (once: a resumed
    phase finds it)."""
    from .word_demand_fold import fold_word_demand

    folded = run_dir.with_name(run_dir.name + "-init")
    if not _done(folded, "textinpaint-model"):
        log.info("recipe: folding %s's word demand into %s (gamma %g)", previous, folded, gamma)
        fold_word_demand(previous, folded, gamma)
    return folded


def how_trained(recipe: Recipe, out: Path) -> str:
    """The card's "How it was trained": the command and the recipe it ran."""
    text = yaml.safe_dump(to_dict(recipe), sort_keys=False).strip()
    return (f"```bash\ntextinpaint train-recipe {out / 'recipe.yaml'} --out {out}\n```\n\n"
            f"`{out / 'recipe.yaml'}`, the recipe as run:\n\n```yaml\n{text}\n```")
