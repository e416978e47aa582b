"""Run the ffn-async benchmarks and write results.md and results.json.

    python -m benchmarks                      # everything, about 10 minutes on 2 cores
    python -m benchmarks --quick              # small sizes, under a minute (noisy)
    python -m benchmarks --case overhead --case decoding

Run from the repository root with the development dependencies installed and the loopback
services of the test suite up (unreachable ones are skipped and say so).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import CASES
from .report import CaseResult, load_average, write_results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results"),
        help="where results.md and results.json go (default: %(default)s)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a short, noisy run")
    parser.add_argument(
        "--case", action="append", choices=list(CASES), help="run only this case (repeatable)"
    )
    args = parser.parse_args(argv)
    chosen = args.case or list(CASES)
    load_before = load_average()
    results: list[CaseResult] = []
    began = time.perf_counter()
    for name in chosen:
        module = CASES[name]()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        result = module.run(module.QUICK if args.quick else module.FULL)
        print(f"  done in {result.seconds:.1f} s", file=sys.stderr, flush=True)
        results.append(result)
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    command += "".join(f" --case {name}" for name in args.case or ())
    md, js = write_results(
        args.out,
        results,
        quick=args.quick,
        command=command,
        load_before=load_before,
        merge=bool(args.case),
        order=list(CASES),
    )
    print(md.read_text())
    print(f"wrote {md} and {js} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
