"""The package's shape: no import circles, the recorder never imports the world, components of
the world do not import each other, and money is written only by the accounts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SIM = Path(__file__).resolve().parent.parent / "sim"
COMPONENTS = {
    "sim.world.contracting",
    "sim.world.forward",
    "sim.world.funding",
    "sim.world.on_demand",
    "sim.world.programme",
    "sim.world.runs",
    "sim.world.spot",
    "sim.world.steady",
    "sim.world.supply",
    "sim.world.usage",
}


def _module(path: Path) -> str:
    parts = path.relative_to(SIM.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the sim modules it imports at module level (not under TYPE_CHECKING)."""
    out: dict[str, set[str]] = {}
    modules = {_module(p) for p in SIM.rglob("*.py")}
    for path in SIM.rglob("*.py"):
        tree = ast.parse(path.read_text())
        found: set[str] = set()
        for node in tree.body:  # module level only: imports inside functions are lazy
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found |= {n for n in names if n in modules}
        out[_module(path)] = found
    return out


def test_no_import_circles_in_the_package():
    graph = _imports()
    seen: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt == node or nxt.startswith(node + "."):
                continue  # a package importing its own modules
            if seen.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt] if nxt in stack else [node, nxt]
                raise AssertionError("import circle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt, [*stack, nxt])
        seen[node] = 2

    for module in sorted(graph):
        if module not in seen:
            visit(module, [module])


def test_the_recorder_never_imports_the_world():
    assert not {m for m in _imports()["sim.recorder"] if m.startswith("sim.world")}


def test_components_do_not_import_each_other():
    graph = _imports()
    for component in COMPONENTS:
        assert not graph[component] & (COMPONENTS - {component}), component


def test_only_the_accounts_write_cash():
    """No code outside sim/accounts.py assigns to a cash or balance array (cash is a read-only
    view of the accounts' balances)."""
    write = re.compile(
        r"\.(cash|balance|_balance)(\[[^\]]*\]\s*[-+*/]?=(?!=)|\s*[-+*/]=)"  # x.cash[i] = / +=
        r"|np\.\w+\.at\(\s*[\w.]*\.(cash|balance)\b"  # np.add.at(x.cash, ...)
        r"|out=[\w.]*\.(cash|balance)\b"
    )
    offenders = [
        f"{path.relative_to(SIM.parent)}:{k}: {line.strip()}"
        for path in SIM.rglob("*.py")
        if path.name != "accounts.py"
        for k, line in enumerate(path.read_text().splitlines(), 1)
        if write.search(line)
    ]
    assert not offenders, offenders
