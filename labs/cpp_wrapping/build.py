"""Compile C++ and CUDA sources into things Python can call, and cache what was built.

Six build paths, one per wrapping technique:

- `build_ctypes`: `g++ -O2 -shared -fPIC` makes a plain shared library; `ctypes.CDLL` loads it.
- `build_pybind11`: the same compiler plus pybind11's headers makes a real CPython extension module.
- `build_nanobind`: the same compiler builds nanobind's core library once from the sources nanobind
  ships (`src/nb_combined.cpp`, cached as an object file), then each module against it.
- `build_torch`: `torch.utils.cpp_extension.load_inline` writes a ninja file and builds a torch extension.
- `build_torch_cuda` (in `cuda_torch.py`): `load_inline(cuda_sources=...)`, the same with nvcc.
- `build_cuda`: `nvcc -shared` makes a shared library with a CUDA kernel; `ctypes` loads it too.

Every artefact lives in a per-user cache folder named after a hash of (technique, source, flags,
Python version), so the second run with the same source is instant, and an edited source gets a
fresh folder instead of clobbering the old one. A file lock per folder stops two visitors from
compiling the same thing at once.

References: ctypes docs (https://docs.python.org/3/library/ctypes.html), pybind11 "Building
manually", torch.utils.cpp_extension.load_inline.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.machinery
import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from shared import serving

KERNEL_DIR = Path(__file__).with_name("kernels")
# The shipped sources, one per compiled technique.
SOURCES = {
    "ctypes": KERNEL_DIR / "saxpy_ctypes.cpp",
    "pybind11": KERNEL_DIR / "saxpy_pybind.cpp",
    "nanobind": KERNEL_DIR / "saxpy_nanobind.cpp",
    "torch": KERNEL_DIR / "saxpy_torch.cpp",
    "cuda": KERNEL_DIR / "saxpy_cuda.cu",
}
# -O2 is what most projects ship; -O3/-march=native would make the numbers machine-specific.
CXXFLAGS = ("-O2", "-shared", "-fPIC", "-std=c++17")
NVCCFLAGS = ("-O2", "-shared", "-Xcompiler", "-fPIC")
# torch's own build adds no optimisation flag; ask for the same -O2 as the other C++ builds.
TORCH_CFLAGS = ("-O2",)
# A compiler that runs longer than this is stuck (the slowest build here, torch's, takes ~1 min on 2 cores).
COMPILE_TIMEOUT_S = 600
# Opt-in switch for compiling sources that differ from the shipped ones (edited in the UI).
ALLOW_EDITS_ENV = "CPP_WRAPPING_ALLOW_USER_CODE"
CACHE_ENV = "CPP_WRAPPING_CACHE"


# Written beside each g++/nvcc artefact: how long its compile took, for comparisons read from the cache.
COMPILE_SECONDS_FILE = "compile_seconds"


def recorded_compile_seconds(artefact: Path) -> float | None:
    """The compile time recorded when `artefact` was built, or None if it was not recorded."""
    try:
        return float((Path(artefact).parent / COMPILE_SECONDS_FILE).read_text())
    except (OSError, ValueError):
        return None


class BuildError(ValueError):
    """A build failed or cannot start; the message says why and what to do."""


class CompilerMissing(BuildError):
    """The compiler a technique needs is not installed."""


class CompileFailed(BuildError):
    """The compiler ran and reported errors; `log` holds its full output."""

    def __init__(self, message: str, log: str):
        super().__init__(message)
        self.log = log


@dataclass
class BuildResult:
    """What a build produced.

    Attributes:
        way: The technique (a key of `SOURCES`).
        artefact: The built file (shared library or extension module), or the build folder for torch.
        seconds: Wall time of the compile step (0 when it came from the cache).
        cached: True when nothing was compiled because the cache already had it.
        log: The command(s) that ran and what the compiler printed.
        module: The loaded Python object (ctypes.CDLL or module).
    """

    way: str
    artefact: Path
    seconds: float
    cached: bool
    log: str
    module: Any = None


# Loaded libraries per (way, cache key): loading the same file twice is pointless, and for
# extension modules Python could not unload it anyway.
_LOADED: dict[tuple[str, str], BuildResult] = {}


def user_edits_allowed() -> bool:
    """True only when the operator opted in to compiling edited sources, and never on a shared server.

    Compiled code runs inside the server's own process with all its rights: no sandbox here can
    make a visitor's C++ safe, so shared mode (`shared.serving.is_shared`) ignores the opt-in. An
    operator who trusts every visitor (one classroom on a private network) can force local mode
    with ML_LABS_SHARED=0.
    """
    if serving.is_shared():
        return False
    return os.environ.get(ALLOW_EDITS_ENV, "").strip().lower() in {"1", "true", "yes"}


def cache_root() -> Path:
    """The per-user folder holding compiled artefacts (`$CPP_WRAPPING_CACHE` overrides it)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ml_labs" / "cpp_wrapping"


def shipped_source(way: str) -> str:
    """The source text shipped with the lab for `way`."""
    if way not in SOURCES:
        raise BuildError(f"Unknown technique {way!r}; choose one of: {', '.join(SOURCES)}.")
    return SOURCES[way].read_text()


def resolve_source(way: str, source: str | None) -> str:
    """Return the source to compile: the shipped one, or an edited one if the operator allowed it.

    Raises:
        BuildError: If `source` differs from the shipped file and edits are not enabled.
    """
    shipped = shipped_source(way)
    # None or blank means "the shipped source" (API callers may leave the editors empty).
    if source is None or not source.strip() or source.strip() == shipped.strip():
        return shipped
    if serving.is_shared():
        raise BuildError(
            "Compiling edited C++ is switched off on this shared server: the code would run inside the server "
            f"with its rights, whatever {ALLOW_EDITS_ENV} says. Run the lab on your own machine to edit the sources."
        )
    if not user_edits_allowed():
        raise BuildError(
            "Compiling edited C++ is switched off: a public server must never compile visitors' code. "
            f"To opt in on your own machine, start the lab with {ALLOW_EDITS_ENV}=1."
        )
    return source


def cache_key(way: str, source: str, flags: tuple[str, ...]) -> str:
    """A short hash of everything that changes the artefact: technique, source, flags, Python."""
    h = hashlib.sha256()
    for part in (way, source, " ".join(flags), sys.version, sysconfig.get_config_var("EXT_SUFFIX") or ""):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    # One build per folder at a time; a second visitor waits, then finds the artefact cached.
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def find_compiler(kind: str = "cxx") -> str:
    """Return the path of the C++ compiler (`$CXX` or g++/c++/clang++), or of nvcc for `kind="cuda"`.

    Raises:
        CompilerMissing: With the install command.
    """
    if kind == "cuda":
        candidates = [os.environ.get("NVCC", ""), "nvcc", str(Path(os.environ.get("CUDA_HOME", "/usr/local/cuda")) / "bin" / "nvcc")]
        for name in candidates:
            if name and (found := shutil.which(name)):
                return found
        raise CompilerMissing(
            "nvcc (the CUDA compiler) was not found, so the CUDA kernel cannot be built. Install the CUDA "
            "toolkit (https://developer.nvidia.com/cuda-downloads) or set $NVCC / $CUDA_HOME."
        )
    for name in (os.environ.get("CXX", ""), "g++", "c++", "clang++"):
        if name and (found := shutil.which(name)):
            return found
    raise CompilerMissing(
        "No C++ compiler was found (looked for $CXX, g++, c++, clang++). Install one: "
        "`apt-get install g++` on Debian/Ubuntu, `xcode-select --install` on macOS."
    )


def _run_compiler(cmd: list[str], cwd: Path) -> tuple[str, float]:
    """Run a compiler command; return (log, seconds) or raise CompileFailed with its real output."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise CompileFailed(f"The compiler ran longer than {COMPILE_TIMEOUT_S} s and was stopped.",
                            str(exc)) from exc
    seconds = time.perf_counter() - start
    log = f"$ {shlex.join(cmd)}\n{proc.stdout}{proc.stderr}"
    if proc.returncode != 0:
        # Show the compiler's own first error line in the message; the whole log goes with it.
        first = next((line for line in proc.stderr.splitlines() if "error" in line), proc.stderr.strip()[:300])
        raise CompileFailed(f"The compiler reported an error (exit {proc.returncode}): {first}", log)
    return log + f"# finished in {seconds:.2f} s\n", seconds


def _artefact_build(way: str, source: str, flags: tuple[str, ...], filename: str, file_ext: str,
                    command: Any) -> tuple[Path, str, float, bool, str]:
    """Shared steps of the g++/nvcc builds: hash, lock, compile unless cached, atomically publish."""
    key = cache_key(way, source, flags)
    folder = cache_root() / f"{way}-{key}"
    target = folder / filename
    with _locked(folder):
        if target.exists():
            return target, f"# cache hit: {target}\n", 0.0, True, key
        src = folder / f"source{file_ext}"
        src.write_text(source)
        tmp = folder / f"tmp-{os.getpid()}-{filename}"
        log, seconds = _run_compiler(command(src, tmp), folder)
        (folder / COMPILE_SECONDS_FILE).write_text(f"{seconds:.3f}\n")
        os.replace(tmp, target)  # atomic: a reader never sees a half-written library
        return target, log, seconds, False, key


def build_ctypes(source: str | None = None) -> BuildResult:
    """Compile the ctypes source into a shared library and load it with `ctypes.CDLL`."""
    import ctypes

    import numpy as np

    source = resolve_source("ctypes", source)
    cxx = find_compiler()
    path, log, seconds, cached, key = _artefact_build(
        "ctypes", source, CXXFLAGS, "libsaxpy.so", ".cpp",
        lambda src, out: [cxx, *CXXFLAGS, str(src), "-o", str(out)])
    if ("ctypes", key) not in _LOADED:
        lib = ctypes.CDLL(str(path))
        if not hasattr(lib, "saxpy"):
            raise BuildError("The library has no `saxpy` symbol: keep `extern \"C\" void saxpy(...)`.")
        # Declaring argument types makes ctypes check and convert every call (and costs time per call).
        array = np.ctypeslib.ndpointer(dtype=np.float64, ndim=1, flags="C_CONTIGUOUS")
        lib.saxpy.argtypes = [ctypes.c_int64, ctypes.c_double, array, array, array]
        lib.saxpy.restype = None
        _LOADED[("ctypes", key)] = BuildResult("ctypes", path, seconds, cached, log, lib)
    result = _LOADED[("ctypes", key)]
    return BuildResult("ctypes", path, seconds, cached, log, result.module)


def build_pybind11(source: str | None = None) -> BuildResult:
    """Compile the pybind11 source into a CPython extension module and import it from its file."""
    _require("pybind11", "the pybind11 technique")

    source = resolve_source("pybind11", source)
    cxx = find_compiler()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    flags = pybind11_flags()
    path, log, seconds, cached, key = _artefact_build(
        "pybind11", source, flags, f"saxpy_pybind{suffix}", ".cpp",
        lambda src, out: [cxx, *flags, str(src), "-o", str(out)])
    if ("pybind11", key) not in _LOADED:
        module = _import_extension("saxpy_pybind", path, "PYBIND11_MODULE")
        _LOADED[("pybind11", key)] = BuildResult("pybind11", path, seconds, cached, log, module)
    return BuildResult("pybind11", path, seconds, cached, log, _LOADED[("pybind11", key)].module)


def pybind11_flags() -> tuple[str, ...]:
    """The g++ flags of the pybind11 build: the common ones, hidden visibility, the include folders."""
    import pybind11

    return CXXFLAGS + ("-fvisibility=hidden", f"-I{pybind11.get_include()}", f"-I{sysconfig.get_paths()['include']}")


def _nanobind_includes(nanobind: Any) -> tuple[str, ...]:
    root = Path(nanobind.include_dir()).parent
    return (f"-I{nanobind.include_dir()}", f"-I{root / 'ext' / 'robin_map' / 'include'}",
            f"-I{sysconfig.get_paths()['include']}")


def nanobind_flags() -> tuple[str, ...]:
    """The g++ flags of the nanobind build: exactly the pybind11 ones, with nanobind's include folders."""
    import nanobind

    return CXXFLAGS + ("-fvisibility=hidden",) + _nanobind_includes(nanobind)


def _nanobind_core_spec() -> tuple[str, tuple[str, ...], Path]:
    # What the core object depends on: nanobind's version and combined source, and the flags.
    import nanobind

    core = Path(nanobind.source_dir()) / "nb_combined.cpp"
    flags = tuple(f for f in nanobind_flags() if f != "-shared")
    return f"nanobind {nanobind.__version__}\n{core.read_text()}", flags, core


def _nanobind_core_dir() -> str:
    text, flags, _ = _nanobind_core_spec()
    return f"nanobind-core-{cache_key('nanobind-core', text, flags)}"


def build_nanobind_core() -> tuple[Path, str, float, bool]:
    """Compile nanobind's core (`src/nb_combined.cpp`, shipped in the wheel) once into an object file.

    nanobind's CMake helper builds this as a static library `libnanobind`; here the same source is
    compiled with the same flags as every module (minus `-shared`, plus `-c`) and cached by
    nanobind's version. Returns (object file, log, seconds, cached).
    """
    _require("nanobind", "the nanobind technique")
    cxx = find_compiler()
    text, flags, core = _nanobind_core_spec()
    path, log, seconds, cached, _ = _artefact_build(
        "nanobind-core", text, flags, "libnanobind.o", ".txt",
        lambda src, out: [cxx, *flags, "-c", str(core), "-o", str(out)])
    return path, log, seconds, cached


def build_nanobind(source: str | None = None) -> BuildResult:
    """Compile the nanobind source into a CPython extension module (linking the cached core) and import it.

    `seconds` is the module's own compile; the one-off core compile is added when it ran in this call.
    """
    _require("nanobind", "the nanobind technique")
    source = resolve_source("nanobind", source)
    cxx = find_compiler()
    core, core_log, core_s, _ = build_nanobind_core()
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    flags = nanobind_flags()
    path, log, seconds, cached, key = _artefact_build(
        "nanobind", source, flags + (core.parent.name,), f"saxpy_nanobind{suffix}", ".cpp",
        lambda src, out: [cxx, *flags, str(src), str(core), "-o", str(out)])
    if ("nanobind", key) not in _LOADED:
        module = _import_extension("saxpy_nanobind", path, "NB_MODULE")
        _LOADED[("nanobind", key)] = BuildResult("nanobind", path, seconds, cached, log, module)
    return BuildResult("nanobind", path, seconds + core_s, cached and core_s == 0, core_log + log,
                       _LOADED[("nanobind", key)].module)


def _import_extension(name: str, path: Path, macro: str) -> Any:
    # The module name must match the one in the source's PYBIND11_MODULE/NB_MODULE(name, m).
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    try:
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as exc:
        raise BuildError(f"The extension compiled but could not be imported ({exc}). "
                         f"Keep the module name `{name}` in {macro}.") from exc
    if not hasattr(module, "saxpy"):
        raise BuildError("The extension has no `saxpy` function: keep `m.def(\"saxpy\", ...)`.")
    return module


def torch_build_dir(source: str | None = None) -> Path:
    """The folder load_inline builds the torch extension in for `source` (shipped by default)."""
    source = resolve_source("torch", source)
    return cache_root() / f"torch-{cache_key('torch', source, TORCH_CFLAGS)}"


def is_built(way: str, source: str | None = None) -> bool:
    """True when `way` is already compiled for `source`, so running it costs no compile time."""
    source = resolve_source(way, source)
    if way == "torch":
        folder = torch_build_dir(source)
        return any(folder.glob("saxpy_torch_*.so")) if folder.exists() else False
    if way == "ctypes":
        key, filename = cache_key(way, source, CXXFLAGS), "libsaxpy.so"
    elif way == "cuda":
        key, filename = cache_key(way, source, NVCCFLAGS), "libsaxpy_cuda.so"
    else:
        import importlib.util as iu

        if iu.find_spec(way) is None:  # the pybind11 or nanobind package
            return False
        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        if way == "pybind11":
            key, filename = cache_key(way, source, pybind11_flags()), f"saxpy_pybind{suffix}"
        else:
            key, filename = cache_key(way, source, nanobind_flags() + (_nanobind_core_dir(),)), f"saxpy_nanobind{suffix}"
    return (cache_root() / f"{way}-{key}" / filename).exists()


def build_torch(source: str | None = None) -> BuildResult:
    """Build the torch extension with `load_inline` (ninja) in a cached folder and return the module.

    The first build compiles torch's headers (~1 min on 2 cores); later calls find ninja's outputs
    up to date and only load the library.
    """
    _require("torch", "the torch load_inline technique")
    _require("ninja", "torch.utils.cpp_extension (it drives the build with ninja)")
    from torch.utils import cpp_extension

    source = resolve_source("torch", source)
    find_compiler()
    folder = torch_build_dir(source)
    key = folder.name.split("-", 1)[1]
    if ("torch", key) in _LOADED:
        hit = _LOADED[("torch", key)]
        return BuildResult("torch", folder, 0.0, True, f"# already loaded from {folder}\n", hit.module)
    with _locked(folder):
        cached = any(folder.glob("saxpy_torch_*.so"))
        start = time.perf_counter()
        try:
            module = cpp_extension.load_inline(
                name=f"saxpy_torch_{key}", cpp_sources=[source], functions=["saxpy"],
                extra_cflags=list(TORCH_CFLAGS), build_directory=str(folder), verbose=False)
        except RuntimeError as exc:
            # load_inline raises RuntimeError carrying ninja's and the compiler's output.
            raise CompileFailed(f"torch load_inline failed: {str(exc).splitlines()[0]}", str(exc)) from exc
        seconds = time.perf_counter() - start
    ninja = folder / "build.ninja"
    log = (f"# torch.utils.cpp_extension.load_inline(name='saxpy_torch_{key}', functions=['saxpy'], "
           f"extra_cflags={list(TORCH_CFLAGS)}, build_directory='{folder}')\n"
           + (f"# ninja found everything up to date (cache hit), loaded in {seconds:.2f} s\n" if cached
              else f"# compiled and loaded in {seconds:.2f} s\n")
           + "# build.ninja written by torch:\n"
           + (ninja.read_text() if ninja.exists() else "(none)\n"))
    result = BuildResult("torch", folder, 0.0 if cached else seconds, cached, log, module)
    _LOADED[("torch", key)] = result
    return result


def build_cuda(source: str | None = None) -> BuildResult:
    """Compile the CUDA source with nvcc into a shared library and load it with ctypes.

    Compiling needs only nvcc; running needs a GPU and driver, checked separately by
    `cuda_devices`.
    """
    import ctypes

    source = resolve_source("cuda", source)
    nvcc = find_compiler("cuda")
    path, log, seconds, cached, key = _artefact_build(
        "cuda", source, NVCCFLAGS, "libsaxpy_cuda.so", ".cu",
        lambda src, out: [nvcc, *NVCCFLAGS, str(src), "-o", str(out)])
    if ("cuda", key) not in _LOADED:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise BuildError(f"The CUDA library compiled but could not be loaded ({exc}). "
                             "Is the CUDA runtime (libcudart) on the library path?") from exc
        lib.cuda_device_count.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.cuda_device_count.restype = ctypes.c_int
        _LOADED[("cuda", key)] = BuildResult("cuda", path, seconds, cached, log, lib)
    return BuildResult("cuda", path, seconds, cached, log, _LOADED[("cuda", key)].module)


def cuda_devices(lib: Any) -> tuple[int, str]:
    """Ask the CUDA runtime inside the built library how many GPUs it sees.

    Returns:
        (count, message): count is -1 when the runtime reports an error, with its own message.
    """
    import ctypes

    buf = ctypes.create_string_buffer(256)
    count = lib.cuda_device_count(buf, len(buf))
    return count, buf.value.decode(errors="replace")


def _require(module: str, purpose: str) -> Any:
    from shared.optional import require

    return require(module, slug="cpp_wrapping", purpose=purpose)
