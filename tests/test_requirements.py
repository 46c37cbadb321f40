"""Dependencies are declared once (requirements/*.txt); every derived copy must agree with them."""

import re
import tomllib
from pathlib import Path

from labs import LABS


ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"


def test_gradio_is_pinned_exactly_and_torch_only_as_a_range():
    base = (REQ / "base.txt").read_text(encoding="utf-8")
    assert re.search(r"^gradio==6\.\d+\.\d+$", base, re.M)
    for path in REQ.glob("*.txt"):
        if path.name == "constraints.txt":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("torch") and not line.startswith("torch-"):
                assert "==" not in line, f"{path.name}: torch is a range; the exact CPU pin lives in constraints.txt"
    assert (REQ / "constraints.txt").read_text(encoding="utf-8").split() == ["torch==2.13.0"]


def test_every_lab_has_its_requirements_and_nothing_is_orphaned():
    lab_files = {p.stem for p in REQ.glob("*.txt")} - {"base", "dev", "constraints", "offline"}
    slugs = {lab.slug for lab in LABS}
    extras = {name for name in lab_files if "-" in name}  # e.g. torch_vs_tf-tensorflow: an optional add-on
    assert slugs <= lab_files, f"labs without requirements: {slugs - lab_files}"
    assert {name.split("-")[0] for name in lab_files} <= slugs, f"orphaned files: {lab_files - slugs - extras}"


def test_pyproject_reads_the_same_files():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dynamic = meta["tool"]["setuptools"]["dynamic"]
    assert dynamic["dependencies"] == {"file": ["requirements/base.txt"]}
    extras = dynamic["optional-dependencies"]
    expected = {p.stem: {"file": [f"requirements/{p.name}"]} for p in REQ.glob("*.txt")
                if p.stem not in {"base", "constraints"}}
    assert extras == expected


