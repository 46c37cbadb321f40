"""How to publish the built files: to a local index for real, then to TestPyPI and PyPI (shown).

The lab rehearses the whole route for real against its own package index on 127.0.0.1
(`pipeline.publish_locally`: twine upload, pip install -i, a refused re-upload); the commands
below name that index once a run has started it. TestPyPI and PyPI are shown, never run: an API
token with `twine upload` from your machine, or trusted publishing from GitHub Actions (OIDC; no
long-lived secret anywhere), whose workflow the generated project ships in
`.github/workflows/publish.yml`. The lab never asks for a token.
"""

from __future__ import annotations

from labs.wheel_packaging.naming import ProjectSpec


TESTPYPI_SIMPLE = "https://test.pypi.org/simple/"  # TestPyPI's PEP 503 index (pip -i)
LOCAL_EXAMPLE = "http://127.0.0.1:PORT/"  # shown until a local run has picked its free port


def publish_steps(spec: ProjectSpec, *, local_url: str | None = None) -> str:
    """The publishing walkthrough for `spec`, as Markdown with copy-pasteable commands.

    Args:
        spec: The project.
        local_url: The local index a run used (``http://127.0.0.1:<port>/``), shown in step 1.
    """
    name, version = spec.name, spec.version
    local = local_url or LOCAL_EXAMPLE
    return f"""### Publish `{name}` {version}, step by step

**0. Check what you are about to upload.** Versions are immutable on PyPI: a file name can be
uploaded once, ever, even if you delete it. Rehearse locally (step 1), then on TestPyPI.
```bash
python -m pip install --upgrade build twine
rm -rf dist/ && python -m build          # dist/{spec.import_name}-{version}.tar.gz and .whl
python -m twine check --strict dist/*
```

**1. Rehearse for real, on a local index** (the button below runs exactly this, on the lab's own
pypiserver at `{local}`, started for the run and stopped after it):
```bash
python -m twine upload --repository-url {local} dist/*         # user 'lab', a password made for the run
python -m pip install -i {local}simple/ --no-deps {name}=={version}   # in a fresh venv
python -m twine upload --repository-url {local} dist/*.whl     # again: refused, the file already exists
```


**2a. TestPyPI with an API token.** Create an account on TestPyPI (PyPI's separate rehearsal
index), then an API token (Account settings → API tokens). Keep the token out of files and shell
history: twine asks for it, or reads it from the environment of a CI secret. `-r testpypi` is the
repository name twine already knows; it needs no URL.
```bash
python -m twine upload -r testpypi dist/*
#   username: __token__
#   password: <paste the pypi-... token; it is not echoed>
```
Then install it from TestPyPI's simple index (`--no-deps`: TestPyPI does not hold your dependencies,
and a same-named package there could be anyone's):
```bash
python -m pip install -i {TESTPYPI_SIMPLE} --no-deps {name}=={version}
{spec.script}                             # try it from the fresh install
```

**2b. PyPI, the same way** (a separate account and token on PyPI; twine uploads to PyPI by default):
```bash
python -m twine upload dist/*
python -m pip install {name}=={version}
```

**3. Trusted publishing (recommended): no token at all.** On PyPI (and TestPyPI) open
*Your projects → {name} → Settings → Publishing* (for a project that does not exist yet:
*Your account → Publishing → Add a pending publisher*) and register: owner, repository,
workflow `publish.yml`, environment `pypi`. Then push a tag:
```bash
git tag v{version} && git push origin v{version}
```
The workflow in `.github/workflows/publish.yml` builds, runs `twine check`, and uploads with
`pypa/gh-action-pypi-publish`, which trades the job's OIDC token (`permissions: id-token: write`)
for a short-lived upload token. It publishes to PyPI; to rehearse on TestPyPI, follow the comment
in the workflow (register the publisher on TestPyPI, environment `testpypi`, and give the action
TestPyPI's upload URL as `repository-url`).

**Sourceless and native wheels:** upload only the wheels (`twine upload dist/*.whl`), never the
sdist of a project you do not want to ship as source. Linux wheels with a compiled library need
`auditwheel repair dist/*.whl` (tag `manylinux_*`) before PyPI accepts them: tab *5* runs it on the
native wheel; build one per platform with `cibuildwheel`.
"""
