"""Regenerate the shipped example run (``examples/cpu-2core-amd-epyc.json``) from a real run here.

    python -m labs.cuda_benchmark.regenerate_example [--out PATH]

The plan is the one-click sweep (4 sizes x fp32/bf16/fp64, 3 buffer sizes, the crossover) at
0.2 s per point: about 20 s on 2 cores. Run it on a quiet machine: the run's notes carry a
load-average warning otherwise, and its figures are then noise. The file is what
`results.save_results` writes, so the Compare section loads it like any saved run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from labs.cuda_benchmark.hardware import cpu_info
from labs.cuda_benchmark.results import results_document
from labs.cuda_benchmark.suite import quick_config, run_all

EXAMPLE = Path(__file__).resolve().parent / "examples" / "cpu-2core-amd-epyc.json"
LABEL = "AMD EPYC, 2 vCPU VM, no GPU (shared machine)"


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=EXAMPLE)
    args = parser.parse_args(argv)
    rows, context = run_all(quick_config(min_run_time=0.2))
    doc = results_document(rows, context, machine={"cpu": cpu_info()["model"]}, label=LABEL)
    args.out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    flagged = [r for r in rows if r.get("flag")]
    print(f"{len(rows)} rows, clock {(context.get('clock') or {}).get('ghz')} GHz, {len(flagged)} flagged -> {args.out}")
    return args.out


if __name__ == "__main__":
    main()
