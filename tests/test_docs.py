"""The scenario reference is generated from the schema and committed; it must not drift."""

from pathlib import Path

from sim.docgen import reference_markdown
from sim.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent


def test_reference_is_up_to_date():
    committed = (ROOT / "docs" / "scenario-reference.md").read_text()
    assert committed == reference_markdown(), "run `sim docs` to regenerate the reference"


def test_every_field_is_documented():
    text = reference_markdown()
    for name, field in Scenario.model_fields.items():
        assert f"`{name}`" in text
        assert field.description, name


def test_every_scenario_file_validates():
    from sim.loader import load_scenario

    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        load_scenario(path)


def test_every_scenario_runs_a_short_horizon():
    """Each shipped scenario runs end to end (shortened) without error."""
    from sim.loader import load_scenario
    from sim.runner import run_replication

    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        # long enough for the shock scenarios' shocks (from day 180 or 365) to happen
        years = 1.1 if ("shock" in path.name or "boom" in path.name) else 0.15
        over = {"time.horizon_years": years, "replications": 1}
        sc = load_scenario(path, over)
        summary = run_replication(sc).summary
        assert summary, path.name
