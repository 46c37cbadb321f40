"""The registry is the single source for tabs, Spaces, requirements and tests: check it is sound."""

import re
from pathlib import Path

import pytest

from labs import LABS, SEED_ORDER, get

ROOT = Path(__file__).resolve().parents[1]
HF_COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def test_labs_follow_seed_order_and_slugs_are_unique():
    slugs = [lab.slug for lab in LABS]
    assert len(slugs) == len(set(slugs))
    assert slugs == sorted(slugs, key=SEED_ORDER.index)
    assert [lab.number for lab in LABS] == sorted(lab.number for lab in LABS)


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_entry_is_complete(lab):
    assert re.fullmatch(r"[a-z][a-z0-9_]*", lab.slug)
    assert 2 <= len(lab.learn) <= 4
    assert 0 < len(lab.summary) <= 60, "summary is the Space short_description (max 60 chars)"
    assert 1 <= lab.minutes <= 90
    assert lab.color_from in HF_COLOURS and lab.color_to in HF_COLOURS
    folder = ROOT / "labs" / lab.slug
    for name in ("__init__.py", "app.py", "README.md"):
        assert (folder / name).is_file(), f"labs/{lab.slug}/{name} is missing"
    assert (ROOT / lab.requirements_file).is_file()
    assert (ROOT / "tests" / "browser" / f"{lab.slug}.py").is_file(), "every lab is in the browser test"


@pytest.mark.parametrize("lab", LABS, ids=lambda lab: lab.slug)
def test_lab_readme_sections_in_order(lab):
    text = (ROOT / "labs" / lab.slug / "README.md").read_text(encoding="utf-8").lower()
    wanted = ["what you will learn", "run it", "things to try", "how it works", "troubleshooting"]
    positions = [text.find(f"## {title}") for title in wanted]
    assert all(p >= 0 for p in positions), f"missing sections: {[w for w, p in zip(wanted, positions) if p < 0]}"
    assert positions == sorted(positions)


def test_get_unknown_slug_lists_the_known_ones():
    with pytest.raises(KeyError, match=LABS[0].slug):
        get("no_such_lab")
