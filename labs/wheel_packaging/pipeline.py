"""The lab's sequences, step by step: train -> generate -> build -> inspect and check -> install and run.

Each sequence is a plain function (no gradio). `build_and_install` is a generator that yields one
result object per finished step, so a UI can show each step as it lands; `build_flavours` and
`build_licences` return one result. Progress goes to an optional ``progress(fraction, message)``
callable. Scratch folders are removed when a sequence ends; the files offered for download are
copied to the download shelf first (`workdir.keep`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from labs.wheel_packaging import (building, checks, index, inspection, naming, project, release, sourceless,
                                  tinymodels, tryout, workdir)
from shared.serving import Deadline, request_budget

Progress = Callable[[float, str], Any]


def _quiet(fraction: float, message: str) -> None:
    """The default progress callback: report nothing."""


def example_of(config: dict) -> tuple[Any, list[str]]:
    """The first recorded example of a trained model: the `predict()` input and the console-script args."""
    example = config["examples"][0]["input"]
    cli = [example] if isinstance(example, str) else [str(v) for v in example]
    return example, cli


def shown_build_command(built: building.BuildResult, dist: Path) -> str:
    """The build command as a reader would type it in the project folder (scratch paths replaced)."""
    return " ".join(["python", *built.command[1:-1], "."]).replace(str(dist), "dist")


def build_log(built: building.BuildResult, dist: Path) -> str:
    """The build's shell-style log: the command, what was used, then the real output."""
    return f"$ {shown_build_command(built, dist)}\n# {built.describe()}\n\n{built.log.strip()}"


# ---- 1. The main sequence ----------------------------------------------------------------------

@dataclass
class Generated:
    """Training and project generation finished."""

    spec: naming.ProjectSpec
    trained: tinymodels.TrainedModel
    project: project.Project
    zip_download: str  # the project zip, on the download shelf
    files: dict[str, str]  # every generated file as text, by path


@dataclass
class Built:
    """`python -m build` produced the sdist and the wheel."""

    build: building.BuildResult
    log: str  # see `build_log`
    downloads: list[str]  # sdist and wheel, on the download shelf


@dataclass
class Inspected:
    """The wheel was read and checked (RECORD hashes, twine, check-wheel-contents)."""

    report: inspection.WheelReport
    checks: list


@dataclass
class Installed:
    """The wheel was installed in a fresh venv, its `predict()`, console script and tests run."""

    result: tryout.TryoutResult
    example: Any


def build_and_install(spec: naming.ProjectSpec, *, isolated: bool = False,
                      progress: Progress = _quiet) -> Iterator[Generated | Built | Inspected | Installed]:
    """Train, generate, build, inspect and check, install and run; yield each step's result as it finishes.

    Raises:
        ValueError: From the step that failed (`building.BuildError`, `tryout.InstallError`, ...), with
            the tool's own message.
        ImportError: If a tool a step needs is missing.
    """
    progress(0.05, "Training the tiny model with torch")
    trained = tinymodels.train(spec.model)
    proj = project.render_project(spec, trained)
    with workdir.scratch() as work:
        yield Generated(spec=spec, trained=trained, project=proj,
                        zip_download=workdir.keep(project.zip_project(proj, work))[0],
                        files={path: proj.text(path) for path in proj.files})

        progress(0.3, "Building the sdist and the wheel (python -m build)")
        root = project.write_project(proj, work / "project")
        built = building.run_build(root, work / "dist", isolated=isolated)
        yield Built(build=built, log=build_log(built, work / "dist"), downloads=workdir.keep(built.sdist, built.wheel))

        progress(0.55, "Inspecting the wheel and running twine / check-wheel-contents")
        yield Inspected(report=inspection.inspect_wheel(built.wheel),
                        checks=checks.run_checks(built.wheel, built.sdist, spec.import_name))

        progress(0.75, "Installing into a fresh venv and running predict()")
        example, cli = example_of(trained.config)
        result = tryout.install_and_run(built.wheel, work, import_name=spec.import_name, script=spec.script,
                                        example=example, cli_args=cli, project_dir=root)
        yield Installed(result=result, example=example)


# ---- 2. Pure, bytecode-only and native wheels --------------------------------------------------

def has_source(report: inspection.WheelReport) -> bool:
    """Whether a wheel ships any ``.py`` file (a bytecode-only wheel must not)."""
    return any(path.endswith(".py") for path, _, _ in report.files)


@dataclass
class Flavours:
    """The three wheels of one project, each built, installed and run in its own fresh venv."""

    builds: list[sourceless.FlavourBuild]
    matrix_headers: list[str]
    matrix_rows: list[list[str]]
    bytecode_has_source: bool  # True would be a bug: the bytecode wheel must hold no .py
    disassembly: str  # what the bytecode wheel's .pyc still tells a reader
    symbols: str  # what the native wheel's shared library still tells a reader
    repair: release.Repair | None  # auditwheel show/repair of the native wheel (None: not available here)
    repair_note: str  # why there is no repair, when there is none
    log: str  # every build, install and run, then check-wheel-contents on the bytecode wheel
    downloads: list[str] = field(default_factory=list)  # the three wheels, on the download shelf


def build_flavours(spec: naming.ProjectSpec, *, isolated: bool = False, progress: Progress = _quiet) -> Flavours:
    """Build the pure, bytecode-only and native wheels of `spec`, install and run each one."""
    progress(0.05, "Training the tiny model with torch")
    trained = tinymodels.train(spec.model)
    proj = project.render_project(spec, trained)
    example, cli = example_of(trained.config)
    with workdir.scratch() as work:
        builds, logs = [], []
        for i, flavour in enumerate(project.FLAVOURS):
            progress(0.1 + 0.25 * i, f"Building the {flavour} wheel")
            build = sourceless.build_flavour(proj, flavour, work, isolated=isolated)
            builds.append(build)
            progress(0.2 + 0.25 * i, f"Installing the {flavour} wheel in a fresh venv")
            result = tryout.install_and_run(build.build.wheel, work / f"try-{flavour}", import_name=spec.import_name,
                                            script=spec.script, example=example, cli_args=cli,
                                            project_dir=build.project_dir)
            if flavour == "native":
                sourceless.load_from_another_program(result, spec.import_name)
            logs.append(f"######## {flavour}: {build.build.wheel.name}\n{result.log()}")
        headers, rows = sourceless.file_matrix(builds)
        bytecode = next(b for b in builds if b.flavour == "bytecode")
        native = next(b for b in builds if b.flavour == "native")
        contents = checks.wheel_contents_check(bytecode.build.wheel, spec.import_name)
        progress(0.85, "auditwheel show / repair of the native wheel (manylinux tag)")
        repaired, note = None, ""
        try:
            repaired = release.repair(native.build.wheel, work / "wheelhouse")
        except ImportError as exc:  # MissingDependency: the other wheels are still worth showing
            note = str(exc)
        return Flavours(builds=builds, matrix_headers=headers, matrix_rows=rows,
                        bytecode_has_source=has_source(bytecode.report),
                        disassembly=sourceless.disassemble(bytecode.build.wheel, spec.import_name),
                        symbols=sourceless.exported_symbols(native.build.wheel, work),
                        repair=repaired, repair_note=note,
                        log="\n\n".join(logs) + "\n\n" + checks.checks_text([contents]),
                        downloads=workdir.keep(*(b.build.wheel for b in builds),
                                               repaired.repaired if repaired else None))


# ---- 3. The same project under each licence ----------------------------------------------------

@dataclass
class LicenceWheel:
    """One wheel of the licence comparison."""

    license: str
    report: inspection.WheelReport
    first_source_line: str  # the SPDX header of model.py


def build_licences(name: str, version: str, model: str, holder: str, *, isolated: bool = False,
                   progress: Progress = _quiet) -> list[LicenceWheel]:
    """Build the same project under every licence in `naming.LICENSES` (wheels only) and read each wheel.

    Raises:
        ValueError: If the name, version, holder or model is not allowed (`naming.validate_spec`).
    """
    wheels: list[LicenceWheel] = []
    trained = None
    with workdir.scratch() as work:
        for i, license in enumerate(naming.LICENSES):
            spec = naming.validate_spec(name, version, license, holder, model)
            if trained is None:
                progress(0.05, "Training the tiny model with torch")
                trained = tinymodels.train(spec.model)
            progress(0.2 + 0.4 * i, f"Building the {license} wheel")
            proj = project.render_project(spec, trained)
            root = project.write_project(proj, work / license / "project")
            built = building.run_build(root, work / license / "dist", isolated=isolated, sdist=False)
            wheels.append(LicenceWheel(license=license, report=inspection.inspect_wheel(built.wheel),
                                       first_source_line=proj.text(f"src/{spec.import_name}/model.py").split("\n")[0]))
    return wheels


# ---- 4. Publish for real, to the lab's own index on 127.0.0.1 -----------------------------------

@dataclass
class Published:
    """A build published to a local pypiserver, installed from it, and a re-upload refused."""

    index_url: str  # where the index listened (it is stopped now)
    files: list[str]  # what was uploaded
    listing: str  # the simple-index page pip read, as file names
    prediction: dict  # predict() in the venv installed from the index
    refused: bool  # the re-upload of the same version was refused
    refusal: str  # the index's own words
    reproducibility: release.Reproducibility
    steps: list[index.Step]
    server_log: str
    seconds: float
    downloads: list[str] = field(default_factory=list)

    def log(self) -> str:
        """Every command against the index, then the server's access log."""
        return ("\n\n".join(s.log() for s in self.steps)
                + f"\n\n# pypiserver access log (last lines)\n{self.server_log}")


def _left(deadline: Deadline, cap: float) -> float:
    deadline.check()
    return max(1.0, min(cap, deadline.left()))


def publish_locally(spec: naming.ProjectSpec, *, isolated: bool = False, progress: Progress = _quiet) -> Published:
    """Build twice (reproducible?), upload with twine to a local index, pip install from it, re-upload.

    The index is the lab's own pypiserver on 127.0.0.1 (`index.local_index`), started for this run
    and stopped when it ends; nothing goes to PyPI. The whole run has the request's time budget
    (60 s on a shared server).

    Raises:
        ValueError: A step failed (build, upload, install), with the tool's own message; or the
            budget ran out (`BudgetExceeded`).
        ImportError: pypiserver, passlib or twine is missing.
    """
    deadline = Deadline(request_budget(), what="the local publish")
    index.check_tools()
    start = time.perf_counter()
    progress(0.05, "Training the tiny model with torch")
    trained = tinymodels.train(spec.model)
    proj = project.render_project(spec, trained)
    with workdir.scratch() as work:
        root = project.write_project(proj, work / "project")
        progress(0.2, f"Building twice with SOURCE_DATE_EPOCH={building.SOURCE_DATE_EPOCH}")
        first = building.run_build(root, work / "dist", isolated=isolated,
                                   timeout=_left(deadline, building.BUILD_TIMEOUT_S))
        second = building.run_build(root, work / "dist-again", isolated=isolated,
                                    timeout=_left(deadline, building.BUILD_TIMEOUT_S))
        repro = release.compare_builds([first.sdist, first.wheel], [second.sdist, second.wheel],
                                       epoch=building.SOURCE_DATE_EPOCH)
        files = [first.sdist, first.wheel]
        progress(0.45, "Starting the local index (pypiserver on 127.0.0.1)")
        with index.local_index(work / "index", timeout=_left(deadline, index.START_TIMEOUT_S)) as idx:
            steps = [index.twine_upload(idx, files, timeout=_left(deadline, index.STEP_TIMEOUT_S))]
            if steps[-1].returncode != 0:
                raise index.IndexRunError(f"twine upload to the local index failed:\n{steps[-1].output[-2000:]}")
            page = index.listing(idx, spec.normalized)
            progress(0.6, "Installing from the local index into a fresh venv")
            venv = work / "fresh-venv"
            steps.append(index.run("Create an empty virtual environment",
                                   [sys.executable, "-m", "venv", "--without-pip", str(venv)],
                                   timeout=_left(deadline, index.STEP_TIMEOUT_S)))
            python = tryout.venv_python(venv)
            steps.append(index.pip_install(idx, python, f"{spec.name}=={spec.version}",
                                           timeout=_left(deadline, index.STEP_TIMEOUT_S)))
            if steps[-1].returncode != 0:
                raise index.IndexRunError(f"pip install from the local index failed:\n{steps[-1].output[-2000:]}")
            example, _ = example_of(trained.config)
            steps.append(index.run("Import it and call predict()",
                                   [str(python), "-c", tryout.PREDICT_PROGRAM, spec.import_name, json.dumps(example)],
                                   timeout=_left(deadline, index.STEP_TIMEOUT_S)))
            if steps[-1].returncode != 0:
                raise index.IndexRunError(f"The installed package failed to run:\n{steps[-1].output[-2000:]}")
            prediction = json.loads(steps[-1].output.strip().splitlines()[-1])
            progress(0.8, "Uploading the same version again (the index must refuse it)")
            again = index.twine_upload(idx, [first.wheel], title="Upload the same version again",
                                       timeout=_left(deadline, index.STEP_TIMEOUT_S))
            steps.append(again)
            server_log = idx.server_log()
            url = idx.url
        return Published(index_url=url, files=[p.name for p in files], listing=page, prediction=prediction,
                         refused=again.returncode != 0 and "already exists" in again.output,
                         refusal=index.refusal(again) if again.returncode != 0 else "(accepted: not expected)",
                         reproducibility=repro, steps=steps, server_log=server_log,
                         seconds=time.perf_counter() - start, downloads=workdir.keep(*files))
