"""Scenario reference generated from the schema: one row per field with type, unit, default,
description and source, so the documentation cannot drift from the code."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from sim.distributions import _Dist
from sim.schema import Scenario

HEADER = """# Scenario reference

Generated from `sim/schema.py` by `sim docs`; do not edit by hand. A scenario file states only
what differs from these defaults and may `extends:` another scenario file (paths are relative to
the file). Fields marked *distribution* take a number (every agent gets it) or a mapping:
`{dist: constant, value: v}`, `{dist: uniform, low: a, high: b}`,
`{dist: lognormal, median: m, sigma: s, low: a, high: b}` (`low`/`high` optional clips), or
`{dist: choice, values: [...], weights: [...]}`. Sources marked CALIBRATION refer to rows of
the project's calibration table (public figures with their sources and dates).

"""


def _type_name(ann: Any) -> str:
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return "distribution"
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in typing.get_args(ann))
    if origin in (list, tuple):
        inner = ", ".join(_type_name(a) for a in typing.get_args(ann))
        return f"list[{inner}]"
    if origin in (typing.Union, types.UnionType) and all(
        isinstance(a, type) and issubclass(a, _Dist) for a in typing.get_args(ann)
    ):
        return "distribution"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(ann))
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "section"
    return getattr(ann, "__name__", str(ann))


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, dict) and "dist" in value:
        return "`" + json.dumps(value) + "`"
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`"


def _optional_model(ann: Any) -> type[BaseModel] | None:
    """The section model behind ``Model`` or ``Model | None``, else None."""
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        models = [
            a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        others = [a for a in typing.get_args(ann) if a is not type(None) and a not in models]
        if len(models) == 1 and not others and not issubclass(models[0], _Dist):
            return models[0]
    return None


def _rows(model: type[BaseModel], prefix: str) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        # `param` (sim/schema.py) passes a dict; pydantic also allows a callable, unused here
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        ann = field.annotation
        rows.append(
            (
                f"`{path}`",
                _type_name(ann),
                str(extra.get("unit", "")),
                _default(field),
                (field.description or "").replace("|", "\\|"),
                str(extra.get("source", "")),
            )
        )
        inner = _optional_model(ann)
        if inner is not None:
            rows.extend(_rows(inner, f"{path}."))
        elif typing.get_origin(ann) is list:
            (inner,) = typing.get_args(ann)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                rows.extend(_rows(inner, f"{path}[]."))
    return rows


def reference_markdown() -> str:
    lines = [
        HEADER,
        "| field | type | unit | default | description | source |",
        "|---|---|---|---|---|---|",
    ]
    for row in _rows(Scenario, ""):
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
