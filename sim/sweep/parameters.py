"""Swept parameters: a dotted scenario path with bounds, checked against the scenario schema.

A parameter can be any numeric leaf of the scenario (an ``int`` or ``float`` field), a
distribution field (the value replaces the whole distribution with a constant) or a numeric field
of the distribution a scenario already uses (``buyers.startups.run_gpus.median``). Integer fields
are sampled uniformly over the whole numbers in ``[lo, hi]``.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel

from sim.distributions import Choice, Constant, LogNormal, Uniform
from sim.loader import set_path

_DIST_CLASSES = (Constant, Uniform, LogNormal, Choice)
# The sweep itself owns these: it derives every run's seed and sets the number of replications.
_RESERVED = {
    "seed": "the sweep derives every run's seed from it",
    "replications": "use --replications",
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_VARY = re.compile(rf"^\s*([^=\s]+)\s*=\s*({_NUMBER})\s*:\s*({_NUMBER})\s*$")


class ParameterError(ValueError):
    """A ``--vary`` item that cannot be swept; the message says why and what would work."""


@dataclass(frozen=True)
class Parameter:
    """One swept input: ``path`` in the scenario, varied over ``[lo, hi]``."""

    path: str
    lo: float
    hi: float
    integer: bool = False
    unit: str = ""

    def scale(self, u: float) -> float | int:
        """Map a unit-cube coordinate to a parameter value."""
        if self.integer:
            # Every whole number in [lo, hi] gets an equal share of the unit interval.
            width = int(self.hi) - int(self.lo) + 1
            return min(int(self.hi), int(self.lo) + math.floor(u * width))
        return self.lo + u * (self.hi - self.lo)

    @property
    def label(self) -> str:
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.path}{unit}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Parameter:
        return cls(**data)


def parse_vary(item: str) -> tuple[str, float, float]:
    """``path=lo:hi`` into its parts; bounds must satisfy ``lo < hi``."""
    m = _VARY.match(item)
    if m is None:
        raise ParameterError(
            f"--vary {item}: expected path=lo:hi with numbers, e.g. time.horizon_years=1:3"
        )
    path, lo, hi = m.group(1), float(m.group(2)), float(m.group(3))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ParameterError(f"--vary {item}: bounds must be finite numbers")
    if lo >= hi:
        raise ParameterError(f"--vary {item}: lower bound {lo:g} must be below upper bound {hi:g}")
    return path, lo, hi


def _numeric_kind(annotation: Any) -> str | None:
    """'int' or 'float' for a numeric leaf annotation (``float | None`` included), else None."""
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _numeric_kind(args[0])
    return None


def _field_unit(model: type[BaseModel], name: str) -> str:
    extra = model.model_fields[name].json_schema_extra
    return str(extra.get("unit", "")) if isinstance(extra, dict) else ""


def numeric_leaves(scenario: BaseModel) -> dict[str, tuple[str, str]]:
    """Every path a sweep can vary in ``scenario``, with its kind ('int'/'float') and unit."""
    out: dict[str, tuple[str, str]] = {}

    def walk(node: BaseModel, prefix: str) -> None:
        cls = type(node)
        for name, field in cls.model_fields.items():
            path = f"{prefix}{name}"
            value = getattr(node, name)
            if isinstance(value, _DIST_CLASSES):
                unit = _field_unit(cls, name)
                out[path] = ("float", unit)
                for sub, sub_field in type(value).model_fields.items():
                    if _numeric_kind(sub_field.annotation) == "float":
                        out[f"{path}.{sub}"] = ("float", unit)
            elif isinstance(value, BaseModel):
                walk(value, f"{path}.")
            elif kind := _numeric_kind(field.annotation):
                out[path] = (kind, _field_unit(cls, name))

    walk(scenario, "")
    for name in _RESERVED:
        out.pop(name, None)
    return out


def _unknown_path_message(path: str, leaves: dict[str, tuple[str, str]]) -> str:
    if path in _RESERVED:
        return f"--vary {path}: cannot be varied ({_RESERVED[path]})"
    below = sorted(p for p in leaves if p.startswith(f"{path}."))
    if below:
        shown = ", ".join(below[:8]) + (", ..." if len(below) > 8 else "")
        return f"--vary {path}: is a section, not a number; vary one of its fields: {shown}"
    head = path.rpartition(".")[0]
    if head in leaves and any(p.startswith(f"{head}.") for p in leaves):
        fields = ", ".join(p.rpartition(".")[2] for p in sorted(leaves) if p.startswith(f"{head}."))
        return (
            f"--vary {path}: {head} is a distribution whose fields here are: {fields} "
            f"(or vary {head} itself, which sets it to a constant)"
        )
    close = difflib.get_close_matches(path, list(leaves), n=5, cutoff=0.6)
    if not close:
        last = path.rsplit(".", 1)[-1]
        close = sorted(p for p in leaves if p.rsplit(".", 1)[-1] == last)[:5]
    hint = f"; did you mean: {', '.join(close)}" if close else ""
    return f"--vary {path}: not a numeric field of the scenario{hint}"


def make_parameter(
    path: str, lo: float, hi: float, leaves: dict[str, tuple[str, str]]
) -> Parameter:
    """A checked parameter: the path must be a numeric leaf; integer fields need whole bounds."""
    if path not in leaves:
        raise ParameterError(_unknown_path_message(path, leaves))
    kind, unit = leaves[path]
    if kind == "int" and not (float(lo).is_integer() and float(hi).is_integer()):
        raise ParameterError(
            f"--vary {path}={lo:g}:{hi:g}: integer field, bounds must be whole numbers"
        )
    return Parameter(path=path, lo=float(lo), hi=float(hi), integer=kind == "int", unit=unit)


def parse_parameters(items: list[str], scenario: BaseModel) -> list[Parameter]:
    """Parse and check every ``--vary`` item; one path may appear only once."""
    leaves = numeric_leaves(scenario)
    params: list[Parameter] = []
    for item in items:
        path, lo, hi = parse_vary(item)
        if any(p.path == path for p in params):
            raise ParameterError(f"--vary {path}: given more than once")
        params.append(make_parameter(path, lo, hi, leaves))
    return params


def materialize_distributions(
    raw: dict[str, Any], scenario: BaseModel, params: list[Parameter]
) -> dict[str, Any]:
    """Copy of ``raw`` in which every distribution a parameter reaches into is written out.

    Varying ``x.median`` of a distribution the file leaves at its default needs the rest of that
    distribution (``dist``, ``sigma``) in the raw mapping, or the override would stand alone.
    """
    dumped = scenario.model_dump(mode="json", exclude_none=True)
    for param in params:
        head, _, _ = param.path.rpartition(".")
        node: Any = dumped
        for part in head.split(".") if head else []:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and "dist" in node:
            raw = set_path(raw, head, node)
    return raw
