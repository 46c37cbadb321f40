"""Checking what was written: the lab's own structural checks, trimesh, the Khronos validator.

What it teaches: each check costs time, so run the one that can tell you
something.

* ``structural_checks`` (always, milliseconds): re-reads the GLB header, chunks
  and JSON, checks every accessor fits its buffer view, indices stay below the
  vertex count, POSITION min/max match the data, and the STL and OBJ sizes match
  the triangle and vertex counts.
* ``trimesh_checks`` (solid mode only, ~1 s at 1024): watertight, consistent
  winding and volume. An open relief is never watertight, so asking trimesh
  about it would only spend time to say "no".
* ``khronos_validate``: the official glTF Validator (npm ``gltf-validator``,
  Node.js) when installed (``.ci/lab-png_to_glb.sh`` installs it); the UI runs it
  after the conversion, so the preview does not wait for it.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np

from .mesh import GLTF_UNITS_PER_MM, ReliefMesh

# Bytes per component of each glTF componentType, and components per accessor type.
_COMPONENT_BYTES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
_TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}

# The Khronos validator: where the lab looks for the npm package, and how long it may run.
HERE = Path(__file__).resolve().parent
VALIDATOR_SCRIPT = HERE / "gltf_validate.mjs"
VALIDATOR_PACKAGE = HERE.parents[1] / ".ci" / "node_modules" / "gltf-validator"
VALIDATOR_INSTALL = "bash .ci/lab-png_to_glb.sh   (Node.js + npm package gltf-validator)"
# A 1024 grid (~40 MB GLB) validates in a few seconds; beyond this the report says it gave up.
VALIDATOR_TIMEOUT_S = 60.0
# Files above this are not sent to the validator (it holds the whole file in memory, several times).
VALIDATOR_MAX_BYTES = 160 * 1024**2


def structural_checks(glb: bytes, mesh: ReliefMesh, *, stl_bytes: int | None = None, obj_text_bytes: int | None = None,
                      obj_blocks: list[tuple[int, int]] | None = None) -> dict:
    """Re-read the written GLB and compare every file with the mesh it came from.

    Args:
        glb: the GLB file's bytes.
        mesh: the mesh the files were written from.
        stl_bytes: size of the written STL (None: no STL was written).
        obj_text_bytes: size of the OBJ text, with `obj_blocks` = (lines, bytes per line) of
            the ``v`` block and of each group's ``f`` block, to check the line counts.

    Returns:
        ``{"passed": bool, "checks": [(name, ok, detail), ...]}``.
    """
    results: list[tuple[str, bool, str]] = []

    def check(name: str, ok: bool, detail: str = "") -> None:
        results.append((name, bool(ok), detail))

    n = len(mesh.vertices)
    magic, version, length = struct.unpack_from("<4sII", glb, 0)
    check("GLB header", magic == b"glTF" and version == 2 and length == len(glb),
          f"magic {magic!r}, version {version}, length {length} of {len(glb)} bytes")
    js_len, js_type = struct.unpack_from("<I4s", glb, 12)
    doc = json.loads(glb[20:20 + js_len])
    bin_at = 20 + js_len
    bin_len, bin_type = struct.unpack_from("<I4s", glb, bin_at)
    check("GLB chunks", js_type == b"JSON" and bin_type == b"BIN\0" and js_len % 4 == 0 and bin_len % 4 == 0
          and bin_at + 8 + bin_len == len(glb) and doc["buffers"][0]["byteLength"] <= bin_len,
          f"JSON {js_len} B, BIN {bin_len} B")
    fits = True
    for acc in doc["accessors"]:
        view = doc["bufferViews"][acc["bufferView"]]
        need = acc["count"] * _COMPONENT_BYTES[acc["componentType"]] * _TYPE_COMPONENTS[acc["type"]]
        fits &= need <= view["byteLength"] and view["byteOffset"] + view["byteLength"] <= bin_len
        fits &= view["byteOffset"] % 4 == 0
    check("accessors fit their buffer views", fits, f"{len(doc['accessors'])} accessors")
    index_max = max((int(f.max()) for f in (mesh.relief_faces, mesh.flat_faces, mesh.base_faces) if len(f)),
                    default=-1)
    check("indices below vertex count", index_max < n, f"largest index {index_max}, {n:,} vertices")
    pos = doc["accessors"][doc["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
    scaled = mesh.vertices * np.float32(GLTF_UNITS_PER_MM)
    lo = [float(scaled[:, i].min()) for i in range(3)]
    hi = [float(scaled[:, i].max()) for i in range(3)]
    check("POSITION min/max match the data", pos["min"] == lo and pos["max"] == hi and pos["count"] == n)
    check("positions finite", bool(np.isfinite(lo).all() and np.isfinite(hi).all()))
    triangles = mesh.triangle_count
    if stl_bytes is not None:
        check("STL size = 84 + 50 x triangles", stl_bytes == 84 + 50 * triangles, f"{triangles:,} triangles")
    if obj_text_bytes is not None and obj_blocks:
        v_lines = obj_blocks[0][0]
        f_lines = sum(lines for lines, _ in obj_blocks[1:])
        body = sum(lines * width for lines, width in obj_blocks)
        # The rest is the header and one "g"/"usemtl" pair per group: a few hundred bytes.
        check("OBJ lines = vertices + triangles", v_lines == n and f_lines == triangles
              and 0 <= obj_text_bytes - body < 512, f"{v_lines:,} v lines, {f_lines:,} f lines")
    return {"passed": all(ok for _, ok, _ in results), "checks": results}


def trimesh_checks(mesh: ReliefMesh) -> dict:
    """Ask trimesh whether the mesh is watertight and consistently wound, and its volume if closed."""
    import trimesh

    tm = trimesh.Trimesh(vertices=mesh.vertices, faces=mesh.faces, process=False)
    watertight = bool(tm.is_watertight)
    return {
        "watertight": watertight,
        "winding_consistent": bool(tm.is_winding_consistent),
        "volume_mm3": float(tm.volume) if watertight else None,
    }


def validator_missing() -> str | None:
    """None when the Khronos glTF Validator can run here, else what to install."""
    if shutil.which("node") is None:
        return f"Node.js is not installed; run {VALIDATOR_INSTALL}"
    package = Path(os.environ.get("GLTF_VALIDATOR_DIR", VALIDATOR_PACKAGE))
    if not package.is_dir():
        return f"the npm package gltf-validator is not installed; run {VALIDATOR_INSTALL}"
    return None


def khronos_validate(path: str | Path, *, timeout: float = VALIDATOR_TIMEOUT_S) -> dict:
    """Run the Khronos glTF Validator on one GLB file.

    Returns:
        ``{"ran": True, "errors": n, "warnings": n, "infos": n, "hints": n,
        "messages": [...first few...], "seconds": s}``, or ``{"ran": False,
        "reason": "..."}`` when it is not installed, the file is too big, or it
        timed out.
    """
    import time

    missing = validator_missing()
    if missing:
        return {"ran": False, "reason": missing}
    size = Path(path).stat().st_size
    if size > VALIDATOR_MAX_BYTES:
        return {"ran": False, "reason": f"the GLB is {size / 1e6:.0f} MB; the validator is run up to "
                                        f"{VALIDATOR_MAX_BYTES / 1e6:.0f} MB (lower the resolution)"}
    package = Path(os.environ.get("GLTF_VALIDATOR_DIR", VALIDATOR_PACKAGE))
    t = time.perf_counter()
    try:
        proc = subprocess.run(["node", str(VALIDATOR_SCRIPT), str(package), str(path)], capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ran": False, "reason": f"the validator took longer than {timeout:.0f} s"}
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
        return {"ran": False, "reason": f"the validator failed ({proc.returncode}): {last}"}
    report = json.loads(proc.stdout)
    if "error" in report:
        return {"ran": True, "errors": 1, "warnings": 0, "infos": 0, "hints": 0,
                "messages": [report["error"]], "seconds": seconds}
    issues = report.get("issues", {})
    return {
        "ran": True,
        "errors": issues.get("numErrors", 0),
        "warnings": issues.get("numWarnings", 0),
        "infos": issues.get("numInfos", 0),
        "hints": issues.get("numHints", 0),
        "messages": [f"{m.get('code')}: {m.get('message')} {m.get('pointer', '')}".strip()
                     for m in issues.get("messages", [])[:8]],
        "validator": report.get("validatorVersion", ""),
        "seconds": seconds,
    }


def summary_markdown(structural: dict | None, khronos: dict | None = None) -> str:
    """The validation summary the UI shows."""
    lines = []
    if structural is not None:
        verdict = "passed" if structural["passed"] else "**FAILED**"
        lines.append(f"**Structural checks (this lab's own):** {verdict}")
        lines += [f"- {'✓' if ok else '✗'} {name}" + (f" ({detail})" if detail else "")
                  for name, ok, detail in structural["checks"]]
    if khronos is not None:
        if khronos.get("ran"):
            verdict = "valid" if khronos["errors"] == 0 else f"**{khronos['errors']} error(s)**"
            lines.append(f"\n**Khronos glTF Validator {khronos.get('validator', '')}:** {verdict}, "
                         f"{khronos['warnings']} warning(s), {khronos['infos']} info(s), {khronos['hints']} hint(s) "
                         f"in {khronos['seconds']:.1f} s")
            lines += [f"- {m}" for m in khronos["messages"]]
        else:
            lines.append(f"\n**Khronos glTF Validator:** not run: {khronos['reason']}")
    return "\n".join(lines)
