#!/usr/bin/env bash
# Re-run the scenarios behind the README's results section and compare them with the baseline.
#   bash scripts/results.sh            # 5 replications each, 2 worker processes
# Writes results/<scenario>/ for each scenario and results/compare-markets/ (figures, deltas).
set -euo pipefail
cd "$(dirname "$0")/.."
workers="${WORKERS:-2}"
scenarios=(baseline spot-only spot-resale plan-strategic forward-physical plan public-spread public-concentrated)
for s in "${scenarios[@]}"; do
  rm -rf "results/$s"
  sim run "scenarios/$s.yaml" --out "results/$s" --workers "$workers"
done
# the public programme inside the plan's markets, buying forwards or (same markets) contracts
rm -rf results/public-forwards results/public-plan-contracts
sim run scenarios/public-forwards.yaml --out results/public-forwards --workers "$workers"
sim run scenarios/public-forwards.yaml --set public_programme.procurement=contracts \
  --out results/public-plan-contracts --workers "$workers"
rm -rf results/compare-markets
sim compare results/baseline results/spot-only results/spot-resale results/plan \
  --out results/compare-markets
rm -rf results/compare-public
sim compare results/baseline results/public-spread results/public-concentrated \
  --out results/compare-public
rm -rf results/compare-procurement
sim compare results/plan results/public-plan-contracts results/public-forwards \
  --out results/compare-procurement
