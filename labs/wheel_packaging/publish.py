"""How to publish the built files to TestPyPI and PyPI: the exact commands, shown and never run.

Two routes: an API token with `twine upload` from your machine, or trusted publishing from
GitHub Actions (OIDC; no long-lived secret anywhere), whose workflow the generated project ships
in `.github/workflows/publish.yml`. This lab never uploads anything and never asks for a token.
"""

from __future__ import annotations

from labs.wheel_packaging.naming import ProjectSpec


def publish_steps(spec: ProjectSpec) -> str:
    """The publishing walkthrough for `spec`, as Markdown with copy-pasteable commands."""
    name, version = spec.name, spec.version
    return f"""### Publish `{name}` {version}, step by step (shown, not run)

**0. Check what you are about to upload.** Versions are immutable on PyPI: a file name can be
uploaded once, ever, even if you delete it. Rehearse on TestPyPI first.
```bash
python -m pip install --upgrade build twine
rm -rf dist/ && python -m build          # dist/{spec.import_name}-{version}.tar.gz and .whl
python -m twine check --strict dist/*
```

**1a. TestPyPI with an API token.** Create an account on TestPyPI (PyPI's separate rehearsal
index), then an API token (Account settings → API tokens). Keep the token out of files and shell
history: twine asks for it, or reads it from the environment of a CI secret. `-r testpypi` is the
repository name twine already knows; it needs no URL.
```bash
python -m twine upload -r testpypi dist/*
#   username: __token__
#   password: <paste the pypi-... token; it is not echoed>
```
Then install it from TestPyPI's index: fill in TestPyPI's *simple* index URL (shown on TestPyPI's
help pages) for the placeholder:
```bash
python -m pip install -i <TestPyPI simple index URL> --no-deps {name}=={version}
{spec.script}                             # try it from the fresh install
```

**1b. PyPI, the same way** (a separate account and token on PyPI; twine uploads to PyPI by default):
```bash
python -m twine upload dist/*
python -m pip install {name}=={version}
```

**2. Trusted publishing (recommended): no token at all.** On PyPI (and TestPyPI) open
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
`auditwheel repair dist/*.whl` (tag `manylinux_*`) before PyPI accepts them; build one per
platform with `cibuildwheel`.
"""
