"""``build-dataset --engine ray``: the same bytes as a local build, resume, one-line errors, a real cluster.

Each test starts what it needs (a local Ray instance, or ``ray start --head`` on this machine) and
stops it; select them with ``-m ray``. Instances are kept to one or two CPUs.
"""

import contextlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixbench.builder import build_dataset
from pixbench.cli import app
from tests.conftest import REPO_ROOT
from tests.test_build import tiny_recipe, write_photos

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray


def all_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Photos (and one non-image, skipped with a reason) and the local engine's build of them."""
    root = tmp_path_factory.mktemp("ray")
    src = write_photos(root / "src", 8)
    (src / "broken.png").write_bytes(b"not an image")
    recipe = tiny_recipe("blockcnn")  # sample PNGs, metadata and the triplet arrays
    reference = build_dataset(recipe, root / "local", source=f"folder:{src}", workers=1)
    assert [s["source_id"] for s in reference.info["skipped"]] == ["broken.png"]
    return {"root": root, "src": src, "recipe": recipe, "reference": reference}


@pytest.fixture
def no_ray_left():
    yield
    if ray.is_initialized():
        ray.shutdown()
        pytest.fail("the Ray engine left ray initialised")


@pytest.mark.parametrize("cpus", [1, 2])
def test_ray_build_is_byte_identical_to_a_local_build(world, tmp_path, cpus, no_ray_left):
    result = build_dataset(
        world["recipe"], tmp_path / "out", source=f"folder:{world['src']}", workers=cpus, engine="ray", shard_size=3
    )
    assert result.processed == 9
    assert result.info["fingerprint"] == world["reference"].info["fingerprint"]
    assert all_bytes(tmp_path / "out") == all_bytes(world["root"] / "local")


class Stop(Exception):
    pass


def test_an_interrupted_ray_build_resumes_without_rebuilding(world, tmp_path):
    out = tmp_path / "out"
    seen: list[int] = []

    def stop_after_two_shards(phase, done, total, **values):
        seen.append(done)
        if done >= 4:
            raise Stop

    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)  # reused by the engine
    try:
        with pytest.raises(Stop):
            build_dataset(
                world["recipe"],
                out,
                source=f"folder:{world['src']}",
                engine="ray",
                shard_size=2,
                progress=stop_after_two_shards,
            )
        assert ray.is_initialized(), "a Ray the engine did not start is left running"
        done = sorted((out / ".pixbench-build" / "done").iterdir())
        assert len(done) >= 4 and not (out / "dataset.json").exists()
        stamps = {p: p.stat().st_mtime_ns for p in done}
        calls: list[tuple[str, int, int | None]] = []
        result = build_dataset(
            world["recipe"],
            out,
            source=f"folder:{world['src']}",
            engine="ray",
            shard_size=2,
            progress=lambda phase, d, t, **v: calls.append((phase, d, t)),
        )
    finally:
        ray.shutdown()
    assert result.reused == len(done) and result.processed == 9 - len(done)
    assert all(p.stat().st_mtime_ns == stamps[p] for p in done if p.exists()), "a finished image was rebuilt"
    assert result.info["fingerprint"] == world["reference"].info["fingerprint"]
    assert all_bytes(out) == all_bytes(world["root"] / "local")
    assert calls[0] == ("source images", 0, 9) and calls[-1] == ("source images", 9, 9)
    assert [d for _, d, _ in calls] == sorted(d for _, d, _ in calls)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_cluster_is_one_line_quickly(world, tmp_path):
    port = free_port()
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        [
            "build-dataset",
            str(REPO_ROOT / "recipes/jpeg.yaml"),
            "-o",
            str(tmp_path / "o"),
            "--source",
            f"folder:{world['src']}",
            "--engine",
            "ray",
            "--ray-address",
            f"127.0.0.1:{port}",
        ],
    )
    assert time.monotonic() - started < 15
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no Ray cluster answers at 127.0.0.1:")
    assert not (tmp_path / "o").exists()


def test_engine_ray_without_ray_installed_is_one_line(world, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, as where it is not installed
    result = CliRunner().invoke(
        app,
        ["build-dataset", "jpeg", "-o", str(tmp_path / "o"), "--source", f"folder:{world['src']}", "--engine", "ray"],
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: --engine ray needs ray, which is not installed: pip install 'pixbench[ray]'"
    )


@pytest.fixture
def cluster():
    """A one-CPU Ray head on this machine (``ray start --block``), stopped by its process group afterwards."""
    port = free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    ray_cli = Path(sys.executable).parent / "ray"
    head = subprocess.Popen(
        [
            str(ray_cli),
            "start",
            "--head",
            "--port",
            str(port),
            "--num-cpus",
            "1",
            "--block",
            "--disable-usage-stats",
            "--include-dashboard=false",
            "--node-ip-address",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("ray start --head did not come up")
                time.sleep(0.3)
        yield {"address": f"127.0.0.1:{port}", "env": env}
    finally:
        # everything `ray start` launched shares its session: end that process group, gently then for sure
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(head.pid, signal.SIGKILL)
        head.wait(timeout=5)


def test_a_build_on_a_running_cluster_is_byte_identical(world, tmp_path, cluster):
    out = tmp_path / "out"
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(world["recipe"].canonical_yaml(), encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixbench",
            "build-dataset",
            str(recipe_file),
            "-o",
            str(out),
            "--source",
            f"folder:{world['src']}",
            "--engine",
            "ray",
            "--ray-address",
            cluster["address"],
            "--shard-size",
            "4",
        ],
        env=cluster["env"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    info = json.loads((out / "dataset.json").read_text())
    assert info["fingerprint"] == world["reference"].info["fingerprint"]
    assert all_bytes(out) == all_bytes(world["root"] / "local")


# --- the Parquet layout on Ray ---------------------------------------------------------------------------------------


def test_a_parquet_build_on_ray_is_byte_identical_to_a_local_one(world, tmp_path, no_ray_left):
    source = f"folder:{world['src']}"
    local = build_dataset(world["recipe"], tmp_path / "local", source=source, workers=1, layout="parquet")
    remote = build_dataset(
        world["recipe"], tmp_path / "ray", source=source, workers=2, engine="ray", shard_size=3, layout="parquet"
    )
    assert remote.info["fingerprint"] == local.info["fingerprint"] == world["reference"].info["fingerprint"]
    assert all_bytes(tmp_path / "ray") == all_bytes(tmp_path / "local")


def test_ray_data_reads_the_shards(world, tmp_path):
    import numpy as np
    from PIL import Image

    from pixbench.datasets import open_dataset

    out = tmp_path / "out"
    build_dataset(world["recipe"], out, source=f"folder:{world['src']}", workers=1, layout="parquet")
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        rows = ray.data.read_parquet(str(out / "train")).take_all()  # the triplet files beside are passed over
    finally:
        ray.shutdown()
    ours = open_dataset(out).split("train")
    assert [r["sample_id"] for r in rows] == list(ours.metadata["sample_id"])
    for row, sample in zip(rows, ours, strict=True):
        assert row["input"]["path"] == sample.meta["input_file_name"] and row["quality"] == sample.meta["quality"]
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(row["input"]["bytes"]))), sample.input)


# --- a cluster with token authentication ------------------------------------------------------------------------------


def no_ray_settings(home: Path) -> dict[str, str]:
    """This environment without any RAY_* variable, with ``home`` as the home folder (where Ray keeps its token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**env, "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0"}


@pytest.fixture(scope="module")
def token_cluster(tmp_path_factory):
    """A head started the default way (no RAY_AUTH_MODE) on a machine where Ray has written its token.

    Ray then enables token authentication (it does wherever ``~/.ray/auth_token`` exists). The home
    folder and Ray's session folder are this test's own, so that the machine's are left alone.
    """
    root = tmp_path_factory.mktemp("token")
    home = root / "home"
    home.mkdir()
    ray_cli = str(Path(sys.executable).parent / "ray")
    env = no_ray_settings(home)
    subprocess.run([ray_cli, "get-auth-token", "--generate"], env=env, capture_output=True, check=True, timeout=60)
    assert (home / ".ray" / "auth_token").is_file()
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # Ray's socket paths must stay short
    head = subprocess.Popen(
        [
            ray_cli,
            "start",
            "--head",
            "--port",
            str(port),
            "--node-ip-address",
            "127.0.0.1",
            "--num-cpus",
            "1",
            "--block",
            "--include-dashboard=false",
            "--temp-dir",
            temp,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_for(head, port)
        yield {"address": f"127.0.0.1:{port}", "home": home, "root": root}
    finally:
        stop(head)
        shutil.rmtree(temp, ignore_errors=True)


def wait_for(head: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ray start --head did not come up")
            time.sleep(0.3)


def stop(head: subprocess.Popen) -> None:
    """End everything `ray start` launched (it shares the head's session): gently, then for sure."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGTERM)
    try:
        head.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait(timeout=5)


def build_on(cluster: dict, out: Path, world: dict, env: dict[str, str]) -> subprocess.CompletedProcess:
    recipe_file = out.parent / "recipe.yaml"
    recipe_file.write_text(world["recipe"].canonical_yaml(), encoding="utf-8")
    args = ["build-dataset", str(recipe_file), "-o", str(out), "--source", f"folder:{world['src']}"]
    args += ["--engine", "ray", "--ray-address", cluster["address"], "--shard-size", "4", "--format", "parquet"]
    return subprocess.run(
        [sys.executable, "-m", "pixbench", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_default_head_is_joined_with_the_token_ray_wrote_and_no_settings(world, tmp_path, token_cluster):
    run = build_on(token_cluster, tmp_path / "out", world, no_ray_settings(token_cluster["home"]))
    assert run.returncode == 0, run.stderr[-2000:]
    local = build_dataset(
        world["recipe"], tmp_path / "local", source=f"folder:{world['src']}", workers=1, layout="parquet"
    )
    assert all_bytes(tmp_path / "out") == all_bytes(tmp_path / "local")
    assert local.info["fingerprint"] == world["reference"].info["fingerprint"]


SET_TOKEN = "set RAY_AUTH_TOKEN to the cluster's token (`ray get-auth-token` on its head prints it)"


@pytest.mark.parametrize(
    ("with_token_file", "env", "says"),
    [
        (False, {}, f"no token was found here: {SET_TOKEN}, or put it in ~/.ray/auth_token"),
        (False, {"RAY_AUTH_TOKEN": "not-the-cluster-token"}, f"it refused the token from RAY_AUTH_TOKEN: {SET_TOKEN}"),
        (
            True,
            {"RAY_AUTH_MODE": "disabled"},
            f"RAY_AUTH_MODE=disabled is set here: unset it (a token is then used where there is one) or {SET_TOKEN}",
        ),
    ],
    ids=["no token", "wrong token", "auth disabled here"],
)
def test_a_join_the_cluster_refuses_is_one_line_saying_what_to_set(
    world, tmp_path, token_cluster, with_token_file, env, says
):
    home = token_cluster["home"] if with_token_file else tmp_path / "home"
    home.mkdir(exist_ok=True)  # an empty home has no ~/.ray/auth_token
    started = time.monotonic()
    run = build_on(token_cluster, tmp_path / "out", world, {**no_ray_settings(home), **env})
    assert time.monotonic() - started < 30  # Ray alone retries for 20 s, then says only "Failed to connect"
    assert run.returncode == 1
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert lines == [f"error: the Ray cluster at {token_cluster['address']} requires token authentication and {says}"]
    assert not (tmp_path / "out").exists()
