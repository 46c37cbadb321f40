"""Repository conventions: the README's commands are what CI runs; labs stay in their lanes."""

import ast
import re
from pathlib import Path

from labs import LABS

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def readme_commands():
    return re.findall(r"```(?:bash|sh)\n(.*?)\n```", README, re.S)


def test_ci_runs_the_readme_test_command():
    ci_lines = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if l and not l.startswith(("#", "set ", "cd "))]
    assert len(ci_lines) == 1
    assert ci_lines[0] in readme_commands(), "the README must show exactly the command CI runs"


def test_readme_has_the_launch_command_and_one_bullet_per_lab():
    assert any("launcher.py" in c and ".ci/setup.sh" in c for c in readme_commands())
    for lab in LABS:
        assert f"**{lab.title}**" in README, f"README has no bullet for {lab.title}"


def _imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_logic_modules_do_not_import_gradio_and_labs_do_not_import_each_other():
    for lab in LABS:
        for path in (ROOT / "labs" / lab.slug).rglob("*.py"):
            names = list(_imports(path))
            if path.name != "app.py":
                assert not any(n.split(".")[0] == "gradio" for n in names), f"{path}: logic imports gradio"
            others = [n for n in names if n.startswith("labs.") and not n.startswith(f"labs.{lab.slug}")]
            assert not others, f"{path} imports another lab: {others}"


def test_app_modules_keep_heavy_imports_inside_functions():
    heavy = {"torch", "transformers", "tensorflow", "keras", "trimesh", "boto3", "azure", "google", "sklearn"}
    for lab in LABS:
        for path in (ROOT / "labs" / lab.slug).glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                    assert not any(n.split(".")[0] in heavy for n in names), f"{path}: top-level import of {names}"


def test_readme_images_and_links_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README points at a missing file: {target}"
