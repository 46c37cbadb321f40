"""Serve every registered lab as a page of one Gradio app: a home page plus one page per lab.

    python launcher.py                      # all labs on http://127.0.0.1:7860
    python launcher.py --labs png_to_glb    # only some labs
    python launcher.py --port 8000 --share  # another port, plus a public share link
    python launcher.py --host 0.0.0.0       # a workshop server: shared mode turns on by itself

Every lab has its own URL, ``/<slug>`` (e.g. http://127.0.0.1:7860/png_to_glb), listed in the
navigation bar on every page; the older ``/?lab=<slug>`` links redirect there.

Each lab's Blocks is built on its own (by importing ``labs.<slug>.app``) and then rendered as a
page (gradio's multipage routes): a browser loads only the page it opens, so the home page does
not carry ten labs' components. A lab that fails to import still gets a page that says why and
what to install, so one broken lab never takes the suite down. Heavy libraries are imported by
the labs' handlers, not here, so start-up stays close to a bare gradio app.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import traceback
from types import ModuleType
from typing import Sequence

import gradio as gr

from labs import LABS, Lab, get
from shared import serving
from shared.optional import install_hint
from shared.ui import deferred_app, serve

log = logging.getLogger("ml_labs")

HOME_ID = "home"


def select_labs(slugs: str | Sequence[str] | None) -> list[Lab]:
    """Return the registry entries for a comma-separated string or list of slugs (all if empty).

    Raises:
        ValueError: For an unknown slug; the message lists the registered ones.
    """
    if not slugs:
        return list(LABS)
    names = [s.strip() for s in (slugs.split(",") if isinstance(slugs, str) else slugs) if s.strip()]
    if not names:
        raise ValueError(f"no lab named in {slugs!r}; registered labs: {', '.join(lab.slug for lab in LABS)}")
    try:
        wanted = {get(name).slug for name in names}
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    return [lab for lab in LABS if lab.slug in wanted]


def agenda_markdown(labs: Sequence[Lab]) -> str:
    """The home tab: what the suite is and a workshop agenda built from the registry."""
    rows = "\n".join(
        f"| {lab.number} | {lab.emoji} **[{lab.title}]({lab.slug})** | {lab.summary} | {'; '.join(lab.learn)} | {lab.minutes} |"
        for lab in labs
    )
    total = sum(lab.minutes for lab in labs)
    return f"""# ML engineering labs
Hands-on labs for the skills ML engineers use every day. Every lab is a real tool: it runs real
libraries, real files, real processes and real servers on this machine, and shows you the code
that just ran.

**How to use it:** pick a lab in the bar above (or in the table), click one of its examples, then
change the settings and read the "Show the code" panel. Each lab also runs alone (`python -m labs.<slug>.app`) and as its own
Hugging Face Space (`python spaces/export.py <slug> --out DIR`).

## Workshop agenda (about {total} minutes)
| # | Lab | What it does | What you will learn | Min |
|---|---|---|---|---|
{rows}

Tip for teachers: every lab has its own address, `/<slug>`, e.g. `/{labs[0].slug if labs else 'png_to_glb'}`
(older `?lab=<slug>` links still work).
"""


def import_lab_app(slug: str) -> ModuleType:
    """Execute ``labs/<slug>/app.py`` as a private module and return it.

    Rendering a Blocks into the suite renumbers its events, after which the same object can no
    longer be launched on its own. A private copy (not stored in ``sys.modules``) keeps
    ``import labs.<slug>.app`` elsewhere in the process (tests, notebooks) launchable. The lab's
    logic modules are imported normally and shared.
    """
    spec = importlib.util.find_spec(f"labs.{slug}.app")
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named 'labs.{slug}.app'")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_lab(lab: Lab) -> gr.Blocks:
    """Build a lab's `demo` for the suite; on failure, a Blocks that explains it."""
    try:
        return import_lab_app(lab.slug).demo
    except Exception as exc:  # the suite must start even if one lab is broken
        log.error("lab %s failed to load:\n%s", lab.slug, traceback.format_exc())
        with gr.Blocks(title=lab.title) as fallback:
            gr.Markdown(
                f"# {lab.emoji} Lab {lab.number} · {lab.title}\n"
                f"⚠️ This lab could not be loaded: `{type(exc).__name__}: {exc}`.\n\n"
                f"If a package is missing, install the lab's requirements:\n\n"
                f"```\n{install_hint(lab.slug)}\n```"
            )
        return fallback


def lab_for_query(params: dict[str, str], labs: Sequence[Lab] = LABS) -> str | None:
    """The slug named by an old-style ``?lab=<slug>`` link, if this suite serves it (else None)."""
    wanted = (params.get("lab") or "").strip()
    return wanted if any(lab.slug == wanted for lab in labs) else None


# The home page's `?lab=<slug>` redirect runs in the browser (no round trip): the slugs it may go
# to are written into the script, so nothing else in the address is ever followed.
_REDIRECT_JS = """
() => {
  const slugs = %s;
  const wanted = new URLSearchParams(window.location.search).get("lab");
  if (wanted && slugs.includes(wanted)) {
    const base = window.location.pathname.replace(/\\/?$/, "/");
    window.location.replace(base + wanted);
  }
}
"""


def build(slugs: str | Sequence[str] | None = None) -> gr.Blocks:
    """Build the suite: a home page plus one page (route ``/<slug>``) per selected lab.

    Each lab's Blocks is built first, outside the parent, then rendered inside its route
    (building it inside the parent would render it twice in gradio 6).
    """
    labs = select_labs(slugs)
    with deferred_app():  # only launch() needs a web app; skip the ones each Blocks would build
        return _compose(labs, [load_lab(lab) for lab in labs])


def _compose(labs: Sequence[Lab], children: Sequence[gr.Blocks]) -> gr.Blocks:
    import json

    with gr.Blocks(title="ML engineering labs") as suite:
        gr.Navbar(main_page_name="🏠 Home")
        gr.Markdown(agenda_markdown(labs), elem_id="suite_home")
        suite.load(None, js=_REDIRECT_JS % json.dumps([lab.slug for lab in labs]))
    for lab, child in zip(labs, children):
        with suite.route(lab.nav, f"/{lab.slug}"):
            child.render()
    return suite


def port_number(text: str) -> int:
    """A TCP port from the command line (1-65535), for argparse."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve the ML engineering labs as pages of one app.")
    parser.add_argument("--labs", default=None, help="comma-separated slugs to serve (default: all)")
    parser.add_argument("--host", default=None, help="address to bind (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio share link")
    parser.add_argument("--shared-mode", choices=("auto", "on", "off"), default="auto",
                        help="treat visitors as untrusted (see README, 'Serving the suite to others'); auto: on "
                             "for a Space, a non-loopback --host or --share (default: auto)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.labs is not None and not args.labs.strip(","):
        raise SystemExit(f"--labs needs at least one slug; registered labs: {', '.join(lab.slug for lab in LABS)}")
    if args.shared_mode != "auto":
        os.environ[serving.SHARED_ENV] = "1" if args.shared_mode == "on" else "0"
    # Decide the mode before the labs are built, so their headers and controls match it.
    serving.mark_served(args.host or os.environ.get("GRADIO_SERVER_NAME"), share=args.share)
    try:
        suite = build(args.labs)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    try:
        serve(suite, host=args.host, port=args.port, share=args.share)
    except (OSError, OverflowError, ValueError) as exc:  # port in use or not allowed, bad address
        raise SystemExit(f"Could not start the server: {exc}") from None


if __name__ == "__main__":
    main()
