"""The Ray engine: a build's per-image work on a Ray cluster (or a local Ray instance).

Same contract as the local engines (:class:`pixbench.builder.engine.Engine`): one
function of a single source image, called on every image somewhere, results yielded
as calls finish. The items (ids and paths, URLs or, for streamed hub datasets, the
encoded bytes; never decoded pixels) are cut into shards of ``shard_size`` images in
the order they arrive; each Ray task runs the same per-image function over one shard
and returns only the small done-record summaries. At most ``2 x`` the cluster's CPUs
shards are in flight, so the driver never lists the whole source.

Byte identity with a local build holds because every image's bytes depend only on the
recipe and the image (see :mod:`pixbench.builder.samples`), provided every node runs the
same pixbench, numpy and Pillow (with the same libjpeg and zlib): each task checks
that against the driver before it writes anything. ``ray`` is imported here only,
and only when the engine runs (the ``[ray]`` extra).

Joining a cluster that uses token authentication (the default of current Ray wherever a
token exists) needs ``RAY_AUTH_MODE=token`` and the token in the driver's process; Ray
itself turns that on only for a cluster it finds on its own (``auto``). So where
``RAY_AUTH_MODE`` is unset and a token is available (``RAY_AUTH_TOKEN``,
``RAY_AUTH_TOKEN_PATH``, or the ``~/.ray/auth_token`` Ray writes for its own clusters), a
join by address uses it (:func:`token_source`); a cluster that refuses the join for want
of a token is named in one line, within seconds, with what to set.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import signal
import socket
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pixbench.errors import DatasetError
from pixbench.extras import require

T = TypeVar("T")
R = TypeVar("R")

#: Images per Ray task unless told otherwise.
DEFAULT_SHARD_SIZE = 64
#: How long to wait for a cluster address to accept a connection before giving up.
CONNECT_TIMEOUT_S = 5.0
#: The variable Ray reads its authentication mode from (``token`` or ``disabled``).
AUTH_MODE = "RAY_AUTH_MODE"
#: Where Ray reads a driver's token, in its order: the token itself, a file named by a variable, its default file.
TOKEN_VAR, TOKEN_PATH_VAR = "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"
#: How long the authentication check may take before the join goes ahead and lets Ray decide.
AUTH_CHECK_S = 10.0
_SET_TOKEN = "set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` on its head prints it)"
#: How often Ray reruns a shard whose worker died (the process or its node), not one that raised.
MAX_RETRIES = 3


def environment() -> dict[str, str]:
    """The versions that decide a build's bytes; every Ray worker must match the driver's."""
    import numpy
    import PIL
    from PIL import features

    from pixbench import __version__
    from pixbench.degradations.jpeg import encoder_name

    return {
        "pixbench": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "jpeg": encoder_name(),
        "png": f"Pillow {PIL.__version__} / zlib {features.version('zlib')}",
    }


def _run_shard(work: Callable[[Any], Any], items: list[Any], expected: dict[str, str]) -> list[Any]:
    """One Ray task: the per-image function over one shard, after checking this node's versions."""
    here = environment()
    differ = [f"{k} {here.get(k)} (driver: {v})" for k, v in expected.items() if here.get(k) != v]
    if differ:
        raise DatasetError(
            f"Ray worker on {socket.gethostname()} has {', '.join(differ)}; every node needs the "
            "same versions as the driver for byte-identical output (see docs/scale-out.md)"
        )
    return [work(item) for item in items]


def _shards(items: Iterable[T], size: int) -> Iterator[list[T]]:
    shard: list[T] = []
    for item in items:
        shard.append(item)
        if len(shard) == size:
            yield shard
            shard = []
    if shard:
        yield shard


def _probe(address: str) -> None:
    """Fail in seconds, in one line, when nothing listens at ``address`` (Ray itself waits a minute or more)."""
    host_port = address.removeprefix("ray://")
    host, sep, port = host_port.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto", "local" or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise DatasetError(
            f"no Ray cluster answers at {address} ({reason}); start one with `ray start --head` "
            "or correct --ray-address / RAY_ADDRESS"
        ) from None


def token_source() -> str | None:
    """Where Ray would take this process's token from, in Ray's order of precedence; ``None`` without one.

    Raises:
        DatasetError: ``RAY_AUTH_TOKEN_PATH`` names a file that cannot be read or is empty (Ray would
            abort the process on it).
    """
    if os.environ.get(TOKEN_VAR, "").strip():
        return TOKEN_VAR
    named = os.environ.get(TOKEN_PATH_VAR)
    if named:
        try:
            empty = not Path(named).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise DatasetError(f"{TOKEN_PATH_VAR}={named}: cannot read the Ray token file ({exc})") from None
        if empty:
            raise DatasetError(f"{TOKEN_PATH_VAR}={named}: the Ray token file is empty")
        return f"{TOKEN_PATH_VAR} ({named})"
    default = Path.home() / ".ray" / "auth_token"
    try:
        return str(default) if default.read_text(encoding="utf-8").strip() else None
    except (OSError, UnicodeDecodeError):
        return None


def _refresh_ray_config() -> None:
    """Make Ray read ``RAY_AUTH_MODE`` and the token again (it caches both when first used in a process)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - another Ray: it reads the variable itself
        return


@contextlib.contextmanager
def _auth_mode(mode: str | None) -> Iterator[None]:
    """Run the block with ``RAY_AUTH_MODE`` set to ``mode`` (``None``: as it is); put the variable back after.

    A local ``ray.init`` sets the variable for the whole process, so it is put back in every case.
    """
    before = os.environ.get(AUTH_MODE)
    if mode is not None:
        os.environ[AUTH_MODE] = mode
        _refresh_ray_config()
    try:
        yield
    finally:
        os.environ.pop(AUTH_MODE, None)
        if before is not None:
            os.environ[AUTH_MODE] = before
        if mode is not None and mode != before:
            _refresh_ray_config()


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null (Ray's C++ client logs a refused join there, beside the one line)."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_auth(address: str, source: str | None, mode: str | None) -> None:
    """Ask the cluster's GCS at ``HOST:PORT`` whether it accepts this process's token, in seconds.

    Raises:
        DatasetError: The cluster requires token authentication and has no token, or another token, from here.
    """
    try:
        from ray._raylet import GcsClient
        from ray.exceptions import AuthenticationError
    except ImportError:  # pragma: no cover - a Ray without these: the join itself reports
        return
    refused: list[BaseException] = []

    def ask() -> None:
        try:
            GcsClient(address=address)
        except AuthenticationError as exc:
            refused.append(exc)
        except Exception:  # anything else is for ray.init to report in its own words
            pass

    asking = threading.Thread(target=ask, name="pixbench-ray-auth", daemon=True)
    with _quiet_stderr():
        asking.start()
        asking.join(AUTH_CHECK_S)
    if not refused:
        return
    if mode == "disabled":
        need = f"{AUTH_MODE}=disabled is set here: unset it (a token is then used where there is one) or {_SET_TOKEN}"
    elif source is None:
        need = f"no token was found here: {_SET_TOKEN}, or put it in ~/.ray/auth_token"
    else:
        need = f"it refused the token from {source}: {_SET_TOKEN}"
    raise DatasetError(f"the Ray cluster at {address} requires token authentication and {need}")


class RayEngine:
    """Runs calls as Ray tasks, ``shard_size`` images per task.

    Args:
        address: The cluster to join (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``); ``None`` starts a
            local Ray instance with ``cpus`` CPUs for the span of :meth:`map`. A process that has already
            called ``ray.init`` keeps its connection (and it is left open).
        cpus: CPUs of the local instance (ignored with an ``address``: the cluster's CPUs decide).
        shard_size: Images per Ray task.

    Raises:
        MissingExtraError: ray is not installed.
        DatasetError: Nothing answers at ``address``.
    """

    def __init__(self, *, address: str | None, cpus: int, shard_size: int = DEFAULT_SHARD_SIZE) -> None:
        self.address = address
        self.cpus = cpus
        self.shard_size = shard_size
        self._mode: str | None = None  # the RAY_AUTH_MODE a join sets (None: leave it as it is)
        # all fail here, before a build touches its output folder
        self._ray = require("ray", needed_for="--engine ray")
        if address is not None and not self._ray.is_initialized():
            _probe(address)
            mode = os.environ.get(AUTH_MODE)
            source = token_source() if mode != "disabled" else None
            if mode is None and source is not None:
                self._mode = "token"  # Ray would not turn it on for a cluster named by address
            host, sep, port = address.rpartition(":")
            if sep and port.isdigit() and "://" not in host:
                with _auth_mode(self._mode):
                    _check_auth(address, source, mode)

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        """Call ``work`` on the items as Ray tasks (see :meth:`pixbench.builder.engine.Engine.map`).

        Raises:
            DatasetError: The cluster cannot be reached or runs another Ray version, a node runs other
                versions than this one, or a worker died more than ``MAX_RETRIES`` times.
        """
        ray = self._ray
        with _auth_mode(self._mode):
            started = self._connect(ray)
            try:
                yield from self._run(ray, work, items)
            finally:
                if started:
                    self._disconnect(ray)

    def _connect(self, ray: Any) -> bool:
        """Start or join Ray; whether this engine did (and so must shut it down)."""
        if ray.is_initialized():
            return False
        # ray.init installs a SIGTERM handler that exits; keep the caller's (the CLI turns SIGTERM into Ctrl-C)
        main = threading.current_thread() is threading.main_thread()
        before = signal.getsignal(signal.SIGTERM) if main else None
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
        try:
            if self.address is None:
                ray.init(address="local", num_cpus=self.cpus, include_dashboard=False, **quiet)
            else:
                ray.init(address=self.address, **quiet)
        except ConnectionError as exc:
            raise DatasetError(
                f"cannot join the Ray cluster at {self.address}: {_one_line(exc)} (a cluster with token "
                f"authentication also needs its token here: {_SET_TOKEN}; see docs/scale-out.md)"
            ) from None
        except getattr(ray.exceptions, "AuthenticationError", ()) as exc:  # Ray's own check, where ours could not ask
            raise DatasetError(f"cannot join the Ray cluster at {self.address}: {_one_line(exc)[:200]}") from None
        except RuntimeError as exc:
            if "version mismatch" not in str(exc).lower():
                raise
            raise DatasetError(
                f"cannot join the Ray cluster at {self.address}: {_one_line(exc)}; install the "
                "cluster's ray and Python versions here (or the other way round)"
            ) from None
        finally:
            if before is not None:
                signal.signal(signal.SIGTERM, before)
        return True

    def _disconnect(self, ray: Any) -> None:
        main = threading.current_thread() is threading.main_thread()
        before = signal.getsignal(signal.SIGTERM) if main else None
        try:
            ray.shutdown()  # stops a local instance; leaves a joined cluster running
        finally:
            if before is not None:
                signal.signal(signal.SIGTERM, before)

    def _run(self, ray: Any, work: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        from ray.exceptions import RayError, RayTaskError

        task = ray.remote(_run_shard).options(num_cpus=1, max_retries=MAX_RETRIES, retry_exceptions=False)
        work_ref = ray.put(work)  # the function (with its recipe) is shipped once, not with every shard
        expected = environment()
        capacity = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
        shards = _shards(items, self.shard_size)
        pending: list[Any] = []
        finished = 0
        try:
            while True:
                while len(pending) < capacity:
                    shard = next(shards, None)
                    if shard is None:
                        break
                    pending.append(task.remote(work_ref, shard, expected))
                if not pending:
                    break
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    results = ray.get(done[0])
                except RayTaskError as exc:  # the worker raised: the same error as a local build raises
                    cause = getattr(exc, "cause", None)
                    raise (cause if isinstance(cause, Exception) else exc) from None
                except RayError as exc:
                    raise DatasetError(
                        f"a Ray worker died {MAX_RETRIES + 1} times on one shard ({_one_line(exc)}) after "
                        f"{finished} source images finished in this run; they are kept: rerun the same command "
                        "to resume"
                    ) from None
                for result in results:
                    finished += 1
                    yield result
        except BaseException:
            _stop(ray, pending)
            raise


#: How long a stopped build waits for its cancelled shards to end before it lets go of the folder.
STOP_WAIT_S = 30.0


def _stop(ray: Any, pending: list[Any]) -> None:
    """Cancel the shards still in flight and wait until they have ended.

    Ctrl-C, an error, or the caller closing the generator lands here. A running shard writes
    its images itself, so it must have stopped before the build returns and releases the
    folder's lock; a shard that ignores the cancel for ``STOP_WAIT_S`` is left to Ray.
    """
    for ref in pending:
        ray.cancel(ref)
    if pending:
        ray.wait(pending, num_returns=len(pending), timeout=STOP_WAIT_S)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400] or type(exc).__name__
