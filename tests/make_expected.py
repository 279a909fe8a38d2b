"""Regenerate tests/expected/tiny_summary.json (only when a model change is intended):

python tests/make_expected.py
"""

import json
import math
from pathlib import Path

from sim.loader import load_scenario
from sim.runner import run_replications

here = Path(__file__).parent
results = run_replications(load_scenario(here.parent / "scenarios" / "tiny.yaml"))
out = {
    str(r.replication): {k: (None if math.isnan(v) else v) for k, v in r.summary.items()}
    for r in results
}
(here / "expected" / "tiny_summary.json").write_text(
    json.dumps(out, indent=2, sort_keys=True) + "\n"
)
print("wrote", here / "expected" / "tiny_summary.json")
