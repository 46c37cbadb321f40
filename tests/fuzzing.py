"""Hostile values for every named endpoint of a gradio app, and a judge of the answers.

`hostile_calls(info)` turns gradio_client's `view_api` description into calls: all inputs None,
then one input at a time replaced by something hostile for its type (a huge string, a server path,
NaN, infinity, a negative or huge number, a file that is not what it claims), the others left at
their defaults. `judge(message)` says why an error message is not a clear one, or None.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterator

HUGE_TEXT = "A" * 200_000
GRADIO_INPUT_CHECK = "Could not preprocess input component"
SERVER_PATHS = ("/etc/passwd", "../../../../etc/shadow", "/proc/self/environ")

# What a clear message never looks like: a Python error's own words, gradio's generic text, or the
# suite's wrapper for unexpected exceptions (which means a bug).
UNCLEAR = re.compile(
    r"Traceback|upstream .*app has raised|NoneType|has no attribute|unsupported operand|not subscriptable|"
    r"object is not|object of type|KeyError|IndexError|Something went wrong|invalid literal for int|"
    r"could not convert string|takes \d+ positional|missing \d+ required|unexpected keyword",
    re.I,
)


def judge(message: str | None) -> str | None:
    """Why `message` is not a clear error message for a user, or None when it is one."""
    text = (message or "").strip()
    if not text or text.lower() in {"error", "none"}:
        return "empty message"
    if text.startswith(GRADIO_INPUT_CHECK):  # gradio's own check: names the component and the expected type
        return None
    match = UNCLEAR.search(text)
    if match:
        return f"internal error text ({match.group(0)!r})"
    return None


def _hostile_values(param: dict[str, Any], junk_file: Any) -> list[Any]:
    """Hostile values for one input, most telling first."""
    kind = (param.get("python_type") or {}).get("type", "")
    component = (param.get("component") or "").lower()
    if component in {"file", "image", "model3d", "audio", "video", "uploadbutton", "files"} or "filedata" in kind.lower():
        return [junk_file]
    if kind in {"float", "int"} or component in {"slider", "number"}:
        return [math.nan, -1e18, 1e18, math.inf]
    if kind == "bool" or component == "checkbox":
        return []  # any value is True or False: nothing hostile to send
    if kind.lower().startswith("list") or component == "checkboxgroup":
        return [["no such choice"] * 3]
    if kind.lower().startswith("dict") or component in {"dataframe", "json"}:
        return ["not a table"]
    return [HUGE_TEXT, *SERVER_PATHS, "http://169.254.169.254/latest/meta-data/"]


def hostile_calls(endpoint: dict[str, Any], junk_file: Any, *, thorough: bool = False) -> Iterator[tuple[str, list[Any]]]:
    """(description, args) pairs for one endpoint of `view_api(return_format="dict")`.

    Args:
        thorough: Every hostile value for every input. Without it, one per input (rotating
            through the kinds from one input to the next), which keeps a full pass to minutes.
    """
    params = endpoint.get("parameters", [])
    defaults = [p.get("parameter_default") if p.get("parameter_has_default") else None for p in params]
    yield "all None", [None] * len(params)
    for i, param in enumerate(params):
        values = _hostile_values(param, junk_file)
        if values and not thorough:
            values = [values[i % len(values)]]
        for value in values:
            args = list(defaults)
            args[i] = value
            yield f"{param.get('parameter_name') or i}={repr(value)[:40]}", args
