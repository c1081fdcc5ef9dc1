"""What every command shares: the consoles, markup-safe printing, and the one place errors become exits."""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import TaskID

from pixbench.errors import PixbenchError
from pixbench.extras import EXTRAS, missing_extra
from pixbench.progress import Progress

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def plain(text: object) -> str:
    """``text`` made safe to print: rich markup escaped, and kept on one line.

    Messages carry paths and user values (``[a-z0-9]``, a file name with a newline); printed
    through rich markup unescaped, they would vanish, change colour or crash the console.
    """
    one_line = str(text).replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")
    return escape(one_line)


def _field(value: object) -> object:
    # numbers keep their type so that format specs such as {:.4f} still apply; nothing else is trusted
    return value if isinstance(value, (int, float)) else plain(value)


def say(template: str, *values: object, to: Console = console, **named: object) -> None:
    """Print one line: ``template`` is rich markup with ``{}`` fields, every value is filled in as plain text.

    The one way commands print what came from the user, the file system, a dataset, a model
    or a result: ``say("[green]built[/green] {} in {}", label, out)``. Values go through
    :func:`plain` (markup escaped, newlines shown as ``\\n``), so a path like ``out[a-z]``
    prints as itself; the line is never wrapped into several.
    """
    text = template.format(*map(_field, values), **{k: _field(v) for k, v in named.items()})
    to.print(text, highlight=False, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """Print one red line on stderr and return the exit to raise."""
    say("[bold red]error:[/bold red] {}", message, to=err_console)
    return typer.Exit(code=1)


_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")  # pixbench.images.atomic_output's temp files
_OUTPUT_OPTIONS = ("out", "output")
_FULL = "free some space, then rerun the same command (finished work is kept)"
_HINTS = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.EROFS: "the file system is read-only; choose another location",
    errno.EACCES: "choose a location you may write to (or a file you may read)",
    errno.EPERM: "choose a location you may write to (or a file you may read)",
    errno.ENOTDIR: "{} is a file, not a folder; choose another path",
    errno.EEXIST: "{} is a file where a folder is needed; move it or choose another path",
    errno.EISDIR: "it is a folder; give the path of a file (inside it, for example)",
    errno.ENOENT: "check the path; its folder may not exist or may not allow new files",
    errno.ENAMETOOLONG: "choose a shorter path",
}


def _shown_path(name: object) -> str | None:
    if name is None:
        return None
    path = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
    head, tail = os.path.split(path)
    temp = _TEMP_NAME.match(tail)
    return os.path.join(head, temp["name"]) if temp else path  # name the file the user asked for, not its temp


def _file_in_the_way(path: str) -> str | None:
    """The nearest of ``path`` and its parents that exists and is not a folder."""
    here = Path(path)
    return next((str(p) for p in (here, *here.parents) if p.exists() and not p.is_dir()), None)


def os_error_message(exc: OSError, options: Mapping[str, Any] | None = None) -> str:
    """One line for an operating-system error: the path, the system's words, and what would work.

    Args:
        exc: The error (``ENOSPC``, ``EROFS``, ``EACCES``, ``ENOTDIR``, ``EISDIR``, ...).
        options: The command's parameters; when the error names no file, the output option is named.
    """
    # a failed rename names the temp file first and the destination second: the destination is the user's path
    path = _shown_path(exc.filename2) if exc.errno == errno.EISDIR and exc.filename2 else None
    path = path or _shown_path(exc.filename)
    code = errno.errorcode.get(exc.errno or -1, str(exc.errno))
    words = f"{exc.strerror or exc} ({code})"
    hint = _HINTS.get(exc.errno or -1, "")
    if "{}" in hint:
        hint = hint.format(_file_in_the_way(path) or "a part of this path") if path else ""
    if path is None:
        given = next((f"-o {options[k]}" for k in _OUTPUT_OPTIONS if options and options.get(k) is not None), None)
        where = f"while writing {given}: " if given else ""
        return f"{where}{words}" + (f"; {hint}" if hint else "")
    return f"{path}: {words}" + (f"; {hint}" if hint else "")


def output_file(option: str, path: Path) -> None:
    """Fail at once, before any work, when ``path`` cannot become the file ``option`` names."""
    if path.is_dir():
        raise fail(f"{option} {path}: is a folder; give the path of the file to write (inside it, for example)")
    blocker = _file_in_the_way(str(path.parent))
    if blocker is not None:
        raise fail(f"{option} {path}: {blocker} is a file, not a folder; choose another path")


def output_folder(option: str, path: Path) -> None:
    """Fail at once, before any work, when ``path`` cannot become the folder ``option`` names."""
    blocker = _file_in_the_way(str(path))
    if blocker is not None:
        what = "is a file" if blocker == str(path) else f"is inside {blocker}, which is a file"
        raise fail(f"{option} {path}: {what}, not a folder; choose another path")


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a command runs, SIGTERM (``kill``, a scheduler's stop) stops it the way Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def interrupt(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a forked child inherited this handler: die as SIGTERM means
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`PixbenchError`, an operating-system error or an interrupt into one line and an exit.

    ``PixbenchError`` and ``OSError`` (disk full, read-only, a file where a folder belongs):
    ``error: ...`` and exit 1. Ctrl-C or SIGTERM: one line and exit 130.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with _sigterm_as_interrupt():
                return fn(*args, **kwargs)
        except PixbenchError as exc:
            raise fail(str(exc)) from None
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] not in EXTRAS:
                raise
            raise fail(str(missing_extra(exc.name))) from None
        except OSError as exc:
            if exc.errno is None:  # not from the operating system: a bug, keep its traceback
                raise
            raise fail(os_error_message(exc, kwargs)) from None
        except KeyboardInterrupt:
            say("[yellow]interrupted[/yellow]; rerun the same command to resume", to=err_console)
            raise typer.Exit(code=130) from None

    return wrapper


@contextlib.contextmanager
def progress_bar(*, console: Console = err_console) -> Iterator[Progress]:
    """A rich progress display for the span of a command, as a :class:`pixbench.progress.Progress`.

    Each phase the library reports gets its own bar; keyword figures (``loss=0.12``) are shown after it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[values]}"),
    )
    with RichProgress(*columns, console=console, transient=True) as bar:
        bars: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int | None, /, **values: float) -> None:
            text = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
            if phase not in bars:
                bars[phase] = bar.add_task(plain(phase), total=total, values=plain(text))
            bar.update(bars[phase], completed=done, total=total, values=plain(text))

        yield report
