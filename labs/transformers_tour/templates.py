"""Chat templates the suite did not write, rendered under a time, memory and size budget.

A chat template is a small Jinja program stored with a tokenizer, written by whoever published the
tokenizer (a hub repo, an uploaded folder). transformers renders it in Jinja's sandbox, which
blocks file and attribute access but bounds neither time nor memory: a 150-byte template with two
nested ``range(100000)`` loops keeps a CPU busy for hours. So:

- templates the suite ships (the tiny models built by `tiny.py`) render in this process, as before;
- any other template renders in a child process that is killed when it runs past its budget
  (`budget_seconds`: a few seconds on a shared server), with its memory capped and its text
  capped (`MAX_OUTPUT_CHARS`); a template above `MAX_TEMPLATE_CHARS` is refused unread.

On Linux the child is a fork of this process (transformers is already imported there, so it starts
in milliseconds); elsewhere it is a fresh interpreter running this file. Either way the rendering
is transformers' own `render_jinja_template`, so the text is the one `apply_chat_template` gives.
No gradio import, and no package-relative import (the fresh interpreter runs this file directly).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from typing import Any

MAX_TEMPLATE_CHARS = 64 * 1024  # real chat templates are 1-20 kB
MAX_OUTPUT_CHARS = 64 * 1024  # the messages are capped at a few thousand characters
SHARED_BUDGET_S = 3.0  # a real template renders in milliseconds
LOCAL_BUDGET_S = 20.0
CHILD_EXTRA_MEMORY = 512 * 1024**2  # bytes the child may allocate on top of what it inherits
SPAWN_ALLOWANCE_S = 15.0  # a fresh interpreter (no fork) first imports transformers
_fork_lock = threading.Lock()  # one fork at a time: no child inherits another child's pipe


class TemplateBudgetExceeded(ValueError):
    """The template ran past its time budget or memory cap and was stopped."""


def budget_seconds() -> float:
    """Seconds a template from outside the suite may take: short on a shared server."""
    from shared.serving import is_shared

    return SHARED_BUDGET_S if is_shared() else LOCAL_BUDGET_S


def template_of(tokenizer: Any) -> str:
    """The chat template string `apply_chat_template` would use (the default of several)."""
    template = tokenizer.get_chat_template()
    if not isinstance(template, str):
        raise ValueError("The tokenizer's chat template is not text.")
    return template


def render(tokenizer: Any, messages: list[dict[str, str]], *, add_generation_prompt: bool, trusted: bool,
           name: str = "this tokenizer", seconds: float | None = None) -> str:
    """Render `messages` with the tokenizer's chat template, budgeted unless `trusted`.

    Args:
        trusted: The template was written by the suite (a tiny model): render it here.
        name: What to call the tokenizer in messages (the model reference).
        seconds: The time budget (default `budget_seconds()`).

    Raises:
        ValueError: The template is too long, failed, or produced too much text.
        TemplateBudgetExceeded: It ran past its time budget or memory cap.
    """
    if trusted:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    template = template_of(tokenizer)
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ValueError(f"The chat template of {name} is {len(template):,} characters; templates from outside "
                         f"this suite are rendered only up to {MAX_TEMPLATE_CHARS:,} characters.")
    job = {"template": template, "messages": messages, "add_generation_prompt": bool(add_generation_prompt),
           # The special tokens a template may read ({{ bos_token }}), as plain text.
           "specials": json.loads(json.dumps(dict(tokenizer.special_tokens_map), default=str))}
    seconds = budget_seconds() if seconds is None else float(seconds)
    reply = _run_forked(job, seconds) if _can_fork() else _run_spawned(job, seconds)
    return _answer(reply, name, seconds)


# ---------------------------------------------------------------- the child's side


def render_job(job: dict[str, Any]) -> dict[str, Any]:
    """Render one job with transformers' own renderer; the reply says the text or what went wrong."""
    from transformers.utils.chat_template_utils import render_jinja_template

    try:
        rendered, _ = render_jinja_template(conversations=[job["messages"]], chat_template=job["template"],
                                            add_generation_prompt=job["add_generation_prompt"], **job["specials"])
    except MemoryError:
        return {"memory": True}
    except Exception as exc:  # noqa: BLE001 - a template raises anything (TemplateError, TypeError...)
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]}
    text = rendered[0]
    if len(text) > MAX_OUTPUT_CHARS:
        return {"too_long": len(text)}
    return {"text": text}


def _limit_child(seconds: float) -> None:
    """Cap the child's memory (what it has plus `CHILD_EXTRA_MEMORY`) and CPU time (a backstop)."""
    try:
        import resource
    except ImportError:  # Windows: the parent's timeout is the only bound
        return
    size = _address_space()
    if size:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        soft = size + CHILD_EXTRA_MEMORY
        if hard == resource.RLIM_INFINITY or soft <= hard:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    cpu = int(seconds) + 2
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard == resource.RLIM_INFINITY or cpu <= hard:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))


def _address_space() -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _child_main() -> None:
    """A fresh interpreter's entry: one job as JSON on stdin, the reply as JSON on stdout."""
    job = json.loads(sys.stdin.read())
    _limit_child(job.pop("seconds"))
    sys.stdout.write(json.dumps(render_job(job)))


# ---------------------------------------------------------------- the parent's side


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def _run_forked(job: dict[str, Any], seconds: float) -> dict[str, Any] | None:
    """Render in a fork of this process; None when it ran out of time (it is then killed)."""
    with _fork_lock:
        read_fd, write_fd = os.pipe()
        with warnings.catch_warnings():  # Python 3.12+ warns about forking a threaded process: this
            warnings.simplefilter("ignore", DeprecationWarning)  # child only renders text, then _exits
            pid = os.fork()
        if pid == 0:  # the child: render, write the reply, leave without running any cleanup
            code = 1
            try:
                os.close(read_fd)
                os.closerange(3, write_fd)
                os.closerange(write_fd + 1, 1 << 16)
                _limit_child(seconds)
                data = json.dumps(render_job(job)).encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(write_fd, view):]
                code = 0
            except MemoryError:
                code = 3
            finally:
                os._exit(code)
        os.close(write_fd)
    try:
        return _read_reply(read_fd, pid, seconds)
    finally:
        os.close(read_fd)


def _read_reply(read_fd: int, pid: int, seconds: float) -> dict[str, Any] | None:
    end = time.monotonic() + seconds
    chunks, size, limit = [], 0, 8 * MAX_OUTPUT_CHARS + 4096  # JSON escapes can grow the text
    finished = False
    while size <= limit:
        left = end - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if not ready:
            break
        chunk = os.read(read_fd, 65536)
        if not chunk:
            finished = True
            break
        chunks.append(chunk)
        size += len(chunk)
    if not finished:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if not finished:
        return None if size <= limit else {"too_long": size}
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        return None
    try:
        return json.loads(b"".join(chunks))
    except ValueError:  # killed by the memory cap (or another signal) before it could answer
        return {"memory": True} if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3 else {"crashed": True}


def _run_spawned(job: dict[str, Any], seconds: float) -> dict[str, Any] | None:
    """Render in a fresh interpreter (no fork on this platform): it first imports transformers."""
    payload = json.dumps({**job, "seconds": seconds})
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = proc.communicate(payload, timeout=seconds + SPAWN_ALLOWANCE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    try:
        return json.loads(out)
    except ValueError:
        return {"crashed": True}


def _answer(reply: dict[str, Any] | None, name: str, seconds: float) -> str:
    if reply is None:
        raise TemplateBudgetExceeded(
            f"The chat template of {name} ran past its {seconds:g} s budget and was stopped; a real chat template "
            "renders in milliseconds. Pick another model (e.g. 'tiny' or an -Instruct model from the list).")
    if "text" in reply:
        return reply["text"]
    if reply.get("memory"):
        raise TemplateBudgetExceeded(f"The chat template of {name} tried to use more than "
                                     f"{CHILD_EXTRA_MEMORY // 1024**2} MB and was stopped. Pick another model.")
    if "too_long" in reply:
        raise ValueError(f"The chat template of {name} produced more than {MAX_OUTPUT_CHARS:,} characters "
                         "from two short messages, so its text is not shown. Pick another model.")
    if "error" in reply:
        raise ValueError(f"The chat template of {name} failed: {reply['error']}")
    raise ValueError(f"The chat template of {name} could not be rendered (its process ended without an "
                     "answer). Pick another model.")


if __name__ == "__main__":
    _child_main()
