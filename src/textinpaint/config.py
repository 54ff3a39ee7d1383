"""Config dataclasses <-> YAML files, with dotted ``key=value`` overrides.

Every trainable thing in textinpaint is described by a tree of dataclasses. This module
turns a YAML file plus command-line overrides into such a tree, checking every key and every
value's type, so that a typo ends in one clear sentence instead of a silent default::

    cfg = load_config(DamsmConfig, "configs/damsm/shapes-64.yaml", ["train.batch_size=8"])

Values in overrides are parsed as YAML scalars (``8`` is an int, ``0.5`` a float, ``true`` a
bool, ``[1, 2]`` a list), then checked against the field's annotation.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import UserError

T = TypeVar("T")


class ConfigError(UserError):
    """A config file or override names an unknown key or holds a value of the wrong type."""


def check_choice(key: str, value: Any, choices: tuple[str, ...]) -> None:
    """Refuse, with a :class:`ConfigError` naming the dotted ``key``, a value not in
    ``choices``."""
    if value not in choices:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(choices)}, got {value!r}")


def check_ranges(cfg: Any, prefix: str, positive: tuple[str, ...] = (),
                 non_negative: tuple[str, ...] = ()) -> None:
    """Refuse, with a :class:`ConfigError` naming the dotted key, a number of ``cfg`` that is
    not finite, or not > 0 (``positive``), or negative (``non_negative``).

    Config dataclasses call this from ``__post_init__``, so a value that would divide by zero,
    loop forever or reach an optimiser as NaN fails before anything is built.
    """
    for name in positive + non_negative:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue  # the type check reports those
        key = f"config key '{prefix}{name}'"
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be a finite number, got {value!r}")
        if name in positive and value <= 0:
            raise ConfigError(f"{key} must be greater than 0, got {value!r}")
        if value < 0:
            raise ConfigError(f"{key} must not be negative, got {value!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and return it (ints widen to floats)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping of {tp.__name__} fields")
        return _from_dict(tp, value, prefix=key + ".")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping, got {value!r}")
        value_tp = args[1] if args else Any
        return {k: _coerce(v, value_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 reads "4e-4" (no dot) as a string; people write it that way all the time.
        try:
            return float(value)
        except ValueError:
            pass
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"config key '{key}' must be true or false, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"config key '{key}' must be an int, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
    return value


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_))
    if unknown:
        raise ConfigError(
            f"unknown config key '{prefix}{unknown[0]}' (known keys under "
            f"'{prefix or '<root>'}': {', '.join(sorted(types_))})"
        )
    base = cls()
    kwargs = {}
    for name, tp in types_.items():
        if name in data:
            value = data[name]
            if dataclasses.is_dataclass(tp) and isinstance(value, dict):
                # Merge into the default so a partial mapping keeps the other defaults.
                merged = dataclasses.asdict(getattr(base, name))
                merged.update(value)
                value = merged
            kwargs[name] = _coerce(value, tp, prefix + name)
    return dataclasses.replace(base, **kwargs)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build the dataclass ``cls`` from a (possibly partial) nested mapping, checking keys."""
    return _from_dict(cls, data or {})


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as a plain nested dict (JSON/YAML serialisable)."""
    return dataclasses.asdict(cfg)


def apply_overrides(cfg: T, overrides: list[str]) -> T:
    """Return a copy of ``cfg`` with dotted ``key=value`` overrides applied and type-checked."""
    data = to_dict(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like key=value (e.g. train.lr=1e-4)")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"unknown config key '{'.'.join(parts[: i + 1])}' in '{item}'")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"unknown config key '{key}' in override '{item}'")
        try:
            node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot parse the value of '{key}': {exc}") from None
    return from_dict(type(cfg), data)


def load_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = ()) -> T:
    """Load ``cls`` from an optional YAML file, then apply ``overrides``.

    Raises:
        ConfigError: the file is missing or malformed, a key is unknown, or a type is wrong.
    """
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file '{path}' does not exist; pass an existing YAML file")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file '{path}' is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file '{path}' must hold a mapping at its top level")
    cfg = from_dict(cls, data)
    return apply_overrides(cfg, list(overrides))


def save_yaml(cfg: Any, path: str | Path) -> None:
    """Write the config as YAML (round-trips through :func:`load_config`)."""
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False))
