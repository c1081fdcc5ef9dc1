"""What every command shares: the consoles and the one place errors become exits."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

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


def fail(message: str) -> typer.Exit:
    """Print one red line on stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/bold red] {plain(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code=1)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn a :class:`PixbenchError` (or a ``ValueError`` from validation) into one line and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except PixbenchError as exc:
            raise fail(str(exc)) from None
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] not in EXTRAS:
                raise
            raise fail(str(missing_extra(exc.name))) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/yellow]; rerun the same command to resume")
            raise typer.Exit(code=130) from None

    return wrapper


@contextlib.contextmanager
def progress_bar(*, console: Console = err_console) -> Iterator[Progress]:
    """A rich progress display for the span of a command, as a :class:`pixbench.progress.Progress`.

    Each phase the library reports gets its own bar; keyword figures (``loss=0.12``) are shown after it.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[values]}"))
    with RichProgress(*columns, console=console, transient=True) as bar:
        bars: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int | None, /, **values: float) -> None:
            text = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
            if phase not in bars:
                bars[phase] = bar.add_task(escape(phase), total=total, values=escape(text))
            bar.update(bars[phase], completed=done, total=total, values=escape(text))

        yield report
