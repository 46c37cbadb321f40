"""Generate the library project: src/ layout, pyproject.toml (PEP 621 + PEP 639), weights, tests.

Python modules of the generated package are real files in `package/` (copied with an SPDX header
on top, so they are the exact code that runs after `pip install`); everything that depends on the
user's choices (pyproject, README, LICENSE, tests, example app, CI workflow, setup.py of the
sourceless variants) is rendered from `templates/*.tmpl` by replacing ``{{key}}`` placeholders.
"""

from __future__ import annotations

import io
import json
import re
import shlex
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from labs.wheel_packaging import licences
from labs.wheel_packaging.naming import ProjectSpec, inside

HERE = Path(__file__).parent
PACKAGE_SOURCES = HERE / "package"  # the generated package's modules, verbatim
TEMPLATES = HERE / "templates"
PURE_MODULES = ("__init__.py", "model.py", "cli.py", "torch_module.py")  # _native.py: native build only
FLAVOURS = {
    "pure": "Pure Python wheel (py3-none-any): .py sources, runs anywhere",
    "bytecode": "Sourceless wheel (cpXY-none-any): .pyc bytecode only, one Python minor version",
    "native": "Native-library wheel (py3-none-PLATFORM): a compiled C .so loaded with ctypes",
}
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass
class Project:
    """A generated project held in memory.

    Attributes:
        spec: The validated user choices.
        files: Relative POSIX path -> file bytes, in a stable order.
        flavour: Which build it is set up for (a key of `FLAVOURS`).
    """

    spec: ProjectSpec
    files: dict[str, bytes] = field(default_factory=dict)
    flavour: str = "pure"

    def text(self, path: str) -> str:
        """A file's content for display (binary files are summarised)."""
        data = self.files[path]
        if path.endswith(".safetensors"):
            (n,) = struct.unpack("<Q", data[:8])
            header = json.loads(data[8 : 8 + n])
            return (f"# binary safetensors file, {len(data)} bytes: 8-byte header length, JSON header, raw float32 data\n"
                    + json.dumps(header, indent=2))
        return data.decode("utf-8")

    @property
    def wheel_name(self) -> str:
        """The file name the pure wheel will have (binary distribution format: normalised name)."""
        return f"{self.spec.import_name}-{self.spec.version}-py3-none-any.whl"


def render(template: str, values: dict[str, str]) -> str:
    """Replace every ``{{key}}`` in the template file `template` with ``values[key]``.

    Raises:
        KeyError: If the template uses a key that `values` lacks (a bug, not user input).
    """
    text = (TEMPLATES / template).read_text(encoding="utf-8")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def template_values(spec: ProjectSpec, config: dict) -> dict[str, str]:
    """Everything the templates can refer to, computed once (TOML strings are JSON-escaped)."""
    from labs.wheel_packaging.tinymodels import MODELS

    example = config["examples"][0]
    description = f"{MODELS[spec.model]}, trained with PyTorch and shipped as a wheel."
    is_text = config["input"]["kind"] == "text"
    cli_args = shlex.quote(example["input"]) if is_text else " ".join(str(v) for v in example["input"])
    license_files = ["LICENSE", "NOTICE"] if spec.license == "Apache-2.0" else ["LICENSE"]
    sentence = ("MIT: see LICENSE." if spec.license == "MIT" else
                "Apache-2.0: see LICENSE, and keep NOTICE with any redistribution.")
    return {
        "name": spec.name, "import_name": spec.import_name, "version": spec.version, "script": spec.script,
        "description": description, "holder": spec.holder,
        "name_toml": json.dumps(spec.name), "version_toml": json.dumps(spec.version),
        "description_toml": json.dumps(description), "license_toml": json.dumps(spec.license),
        "holder_toml": json.dumps(spec.holder),
        "license_files_toml": ", ".join(json.dumps(f) for f in license_files),
        "wheel_file": f"{spec.import_name}-{spec.version}-py3-none-any.whl",
        "wheel_glob": f"{spec.import_name}-{spec.version}-py3-none-any.whl",
        "example_repr": repr(example["input"]), "example_output": json.dumps(example["output"]),
        "example_cli": cli_args, "license_sentence": sentence,
    }


def render_project(spec: ProjectSpec, trained, *, year: int | None = None) -> Project:
    """Build every file of the library project in memory.

    Args:
        spec: Validated name, version, licence, holder and model.
        trained: A `tinymodels.TrainedModel`; its weights become package data.
        year: Copyright year (defaults to this year).
    """
    from labs.wheel_packaging.tinymodels import save_weights

    values = template_values(spec, trained.config)
    header = licences.source_header(spec.license, spec.holder, year)
    pkg = f"src/{spec.import_name}"
    files: dict[str, bytes] = {}

    def add(path: str, text: str) -> None:
        files[path] = text.encode("utf-8")

    add("pyproject.toml", render("pyproject.toml.tmpl", values))
    add("README.md", render("README.md.tmpl", values))
    add("LICENSE", licences.license_text(spec.license, spec.holder, year))
    if spec.license == "Apache-2.0":
        add("NOTICE", licences.notice_text(spec.name, spec.holder, year))
    add(".gitignore", render("gitignore.tmpl", values))
    for module in PURE_MODULES:
        add(f"{pkg}/{module}", header + (PACKAGE_SOURCES / module).read_text(encoding="utf-8"))
    add(f"{pkg}/py.typed", "")
    with tempfile.TemporaryDirectory() as tmp:
        for path in save_weights(trained, Path(tmp), license_expression=spec.license):
            files[f"{pkg}/weights/{path.name}"] = path.read_bytes()
    add("tests/test_predict.py", header + render("test_predict.py.tmpl", values))
    add("examples/app.py", header + render("app.py.tmpl", values))
    add("examples/requirements.txt", render("requirements.txt.tmpl", values))
    add(".github/workflows/publish.yml", render("publish.yml.tmpl", values))
    return Project(spec, files)


def with_flavour(project: Project, flavour: str) -> Project:
    """Return a copy of `project` set up for another build flavour (adds setup.py and friends).

    Raises:
        ValueError: For an unknown flavour; the message lists them.
    """
    if flavour not in FLAVOURS:
        raise ValueError(f"Unknown build flavour {flavour!r}. Pick one of: {', '.join(FLAVOURS)}.")
    files = dict(project.files)
    spec = project.spec
    values = {"import_name": spec.import_name}
    if flavour == "bytecode":
        files["setup.py"] = render("setup_bytecode.py.tmpl", values).encode()
    elif flavour == "native":
        header = licences.source_header(spec.license, spec.holder)
        files["setup.py"] = render("setup_native.py.tmpl", values).encode()
        files["csrc/tinymodel.c"] = (header.replace("#", "//") + (TEMPLATES / "tinymodel.c").read_text()).encode()
        files["MANIFEST.in"] = b"graft csrc\n"  # the C source belongs in the sdist
        files[f"src/{spec.import_name}/_native.py"] = (
            header + (PACKAGE_SOURCES / "_native.py").read_text(encoding="utf-8")).encode()
    return Project(spec, files, flavour)


def write_project(project: Project, root: Path) -> Path:
    """Write the project's files under `root` (each path checked to stay inside); returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in project.files.items():
        path = inside(root, *rel.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def zip_project(project: Project, dest: Path) -> Path:
    """Write the project as ``<normalized>-<version>-project.zip`` in `dest`; returns its path."""
    folder = f"{project.spec.normalized}-{project.spec.version}"
    out = dest / f"{folder}-project.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in project.files.items():
            zf.writestr(f"{folder}/{rel}", data)
    out.write_bytes(buffer.getvalue())
    return out


def language_of(path: str) -> str | None:
    """The `gr.Code` language for a file name (None for plain text)."""
    suffix = Path(path).suffix
    return {".py": "python", ".md": "markdown", ".json": "json", ".yml": "yaml", ".yaml": "yaml",
            ".c": "c", ".safetensors": "json", ".toml": None}.get(suffix)
