"""Hostile input at the command line: markup in names, broken output paths, full disks, dead and orphaned workers.

Every case is generated here (tiny images, recipes, folders with odd names, small tmpfs mounts where the test runs
as root) and driven through the real commands. What must hold: one line per failure, naming the path and what
would work, the right exit code, no traceback, no half-written file, no worker left behind, and a rerun that resumes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image
from typer.testing import CliRunner

from pixbench.builder import build_dataset, process_item
from pixbench.cli import app
from pixbench.recipes import parse_recipe
from tests.conftest import REPO_ROOT

RECIPE = {
    "name": "tiny-jpeg",
    "version": 1,
    "task": "jpeg",
    "seed": 7,
    "source": "embedded",
    "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
    "crop": {"size": 32, "per_image": 2, "align": 16},
    "degradations": [{"op": "jpeg", "qualities": [10, 30]}],
}
N_IMAGES = 12
SLEEP_ENV = "PIXBENCH_TEST_SLEEP"  # seconds each source image takes in a subprocess build (see run_cli_slowly)
DIE_ENV = "PIXBENCH_TEST_DIE_FLAG"  # while this file exists, the worker that gets the last image dies


def photo(seed: int, h: int = 48, w: int = 56) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w) + 60 * (seed % 3)], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def write_photos(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(photo(i)).save(folder / f"p{i:03d}.png")
    return folder


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def one_error_line(result, *needles: str) -> str:
    """The single ``error:`` line of a failed command, checked for ``needles``."""
    assert "Traceback" not in result.output, result.output
    errors = [line for line in lines(result.output) if line.startswith("error:")]
    assert len(errors) == 1 and len(lines(result.stderr)) == 1, result.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path | str]:
    """A source folder, its recipe file, a reference build (workers=1) and an identity model."""
    root = tmp_path_factory.mktemp("world")
    src = write_photos(root / "src", N_IMAGES)
    recipe_file = root / "r.yaml"
    recipe_file.write_text(parse_recipe(RECIPE).canonical_yaml())
    reference = build_dataset(parse_recipe(RECIPE), root / "reference", source=f"folder:{src}", workers=1)
    model = root / "[red]m.onnx"
    assert invoke("baseline", "identity", "--task", "jpeg", "-o", model).exit_code == 0
    proto = onnx.load(str(model))
    props = {p.key: p for p in proto.metadata_props}
    props["pixbench.model"].value = "[red]m"  # the name results and leaderboards show
    onnx.save(proto, str(model))
    scored = invoke(
        "evaluate", model, "-d", root / "reference", "--no-speed", "--no-lpips", "-o", root / "results" / "r.json"
    )
    assert scored.exit_code == 0, scored.output
    return {
        "root": root,
        "src": src,
        "recipe": recipe_file,
        "dataset": root / "reference",
        "model": model,
        "results": root / "results",
        "fingerprint": reference.info["fingerprint"],
    }


def build_args(world, out: Path, *more: object) -> list[object]:
    return ["build-dataset", world["recipe"], "-o", out, "--source", f"folder:{world['src']}", *more]


# --- 3. messages are text, not markup -------------------------------------------------------------------------------


def test_markup_and_newlines_in_paths_and_file_names_print_literally(tmp_path, world):
    src = write_photos(tmp_path / "src[b]", 3)
    (src / "bad\nname.png").write_bytes(b"")
    (src / "[bold]x.png").write_bytes(b"not an image")
    recipe = tmp_path / "[i]r.yaml"
    recipe.write_text(parse_recipe(RECIPE).canonical_yaml())
    for out in (tmp_path / "out[a-z]", tmp_path / "[bold]dir" / "o"):
        result = invoke("build-dataset", recipe, "-o", out, "--source", f"folder:{src}", "--workers", "1")
        assert result.exit_code == 0 and "Traceback" not in result.output, result.output
        assert f"in {out} (5 images processed)" in result.output  # before: "out" and "dir/o", the rest eaten
        assert "skipped [bold]x.png: cannot decode image" in result.output  # the id once, not "x.png: x.png: ..."
        assert "skipped bad\\nname.png: " in result.output  # one line: the newline shown as \n
        assert not any(line.startswith("name.png") for line in result.output.splitlines())
        assert (out / "dataset.json").is_file()
    again = invoke("build-dataset", recipe, "-o", tmp_path / "out[a-z]", "--source", f"folder:{src}")
    assert again.exit_code == 0 and f"{tmp_path / 'out[a-z]'} already holds this dataset" in again.output


def test_error_text_with_brackets_survives(tmp_path):
    bad = tmp_path / "r[x].yaml"
    bad.write_text(parse_recipe(RECIPE).canonical_yaml().replace("name: tiny-jpeg", "name: Tiny[bold]Jpeg"))
    result = invoke("build-dataset", bad, "-o", tmp_path / "o")
    assert result.exit_code == 1
    one_error_line(result, "[a-z0-9]", "r[x].yaml")  # before: the pattern vanished as an unknown markup tag
    missing = tmp_path / "new\nline[x].yaml"
    result = invoke("build-dataset", missing, "-o", tmp_path / "o")
    assert result.exit_code == 1
    one_error_line(result, "new\\nline[x].yaml")  # one line, the newline shown as \n
    listed = invoke("recipes", bad)
    assert listed.exit_code == 1 and "Traceback" not in listed.output
    assert any(
        line.startswith("invalid:") and "r[x].yaml" in line and "[a-z0-9]" in line for line in lines(listed.stderr)
    ), listed.output


def test_model_names_and_output_paths_with_markup_in_evaluate_and_leaderboard(tmp_path, world):
    out = tmp_path / "res[a-z]" / "r[bold].json"
    result = invoke("evaluate", world["model"], "-d", world["dataset"], "--no-speed", "--no-lpips", "-o", out)
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output
    assert f"{world['model'].name}: layout=" in result.output and f"wrote {out}" in result.output
    assert "[red]m on tiny-jpeg" in result.output  # the table title
    board = invoke("leaderboard", out.parent, "-o", tmp_path / "lb[bold]", "--no-figures")
    assert board.exit_code == 0, board.output
    assert f"best [red]m by psnr -> {tmp_path / 'lb[bold]'}" in board.output
    assert f"index: {tmp_path / 'lb[bold]' / 'index.md'}" in board.output
    weird = tmp_path / "we\nird[x].onnx"
    listed = invoke("baseline", "identity", "--task", "jpeg", "-o", weird)
    assert listed.exit_code == 0 and lines(listed.output) == [f"wrote {tmp_path}/we\\nird[x].onnx"]


# --- 4. output and environment faults are one line ------------------------------------------------------------------


def test_an_output_path_under_a_file_is_one_line_before_any_work(tmp_path, world):
    blocker = tmp_path / "afile"
    blocker.write_text("precious")
    checkpoint = tmp_path / "last.pt"
    checkpoint.write_bytes(b"never read: -o is checked first")
    cases = [
        build_args(world, blocker),
        build_args(world, blocker / "o"),
        ["evaluate", world["model"], "-d", world["dataset"], "-o", blocker / "r.json"],
        ["leaderboard", world["results"], "-o", blocker / "lb"],
        ["leaderboard", world["results"], "-o", blocker],
        ["export", checkpoint, "-o", blocker / "deep" / "m.onnx"],
        ["baseline", "identity", "-o", blocker / "m.onnx"],
        ["train", "espcn", "-d", world["dataset"], "-o", blocker / "run"],
    ]
    for args in cases:
        result = invoke(*args)
        assert result.exit_code == 1, (args, result.output)
        one_error_line(result, f"-o {args[args.index('-o') + 1]}", f"{blocker}", "a file", "choose another path")
    assert blocker.read_text() == "precious"


def test_output_that_is_a_folder_where_a_file_is_expected(tmp_path, world):
    folder = tmp_path / "results.json"
    folder.mkdir()
    for args in (
        ["evaluate", world["model"], "-d", world["dataset"], "-o", folder],
        ["baseline", "identity", "-o", folder],
    ):
        result = invoke(*args)
        assert result.exit_code == 1
        one_error_line(result, f"-o {folder}: is a folder", "give the path of the file")
    assert list(folder.iterdir()) == []


def test_unwritable_system_paths_name_the_path_and_the_errno(tmp_path):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc")
    result = invoke("baseline", "identity", "-o", "/proc/pixbench-x.onnx")  # /proc takes no new files
    assert result.exit_code == 1
    one_error_line(result, "/proc/pixbench-x.onnx: ", "(ENOENT)")  # the temp file's name is never shown
    result = invoke("baseline", "identity", "-o", "/proc/pixbench-dir/x.onnx")
    assert result.exit_code == 1
    one_error_line(result, "/proc/pixbench-dir", "(ENOENT)")


@contextlib.contextmanager
def mounted_tmpfs(path: Path, options: str) -> Iterator[bool]:
    """A small tmpfs at ``path`` (root only); yields False where mounting is not possible."""
    path.mkdir(parents=True, exist_ok=True)
    ok = (
        os.geteuid() == 0
        and shutil.which("mount") is not None
        and subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True).returncode
        == 0
    )
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_a_read_only_folder_is_one_line(tmp_path, world):
    target = tmp_path / "ro"
    with contextlib.ExitStack() as stack:
        if os.geteuid() != 0:
            target.mkdir()
            target.chmod(0o500)
            stack.callback(target.chmod, 0o700)
            expected = "(EACCES)"
        elif stack.enter_context(mounted_tmpfs(target, "ro,size=64k")):
            expected = "(EROFS)"
        else:
            pytest.skip("running as root, where permissions are not enforced, and tmpfs cannot be mounted here")
        for args in (
            build_args(world, target / "out", "--workers", "1"),
            ["baseline", "identity", "-o", target / "m.onnx"],
            ["evaluate", world["model"], "-d", world["dataset"], "--no-speed", "--no-lpips", "-o", target / "r.json"],
            ["leaderboard", world["results"], "-o", target / "lb"],
        ):
            result = invoke(*args)
            assert result.exit_code == 1, (args, result.output)
            one_error_line(
                result,
                str(target),
                expected,
                "choose another location" if expected == "(EROFS)" else "choose a location you may write to",
            )


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp")]


def test_a_full_disk_is_one_line_leaves_nothing_half_written_and_resumes(tmp_path, world, monkeypatch):
    out_root = tmp_path / "disk"
    with mounted_tmpfs(out_root, "size=96k") as small:
        if not small:  # no tmpfs: the one atomic writer runs out of space after a few files instead
            import pixbench.images as images

            real, calls = images.atomic_output, []

            @contextlib.contextmanager
            def filling(path):
                with real(path) as tmp:
                    yield tmp
                    calls.append(path)
                    if len(calls) > 20:
                        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            monkeypatch.setattr(images, "atomic_output", filling)
        out = out_root / "out"
        full = invoke(*build_args(world, out, "--workers", "1"))
        assert full.exit_code == 1, full.output
        one_error_line(full, "No space left on device (ENOSPC)", "free some space, then rerun the same command")
        assert _temp_files(out) == [] and not (out / "dataset.json").exists()
        if small:
            subprocess.run(["mount", "-o", "remount,size=8m", str(out_root)], check=True)
        else:
            monkeypatch.undo()
        resumed = invoke(*build_args(world, out, "--workers", "2"))
        assert resumed.exit_code == 0, resumed.output
        assert "reused from an interrupted run" in resumed.output
        assert json.loads((out / "dataset.json").read_text())["fingerprint"] == world["fingerprint"]
        assert tree(out) == tree(world["dataset"])


def _die_on_last_image(item, **kwargs):
    """A stand-in for the builder's unit of work whose worker dies (like an OOM kill) on the last image."""
    if item.source_id == f"p{N_IMAGES - 1:03d}.png" and Path(os.environ[DIE_ENV]).exists():
        os._exit(9)
    return process_item(item, **kwargs)


def test_a_worker_that_dies_is_one_line_and_the_rerun_resumes(tmp_path, world, monkeypatch):
    flag = tmp_path / "die"
    flag.touch()
    monkeypatch.setenv(DIE_ENV, str(flag))
    monkeypatch.setattr("pixbench.builder.run.process_item", _die_on_last_image)
    out = tmp_path / "out"
    died = invoke(*build_args(world, out, "--workers", "2"))
    assert died.exit_code == 1, died.output  # before: a BrokenProcessPool traceback
    one_error_line(
        died, "a worker process died", "source images finished in this run", "rerun the same command to resume"
    )
    flag.unlink()
    again = invoke(*build_args(world, out, "--workers", "2"))
    assert again.exit_code == 0, again.output
    assert json.loads((out / "dataset.json").read_text())["fingerprint"] == world["fingerprint"]


# --- 5. process hygiene ---------------------------------------------------------------------------------------------


def _slow_process_item(item, **kwargs):
    time.sleep(float(os.environ.get(SLEEP_ENV, "0")))
    return process_item(item, **kwargs)


def run_cli_slowly() -> None:
    """Entry point of the subprocess builds below: the real CLI, with every source image taking a while."""
    import pixbench.builder.run as builder
    from pixbench.cli import main

    builder.process_item = _slow_process_item
    main()


def _children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def _start_slow_build(world, out: Path) -> tuple[subprocess.Popen, set[int]]:
    """A CLI build with two workers, once both workers run and at least two images are done."""
    code = "import tests.test_hostile_cli as t; t.run_cli_slowly()"
    cmd = [sys.executable, "-c", code, *map(str, build_args(world, out, "--workers", "2"))]
    # output goes to files, not pipes: an orphaned worker would hold a pipe open, and reading it would hang
    with open(out.parent / "stdout.txt", "wb") as stdout, open(out.parent / "stderr.txt", "wb") as stderr:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env={**os.environ, SLEEP_ENV: "1.0"},
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    done = out / ".pixbench-build" / "done"
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        if len(workers) >= 2 and done.is_dir() and len(list(done.glob("*.json"))) >= 2:
            return proc, workers
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    log = (out.parent / "stderr.txt").read_text()[-2000:]
    pytest.fail(f"the build did not get going (exit {proc.poll()}): {log}")


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(map(_alive, pids)):
        time.sleep(0.05)
    return {pid for pid in pids if _alive(pid)}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from Linux /proc")
def test_workers_do_not_outlive_a_killed_build(tmp_path, world):
    proc, workers = _start_slow_build(world, tmp_path / "out")
    try:
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, as the OOM killer would
        proc.wait()
        left = _wait_gone(workers, 5)
        assert left == set(), f"workers {sorted(left)} outlived their killed parent"  # before: they lived on
    finally:
        for pid in workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    resumed = build_dataset(parse_recipe(RECIPE), tmp_path / "out", source=f"folder:{world['src']}", workers=2)
    assert resumed.reused >= 2 and resumed.info["fingerprint"] == world["fingerprint"]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from Linux /proc")
@pytest.mark.parametrize("how", ["SIGTERM to the parent", "Ctrl-C (SIGINT to the process group)"])
def test_sigterm_stops_a_build_like_ctrl_c_and_the_rerun_resumes(tmp_path, world, how):
    out = tmp_path / "out"
    proc, workers = _start_slow_build(world, out)
    try:
        if how.startswith("SIGTERM"):
            os.kill(proc.pid, signal.SIGTERM)
        else:  # before: every worker printed its own KeyboardInterrupt traceback
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
        stderr = (tmp_path / "stderr.txt").read_text()
        assert proc.returncode == 130, stderr  # before: -15, killed mid-write
        assert lines(stderr) == ["interrupted; rerun the same command to resume"], stderr
        assert _wait_gone(workers, 5) == set()
    finally:
        proc.kill()
        for pid in workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    result = invoke(*build_args(world, out, "--workers", "2"))
    assert result.exit_code == 0 and "reused from an interrupted run" in result.output, result.output
    assert json.loads((out / "dataset.json").read_text())["fingerprint"] == world["fingerprint"]
