"""Every registered mechanism on one common instance: the shared rules of a clearing; the
registry against the scenario schema; `sim.reference` kept out of the simulator."""

import ast
import typing
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

from sim.markets.orders import OrderBook
from sim.markets.registry import MECHANISMS, get_mechanism
from sim.reference.divisible_lp import uniform_price_reference
from sim.reference.registry import REFERENCES
from sim.schema import Scenario

TOL = 1e-6
EXACT = {"uniform_price", "uniform_price_lp", "block_auction"}
SIM = Path(__file__).resolve().parent.parent / "sim"


def common_book() -> OrderBook:
    """Two products, whole quantities (so the forward session can take it), ties included."""
    return OrderBook(
        buy_qty=[4, 3, 5, 2, 6, 1],
        buy_limit=[9.0, 7.5, 6.0, 6.0, 8.0, 3.0],
        buy_product=[0, 0, 0, 0, 1, 1],
        sell_qty=[3, 4, 5, 2, 4],
        sell_reserve=[5.0, 6.0, 8.0, 2.5, 7.0],
        sell_product=[0, 0, 0, 1, 1],
        buy_time=[0, 2, 4, 6, 1, 3],
        sell_time=[1, 3, 5, 0, 2],
    )


def test_unknown_names_are_refused_with_the_allowed_ones():
    assert not set(MECHANISMS) & set(REFERENCES)
    with pytest.raises(ValueError, match="allowed: block_auction, forward_lots, uniform_price"):
        get_mechanism("walrasian")


@pytest.mark.parametrize("name", sorted(MECHANISMS) + sorted(REFERENCES))
def test_shared_properties(name):
    book = common_book()
    result = (MECHANISMS | REFERENCES)[name](book)
    limit, wanted = book.buy_limit, book.buy_qty
    reserve, offered = book.sell_reserve, book.sell_qty
    assert (result.buy_filled >= -TOL).all() and (result.buy_filled <= wanted + TOL).all()
    assert (result.sell_filled >= -TOL).all() and (result.sell_filled <= offered + TOL).all()
    assert (result.buy_payment <= limit * result.buy_filled + TOL).all()
    assert (result.sell_revenue >= reserve * result.sell_filled - TOL).all()
    assert result.buy_payment.sum() == pytest.approx(result.sell_revenue.sum(), abs=TOL)
    assert result.buy_filled.sum() == pytest.approx(result.sell_filled.sum(), abs=TOL)
    optimum = uniform_price_reference(book).welfare
    assert result.welfare <= optimum + TOL
    if name in EXACT:
        assert result.welfare == pytest.approx(optimum, abs=TOL)
    np.testing.assert_allclose(
        result.welfare, limit @ result.buy_filled - reserve @ result.sell_filled, atol=TOL
    )


def _models(annotation) -> typing.Iterator[type[BaseModel]]:
    """Every pydantic model an annotation names, through unions, lists, Annotated and so on."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def _mechanism_choices() -> set[str]:
    """The Literal choices of every field called `mechanism` anywhere in the scenario schema."""
    choices: set[str] = set()
    seen: set[type[BaseModel]] = set()
    todo = [Scenario]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if name == "mechanism":
                assert typing.get_origin(field.annotation) is typing.Literal, model
                choices |= set(typing.get_args(field.annotation))
            todo.extend(_models(field.annotation))
    return choices


def test_registry_holds_exactly_the_mechanisms_a_scenario_can_choose():
    assert _mechanism_choices() == set(MECHANISMS)


def test_nothing_in_the_simulator_imports_the_references():
    offenders = []
    for path in sorted(SIM.rglob("*.py")):
        if path.is_relative_to(SIM / "reference"):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            if any(n == "sim.reference" or n.startswith("sim.reference.") for n in names):
                offenders.append(f"{path.relative_to(SIM.parent)}:{node.lineno}")
    assert not offenders, offenders
