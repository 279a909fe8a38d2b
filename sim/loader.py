"""Reading scenario files: YAML (safe_load), ``extends:`` chains, ``--set`` overrides, validation.

Every problem is reported at once as ``ScenarioError`` holding one line per problem, each naming
the file and the dotted field path, so a user fixes a file in one pass.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.schema import Scenario


class ScenarioError(Exception):
    """A scenario that cannot be used; ``problems`` holds one message per fault."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([f"{path}: cannot read file ({exc})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([f"{path}: not valid YAML{where}: {problem}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"{path}: top level must be a mapping of fields, got {type(data).__name__}"]
        )
    return data


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` wins; mappings merge key by key, everything else (lists included) is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_raw(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's mapping with its ``extends:`` chain merged in (parents first)."""
    path = Path(path).resolve()
    if path in _chain:
        cycle = " -> ".join(str(p) for p in (*_chain, path))
        raise ScenarioError([f"{_chain[-1]}: extends: cycle {cycle}"])
    data = read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(
            [f"{path}: extends: must be a file path (string), got {type(parent).__name__}"]
        )
    base = load_raw(path.parent / parent, (*_chain, path))
    return deep_merge(base, data)


def parse_override(item: str) -> tuple[str, Any]:
    """``path=value`` with the value read as YAML (``3``, ``0.5``, ``true``, ``[1, 3]``)."""
    if "=" not in item:
        raise ScenarioError([f"--set {item}: expected path=value"])
    key, text = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ScenarioError([f"--set {item}: empty field path"])
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    return key, value


def set_path(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Copy of ``data`` with ``dotted`` set; intermediate mappings are created as needed."""
    out = copy.deepcopy(data)
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value
    return out


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in overrides.items():
        data = set_path(data, dotted, value)
    return data


def _format_error(source: str, err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
        allowed = _allowed_fields(err["loc"][:-1])
        if allowed:
            msg += f" (allowed: {', '.join(allowed)})"
    elif err["type"] in _BOUND_WORDS:
        msg = f"must be {_BOUND_WORDS[err['type']]} {err['ctx'][_BOUND_CTX[err['type']]]}"
        msg += f" (got {err['input']!r})"
    elif err["type"] in ("model_attributes_type", "union_tag_invalid", "union_tag_not_found"):
        msg = (
            "must be a number or a distribution mapping with dist: constant, uniform, lognormal "
            f"or choice (got {err['input']!r})"
        )
    elif err["type"] == "literal_error":
        msg = msg.replace("Input should be", "must be one of:")
    return f"{source}: {loc or '(top level)'}: {msg}"


_BOUND_WORDS = {
    "greater_than_equal": ">=",
    "greater_than": ">",
    "less_than_equal": "<=",
    "less_than": "<",
}
_BOUND_CTX = {
    "greater_than_equal": "ge",
    "greater_than": "gt",
    "less_than_equal": "le",
    "less_than": "lt",
}


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in ("constant", "uniform", "lognormal", "choice")


def _allowed_fields(loc: tuple) -> list[str]:
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int) or _is_union_tag(part):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", None)
        if args and hasattr(args[0], "model_fields"):
            ann = args[0]
        model = ann
    return sorted(getattr(model, "model_fields", {}).keys())


def validate(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([_format_error(source, e) for e in exc.errors()]) from None


def with_overrides(
    scenario: Scenario, overrides: dict[str, Any], source: str = "--set"
) -> Scenario:
    """``scenario`` with dotted-path overrides applied on top of its fully resolved fields, so
    ``providers.neoclouds.gpus_per_site.median=900`` changes one parameter of a default
    distribution instead of replacing it."""
    if not overrides:
        return scenario
    return validate(apply_overrides(scenario.model_dump(mode="json"), overrides), source)


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Read, merge ``extends:``, validate, then apply overrides and validate again."""
    scenario = validate(load_raw(path), str(path))
    return with_overrides(scenario, overrides or {}, f"{path} (with --set)")


def scenario_hash(scenario: Scenario) -> str:
    blob = json.dumps(scenario.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
