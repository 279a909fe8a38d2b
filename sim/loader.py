"""Reading scenario files: YAML (``safe_load`` semantics, duplicate keys refused), ``extends:``
chains, ``--set`` overrides, validation.

Every problem is reported at once as ``ScenarioError`` holding one line per problem, each naming
the file and the dotted field path, so a user fixes a file in one pass.

Validation has two layers. The schema (``sim.schema``) checks each field and the rules that tie
fields together; ``scenario_problems`` then checks what only a whole scenario shows: that there is
someone to sell and someone to buy, and that one run fits in this machine's memory
(``sim.feasibility``). A scenario that passes both runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from sim.distributions import _Dist
from sim.feasibility import check_memory
from sim.schema import Scenario, dist_range


class ScenarioError(Exception):
    """A scenario that cannot be used; ``problems`` holds one message per fault."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping states the same key twice (plain ``safe_load`` keeps the last one silently)."""

    def __init__(self, path: tuple, first: yaml.Mark, again: yaml.Mark):
        self.path, self.first, self.again = path, first, again
        super().__init__(
            None, None, f"duplicate key {path[-1]!r} (first at line {first.line + 1})", again
        )


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key repeated in one mapping, naming its field path and
    both lines. Everything else is ``safe_load``: same tags, same resolvers, merge keys (``<<``)
    still merge, and a key that overrides a merged one is not a duplicate."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._paths: dict[int, tuple] = {}
        self._index_paths(node, ())
        return super().construct_document(node)

    def _index_paths(self, node: yaml.Node, path: tuple) -> None:
        """Field path of every mapping node (scalar keys and list positions), for messages."""
        stack = [(node, path)]
        seen: set[int] = set()
        while stack:
            node, path = stack.pop()
            if id(node) in seen:  # aliases share nodes (and may be recursive)
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                self._paths[id(node)] = path
                for key, value in node.value:
                    name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                    stack.append((value, (*path, name)))
            elif isinstance(node, yaml.SequenceNode):
                for k, item in enumerate(node.value):
                    stack.append((item, (*path, k)))

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, yaml.Mark] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    earlier = first.setdefault(key, key_node.start_mark)
                except TypeError:  # an unhashable key: the base class reports it
                    continue
                if earlier is not key_node.start_mark:
                    path = (*self._paths.get(id(node), ()), key)
                    raise DuplicateKeyError(path, earlier, key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, except that a key repeated in a mapping raises
    ``DuplicateKeyError``."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError([f"{path}: file not found"]) from None
    except IsADirectoryError:
        raise ScenarioError([f"{path}: is a directory, not a scenario file"]) from None
    except OSError as exc:
        raise ScenarioError([f"{path}: cannot read file ({exc.strerror or exc})"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            [f"{path}: not valid UTF-8 text at line {line} (byte {exc.start}); a scenario is a "
             "UTF-8 YAML file"]
        ) from None
    try:
        data = parse_yaml(text)
    except DuplicateKeyError as exc:
        raise ScenarioError(
            [
                f"{path}: {_dotted(exc.path)}: duplicate key at line {exc.again.line + 1} "
                f"(first at line {exc.first.line + 1}; allowed: each key once per mapping)"
            ]
        ) from None
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError([f"{path}: not valid YAML{where}: {problem}"]) from None
    except RecursionError:
        raise ScenarioError([f"{path}: not valid YAML: nested too deeply"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"{path}: (top level): must be a mapping of fields (got {type(data).__name__})"]
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
    target = path.parent / parent
    try:
        exists, is_dir = target.exists(), target.is_dir()
    except (OSError, ValueError) as exc:
        raise ScenarioError([f"{path}: extends: {parent!r}: not a usable path ({exc})"]) from None
    if not exists:
        raise ScenarioError([f"{path}: extends: {parent}: file not found (looked for {target})"])
    if is_dir:
        raise ScenarioError(
            [f"{path}: extends: {parent}: is a directory (allowed: a scenario file's path)"]
        )
    base = load_raw(target, (*_chain, path))
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
        value = parse_yaml(text)
    except DuplicateKeyError as exc:
        raise ScenarioError(
            [f"--set {item}: {key}.{_dotted(exc.path)}: duplicate key (allowed: each key once)"]
        ) from None
    except (yaml.YAMLError, RecursionError):
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
    parts, _ = _walk(err["loc"])
    msg, kind, got = err["msg"], err["type"], _short(err.get("input"))
    if kind == "extra_forbidden":
        msg = "unknown field"
        allowed = _allowed_fields(err["loc"][:-1])
        if allowed:
            msg += f" (allowed: {', '.join(allowed)})"
    elif kind in _BOUND_WORDS:
        msg = f"must be {_BOUND_WORDS[kind]} {err['ctx'][_BOUND_CTX[kind]]}"
        msg += f" (got {got})"
    elif kind in ("model_attributes_type", "union_tag_invalid", "union_tag_not_found"):
        msg = (
            "must be a number or a distribution mapping with dist: constant, uniform, lognormal "
            f"or choice (got {got})"
        )
    elif kind == "literal_error":
        msg = msg.replace("Input should be", "must be one of:") + f" (got {got})"
    elif kind == "model_type":
        allowed = _allowed_fields(err["loc"])
        msg = f"must be a mapping of fields (allowed: {', '.join(allowed)}; got {got})"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "invalid_key":
        msg = f"field names must be strings (got {got})"
    elif kind == "finite_number":
        msg = f"must be a finite number (got {got})"
    elif kind == "value_error":
        msg = str(err.get("ctx", {}).get("error", msg.removeprefix("Value error, ")))
        head = msg.split(" ", 1)[0]
        prefix = head.rstrip(":")
        field = _resolve(parts, prefix) if head.endswith(":") or "." in prefix else None
        if field is not None:  # a rule between fields names the field it is about first
            parts, msg = field, msg[len(prefix) :].lstrip(": ") or msg
    elif kind == "list_type":
        msg = f"must be a list (got {got})"
    else:
        msg = f"{msg} (got {got})"
    return f"{source}: {'.'.join(parts) or '(top level)'}: {msg}"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def _unwrap(ann: Any) -> Any:
    """The model, list or distribution union behind a field's annotation (``X | None`` -> X)."""
    if typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return _unwrap(args[0])
    return ann


def _dist_tags(ann: Any) -> dict[str, type] | None:
    """``{tag: class}`` when ``ann`` is the distribution union, else None."""
    if typing.get_origin(ann) not in (typing.Union, types.UnionType):
        return None
    args = typing.get_args(ann)
    if not all(isinstance(a, type) and issubclass(a, _Dist) for a in args):
        return None
    return {typing.get_args(a.model_fields["dist"].annotation)[0]: a for a in args}


def _walk(loc: tuple) -> tuple[list[str], Any]:
    """The field path of a pydantic error location (without the distribution tags pydantic
    inserts) and the annotation it ends at (None when it leaves the schema)."""
    ann: Any = Scenario
    parts: list[str] = []
    for part in loc:
        tags = _dist_tags(ann) if ann is not None else None
        if tags is not None and part in tags:
            ann = tags[part]
            continue
        parts.append(str(part))
        if isinstance(part, int) and typing.get_origin(ann) is list:
            ann = _unwrap(typing.get_args(ann)[0])
        elif isinstance(ann, type) and issubclass(ann, BaseModel) and part in ann.model_fields:
            ann = _unwrap(ann.model_fields[part].annotation)
        else:
            ann = None
    return parts, ann


def _allowed_fields(loc: tuple) -> list[str]:
    _, ann = _walk(loc)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return sorted(ann.model_fields)
    return []


def _resolve(parts: list[str], dotted: str) -> list[str] | None:
    """``dotted`` as a full field path, read from the location ``parts`` or from the top."""
    if not dotted or not all(dotted.split(".")):
        return None
    for base in (parts, []):
        path = [*base, *dotted.split(".")]
        if _walk(tuple(int(p) if p.isdigit() else p for p in path))[1] is not None:
            return path
    return None


def validate(data: dict[str, Any], source: str = "<scenario>", checks: bool = True) -> Scenario:
    """The scenario ``data`` describes, or ``ScenarioError`` listing every problem.

    ``checks`` adds ``scenario_problems`` (someone to sell, someone to buy, memory) to the
    schema's checks; ``load_scenario`` leaves them to the scenario with its overrides applied."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([_format_error(source, dict(e)) for e in exc.errors()]) from None
    if checks:
        problems = scenario_problems(scenario, source)
        if problems:
            raise ScenarioError(problems)
    return scenario


def scenario_problems(scenario: Scenario, source: str = "<scenario>") -> list[str]:
    """What the schema cannot see field by field: a world with no provider, no capacity or no
    buyer that needs compute (its access and price metrics would be undefined), integers too
    large for the arrays that hold them, and a run larger than this machine's memory. A stylized
    market (``stylized:``) replaces the agent world, so only its own size is checked."""
    problems = _oversized_integers(scenario, source)
    if problems:
        return problems
    if scenario.stylized is None:
        problems += _supply_problems(scenario, source) + _demand_problems(scenario, source)
    if not problems:
        problems += check_memory(scenario, source)
    return problems


_PROVIDER_CLASSES = ("hyperscalers", "neoclouds")
_DEMAND_CLASSES = ("frontier_labs", "startups", "academics")
_INT_LIMIT = 2**53  # counts and sizes are also used as float64, exact up to here


def _supply_problems(sc: Scenario, source: str) -> list[str]:
    classes = {name: getattr(sc.providers, name) for name in _PROVIDER_CLASSES}
    counts = [f"providers.{name}.count" for name in classes]
    if not any(pc.count for pc in classes.values()):
        return [
            f"{source}: {', '.join(counts)}: all 0, so there is no provider to buy compute from "
            "(allowed: at least one provider; set a count >= 1)"
        ]
    present = {name: pc for name, pc in classes.items() if pc.count}
    if all(dist_range(pc.gpus_per_site, practical=True)[1] < 0.5 for pc in present.values()):
        fields = ", ".join(f"providers.{name}.gpus_per_site" for name in present)
        return [
            f"{source}: {fields}: every site starts with 0 GPUs (GPUs per site are rounded to "
            "whole GPUs), so there is no capacity to sell (allowed: at least one GPU at a site "
            "of a class with providers)"
        ]
    return []


def _demand_problems(sc: Scenario, source: str) -> list[str]:
    if any(getattr(sc.buyers, name).count for name in _DEMAND_CLASSES):
        return []
    counts = ", ".join(f"buyers.{name}.count" for name in _DEMAND_CLASSES)
    return [
        f"{source}: {counts}: all 0, so no buyer needs compute and the access and price metrics "
        "are undefined (allowed: at least one buyer of a demand class: frontier_labs, startups "
        "or academics)"
    ]


def _oversized_integers(sc: Scenario, source: str) -> list[str]:
    """Integer fields beyond 2**53 (the seed excepted: a SeedSequence takes any integer)."""
    out = []
    for path, value in _integers(sc, ()):
        if path != ("seed",) and abs(value) > _INT_LIMIT:
            out.append(
                f"{source}: {'.'.join(path)}: too large (allowed: at most 2**53 = "
                f"{_INT_LIMIT:,}; got {value:.3g})"
            )
    return out


def _integers(model: BaseModel, path: tuple) -> list[tuple[tuple, int]]:
    found = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        here = (*path, name)
        items = value if isinstance(value, list) else [value]
        for k, item in enumerate(items):
            where = (*here, str(k)) if isinstance(value, list) else here
            if isinstance(item, BaseModel) and not isinstance(item, _Dist):
                found += _integers(item, where)
            elif isinstance(item, int) and not isinstance(item, bool):
                found.append((where, item))
    return found


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
    """Read, merge ``extends:``, validate, then apply overrides and validate again. The checks
    of a whole scenario (``scenario_problems``) run once, on the scenario with its overrides, so
    ``--set`` can mend what the file alone would not allow (zero providers, say)."""
    scenario = validate(load_raw(path), str(path), checks=not overrides)
    return with_overrides(scenario, overrides or {}, f"{path} (with --set)")


def scenario_hash(scenario: Scenario) -> str:
    blob = json.dumps(scenario.model_dump(mode="json"), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
