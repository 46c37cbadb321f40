"""The console script: ``<package>-predict 0.5 0.2`` or ``<package>-predict "what a great film"``."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .model import BACKEND, load


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, predict, print the result; returns the exit status."""
    model = load()
    spec = model.config["input"]
    what = "words of text" if spec["kind"] == "text" else ", ".join(spec["names"])
    parser = argparse.ArgumentParser(prog=f"{__package__.replace('_', '-')}-predict",
                                     description=f"Predict with the packaged {model.config['name']} model.")
    parser.add_argument("inputs", nargs="*", help=f"the input: {what} (default: the built-in example)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON only")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__} ({BACKEND})")
    args = parser.parse_args(argv)
    if not args.inputs:
        x = model.config["examples"][0]["input"]
    elif spec["kind"] == "text":
        x = " ".join(args.inputs)
    else:
        try:
            x = [float(v) for v in args.inputs]
        except ValueError:
            parser.error(f"expected numbers ({what}), got {' '.join(args.inputs)!r}")
    try:
        result = model.predict(x)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"input: {x!r}\nprediction: {json.dumps(result)}\nbackend: {BACKEND}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
