""""Distribute libraries, not code": two more builds of the same project, and what they really hide.

1. **Bytecode only** (`setup_bytecode.py.tmpl`): every module is compiled to ``.pyc`` and the
   ``.py`` dropped. `disassemble()` shows how much a reader still recovers from that ``.pyc``.
2. **Native library** (`setup_native.py.tmpl`): the model's dense layer is C, compiled into a
   shared library that ships in the wheel and is loaded with ctypes, by this package or any
   other one. `exported_symbols()` shows what the binary still tells a reader.

Both are real PEP 517 builds of the project from `project.with_flavour()`, built by `building`.
"""

from __future__ import annotations

import dis
import io
import marshal
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from labs.wheel_packaging.building import BuildResult, run_build
from labs.wheel_packaging.inspection import WheelReport, inspect_wheel
from labs.wheel_packaging.project import Project, with_flavour, write_project
from labs.wheel_packaging.tryout import TryoutResult, run_program
from shared.optional import MissingDependency

PYC_HEADER = 16  # magic (4) + flags (4) + source mtime or hash (8): then the marshalled code object
MIN_STRING = 6  # shortest run of printable bytes reported from the binary (like `strings -n 6`)

# Run in the native wheel's venv: what any *other* package can do with the shipped library.
OTHER_PACKAGE_PROGRAM = (
    "import ctypes, importlib, sys\n"
    "native = importlib.import_module(sys.argv[1] + '._native')\n"
    "lib = ctypes.CDLL(native.lib_path())  # no import of the model code, just the .so\n"
    "lib.tm_version.restype = ctypes.c_char_p\n"
    "x, w = (ctypes.c_float * 2)(1.0, 2.0), (ctypes.c_float * 2)(3.0, 4.0)\n"
    "b, y = (ctypes.c_float * 1)(0.5), (ctypes.c_float * 1)()\n"
    "lib.tm_dense(x, w, b, y, 2, 1, 0)  # 1*3 + 2*4 + 0.5\n"
    "print(native.lib_path().rsplit('/', 1)[-1], '->', lib.tm_version().decode(), '| tm_dense:', y[0])\n"
)

HONEST_NOTE = """**What a sourceless wheel does and does not protect**

- **Bytecode only:** nobody can open your `.py` files, and that is all. A `.pyc` is the code
  object marshalled: function and variable names, docstrings, constants and every instruction are
  there (see the disassembly). Decompilers (`pycdc`, `decompyle3`) turn it back into readable
  Python. It also ties the wheel to one Python minor version (`cp311` tag), so you must build one
  wheel per Python version, and the **sdist must not be uploaded** (it *is* the source).
- **Compiled native code:** much harder to read than bytecode, but not secret. Exported symbols,
  strings and the machine code are in the file (see the symbol table); disassemblers and
  decompilers (Ghidra, objdump) recover the algorithm. You must build one wheel per OS and CPU
  (cibuildwheel), and Linux wheels need `auditwheel repair` to get a manylinux tag PyPI accepts.
- **Weights are data either way:** `model.safetensors` is readable by anyone who installs the
  wheel. To keep a model private, do not ship it: serve it behind an API.
- **Licences still apply:** shipping without source does not change your licence terms, and
  MIT/Apache-2.0 allow redistribution of the binaries too. Use a proprietary licence if that is
  the intent; obfuscation is not a licence."""


@dataclass
class FlavourBuild:
    """One flavour's build and its inspected wheel."""

    flavour: str
    build: BuildResult
    report: WheelReport
    project_dir: Path


def compiler() -> str | None:
    """The C compiler setup_native.py will call ($CC or `cc`), or None if it cannot be found."""
    name = (os.environ.get("CC") or "cc").split()[0]
    return shutil.which(name)


def check_compiler() -> None:
    """Raises MissingDependency with the install command when no C compiler is on PATH."""
    if compiler() is None:
        raise MissingDependency("No C compiler ('cc') was found, so the native wheel cannot be built. "
                                "Install one: apt-get install gcc (Debian/Ubuntu), xcode-select --install "
                                "(macOS), or set CC to your compiler.")


def build_flavour(project: Project, flavour: str, work: Path, *, isolated: bool) -> FlavourBuild:
    """Write the project set up for `flavour` into `work/<flavour>` and build its wheel."""
    if flavour == "native":
        check_compiler()
    variant = with_flavour(project, flavour)
    root = write_project(variant, work / flavour / "project")
    build = run_build(root, work / flavour / "dist", isolated=isolated, sdist=False)
    return FlavourBuild(flavour, build, inspect_wheel(build.wheel), root)


def file_matrix(builds: list[FlavourBuild]) -> tuple[list[str], list[list[str]]]:
    """Rows of (file, then ✓/— per flavour) over the union of the wheels' files.

    The ``<name>-<version>.dist-info`` prefix is kept (all flavours share it); rows are sorted.
    """
    present = [{path for path, _, _ in b.report.files} for b in builds]
    every = sorted(set().union(*present))
    headers = ["File in the wheel"] + [b.flavour for b in builds]
    rows = [[path] + ["✓" if path in files else "—" for files in present] for path in every]
    return headers, rows


def _pyc_code(wheel: Path, member: str):
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    return marshal.loads(data[PYC_HEADER:])


def disassemble(wheel: Path, import_name: str, *, module: str = "model", function: str = "predict") -> str:
    """What a reader recovers from ``<module>.pyc`` in a sourceless wheel, with no source at all.

    Returns:
        A report: recovered function names, docstrings and global names, then the disassembly of
        `function` (the instructions Python runs).
    """
    member = f"{import_name}/{module}.pyc"
    code = _pyc_code(wheel, member)
    functions = [c for c in code.co_consts if hasattr(c, "co_code")]
    nested = [c for cls in functions for c in cls.co_consts if hasattr(c, "co_code")]
    names = sorted({c.co_qualname for c in functions + nested})
    docs = [c.co_consts[0] for c in [code] + functions + nested  # a docstring is a code object's first constant
            if c.co_consts and isinstance(c.co_consts[0], str) and " " in c.co_consts[0]]
    target = next((c for c in functions if c.co_name == function), None)
    out = io.StringIO()
    out.write(f"# Recovered from {member} (no .py in the wheel)\n")
    out.write(f"# functions and methods: {', '.join(names)}\n")
    out.write(f"# global names used: {', '.join(sorted(n for n in code.co_names if n))}\n")
    out.write(f"# docstrings recovered: {len(docs)}, e.g.\n")
    for doc in docs[:4]:
        out.write(f"#   {doc.splitlines()[0]!r}\n")
    if target is not None:
        out.write(f"\n# dis of {function}(), line numbers included:\n")
        dis.dis(target, file=out)
    return out.getvalue()


def _shared_library(wheel: Path, dest: Path) -> Path | None:
    with zipfile.ZipFile(wheel) as zf:
        libs = [n for n in zf.namelist() if re.search(r"\.(so|dylib|dll)$", n)]
        if not libs:
            return None
        dest.mkdir(parents=True, exist_ok=True)
        path = dest / Path(libs[0]).name
        path.write_bytes(zf.read(libs[0]))
        return path


def exported_symbols(wheel: Path, work: Path) -> str:
    """The dynamic symbol table (``nm -D --defined-only``) and readable strings of the wheel's library."""
    lib = _shared_library(wheel, work / "unpacked-lib")
    if lib is None:
        return "# this wheel ships no shared library"
    out = [f"# {lib.name}: {lib.stat().st_size:,} bytes"]
    nm = shutil.which("nm")
    if nm:
        proc = subprocess.run([nm, "-D", "--defined-only", str(lib)], capture_output=True, text=True, timeout=30)
        out += ["$ nm -D --defined-only " + lib.name, (proc.stdout or proc.stderr).strip()]
    else:
        out.append("# nm is not installed (apt-get install binutils), so the symbol table is not shown")
    strings = re.findall(rb"[\x20-\x7e]{%d,}" % MIN_STRING, lib.read_bytes())
    interesting = [s.decode() for s in strings if not s.startswith((b".", b"_"))][:25]
    out += [f"# printable strings (like `strings -n {MIN_STRING}`), first {len(interesting)}:", *interesting]
    return "\n".join(out)


def load_from_another_program(result: TryoutResult, import_name: str) -> str:
    """In the native wheel's venv, load its shared library directly with ctypes and call it."""
    return run_program(result, "Load the shared library from another program (ctypes)",
                       OTHER_PACKAGE_PROGRAM, import_name)
