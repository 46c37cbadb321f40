"""MIT and Apache-2.0: their texts, what each one obliges and grants, and what each puts in a wheel.

The full texts are shipped as data files (`templates/MIT.txt`, `templates/Apache-2.0.txt`, the
canonical texts). The comparison cites the Apache-2.0 sections it summarises; it is a teaching
summary, not legal advice.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")

# (topic, MIT, Apache-2.0): the obligations and grants people ask about most.
COMPARISON = (
    ("Use, copy, modify, merge, publish, distribute, sublicense, sell",
     "Yes", "Yes (§2, copyright licence)"),
    ("Explicit patent grant",
     "No explicit grant (at most implied)", "Yes: every contributor licenses the patents their contribution needs (§3)"),
    ("Patent termination",
     "None", "Your patent licence ends if you sue claiming the work infringes a patent (§3)"),
    ("Keep the licence text",
     "Include the copyright and permission notice in all copies or substantial portions",
     "Give every recipient a copy of the licence (§4a)"),
    ("NOTICE file",
     "No such concept", "If the work has a NOTICE file, redistributions must carry its attribution notices (§4d)"),
    ("State your changes",
     "Not required", "Modified files must carry prominent notices that you changed them (§4b)"),
    ("Keep copyright/attribution notices in source",
     "Yes (the notice above)", "Yes, all copyright, patent, trademark and attribution notices (§4c)"),
    ("Trademarks",
     "Silent", "No trademark rights granted beyond describing the origin (§6)"),
    ("Contributions sent back to you",
     "Silent", "Licensed under Apache-2.0 unless stated otherwise (§5)"),
    ("Warranty and liability",
     "None (\"AS IS\")", "None (§7, §8); you may offer support or warranty yourself for a fee (§9)"),
    ("GPL compatibility",
     "GPLv2 and GPLv3", "GPLv3 only (the FSF considers it incompatible with GPLv2)"),
    ("In the wheel's METADATA (PEP 639)",
     "License-Expression: MIT / License-File: LICENSE",
     "License-Expression: Apache-2.0 / License-File: LICENSE / License-File: NOTICE"),
    ("Files under .dist-info/licenses/",
     "LICENSE", "LICENSE, NOTICE"),
)


def license_text(license: str, holder: str, year: int | None = None) -> str:
    """The LICENSE file for `license` (``"MIT"`` or ``"Apache-2.0"``).

    MIT carries the copyright line in the file itself; Apache-2.0 is shipped verbatim (its
    copyright line goes in NOTICE and in each source file's header).
    """
    year = year or _dt.date.today().year
    if license == "MIT":
        return (TEMPLATES / "MIT.txt").read_text(encoding="utf-8").replace("<YEAR>", str(year)).replace(
            "<COPYRIGHT HOLDER>", holder)
    if license == "Apache-2.0":
        return (TEMPLATES / "Apache-2.0.txt").read_text(encoding="utf-8")
    raise ValueError(f"Unknown licence {license!r}. Pick MIT or Apache-2.0.")


def notice_text(project: str, holder: str, year: int | None = None) -> str:
    """The NOTICE file an Apache-2.0 project ships (attribution that redistributors must keep)."""
    year = year or _dt.date.today().year
    return (f"{project}\nCopyright {year} {holder}\n\n"
            f"This product includes software and model weights developed by {holder}.\n"
            "Licensed under the Apache License, Version 2.0 (see LICENSE).\n")


def source_header(license: str, holder: str, year: int | None = None) -> str:
    """The comment block put at the top of every generated source file (SPDX identifier + copyright)."""
    year = year or _dt.date.today().year
    return f"# SPDX-License-Identifier: {license}\n# Copyright (c) {year} {holder}\n"


def word_count(license: str) -> int:
    """How many words the licence text has (measured on the shipped text)."""
    return len(re.findall(r"\w+", license_text(license, "Holder", 2000)))


def comparison_markdown() -> str:
    """The side-by-side table as Markdown, with the measured length of each text."""
    rows = [("Length of the text", f"{word_count('MIT')} words", f"{word_count('Apache-2.0')} words")]
    rows += list(COMPARISON)
    body = "\n".join(f"| {topic} | {mit} | {apache} |" for topic, mit, apache in rows)
    return ("| | MIT | Apache-2.0 |\n|---|---|---|\n" + body +
            "\n\n*A teaching summary of the two texts, not legal advice. Model weights are often "
            "shared under other terms (OpenRAIL, Llama, CC-BY); check what you are allowed to redistribute.*")
