"""`leaderboards/retime.py`: one speed run gives every row one host, one run and the same repeats."""

from __future__ import annotations

import shutil

import pytest

from pixbench.results import host_identity, read_result
from tests.conftest import REPO_ROOT, load_script

PUBLISHED = REPO_ROOT / "leaderboards"


@pytest.fixture(scope="module")
def retime():
    yield from load_script(PUBLISHED / "retime.py", "retime")


def copy_result(tmp_path, benchmark: str, row: str, name: str):
    """A committed Kodak result (and its per-sample file) copied as ``name``.json."""
    source = PUBLISHED / "results" / "kodak" / benchmark
    shutil.copyfile(source / f"{row}.json", tmp_path / f"{name}.json")
    shutil.copyfile(source / f"{row}.samples.csv", tmp_path / f"{row}.samples.csv")
    return tmp_path / f"{name}.json"


def test_every_row_gets_one_run_and_the_same_repeats(retime, tmp_path):
    model = PUBLISHED / "models" / "jpeg" / "identity.onnx"
    first, second = (copy_result(tmp_path, "jpeg", "identity", n) for n in ("a", "b"))
    before = read_result(first)
    lines = []
    run = retime.retime_rows(
        [retime.Row(first, model), retime.Row(second, model)],
        warmup=0,
        runs=2,
        threads=1,
        allow_busy=True,
        say=lines.append,
    )
    a, b = read_result(first), read_result(second)
    assert (
        a.speed.run == b.speed.run == run and lines[0] == f"speed run {run}: 2 rows, 0 warm-up and 2 timed frames each"
    )
    # the same model fed the same way is timed once: the second row gets the first row's frames
    assert a.speed.fps_1080p == b.speed.fps_1080p and a.speed.latency_ms_p90_native == b.speed.latency_ms_p90_native
    assert (a.speed.warmup, a.speed.runs, a.settings.speed_warmup, a.settings.speed_runs) == (0, 2, 0, 2)
    assert a.speed.threads == 1 and a.speed.native_size == before.speed.native_size == [256, 256]
    assert a.environment.isa == host_identity()["isa"] and a.environment.date is not None
    assert a.targets["fps_1080p>=30"] is (a.speed.fps_1080p >= 30)
    # nothing but speed, environment, the speed settings and the FPS target changed
    assert a.metrics == before.metrics and a.model == before.model and a.dataset == before.dataset


def test_a_busy_machine_and_another_model_file_are_refused(retime, tmp_path, monkeypatch):
    result = copy_result(tmp_path, "jpeg", "identity", "r")
    row = retime.Row(result, PUBLISHED / "models" / "jpeg" / "identity.onnx")
    monkeypatch.setattr(retime, "load_average", lambda: 3.5)
    with pytest.raises(SystemExit, match=r"1-minute load average is 3.50 \(> 0.5\)"):
        retime.retime_rows([row])
    other = retime.Row(result, PUBLISHED / "models" / "blockcnn-triplets" / "identity.onnx")
    with pytest.raises(SystemExit, match="is not the model .* scored .*re-evaluate instead of re-timing"):
        retime.retime_rows([other], allow_busy=True, runs=1, warmup=0)
    assert read_result(result) == read_result(PUBLISHED / "results" / "kodak" / "jpeg" / "identity.json")


def test_expected_duration_comes_from_the_recorded_latencies(retime):
    # blockcnn's median latency in the committed speed run (2026-12-07T21:18:36Z): 33921 ms at 1080p and 266 ms
    # at 128x128 (blockcnn-triplets), 1058 ms at 256x256 (jpeg); its 1080p frames are timed once for both
    # tables: 12 x (33.92 + 0.27 + 1.06) s
    rows = [
        retime.Row(PUBLISHED / "results" / "kodak" / b / "blockcnn.json", PUBLISHED / "models" / "x.onnx")
        for b in ("blockcnn-triplets", "jpeg")
    ]
    seconds, unknown = retime.expected_seconds(rows, warmup=2, runs=10)
    assert seconds == pytest.approx(12 * (33.921438 + 0.266442 + 1.057815)) and unknown == 0


def test_other_work_on_the_host_is_measured_while_frames_are_timed():
    """A process spinning on one core while a call is timed reads as about one core of other work; this
    process's own CPU never counts (a speed run's load average does count the run's earlier rows)."""
    import subprocess
    import sys
    import time

    from pixbench.runtime import other_cpu, time_call

    def other(fn, runs, min_window_s=0.5):
        return other_cpu([time_call(fn, warmup=0, runs=runs, min_window_s=min_window_s)["cpu_window"]])

    quiet = other(lambda: time.sleep(0.05), 14)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        busy = other(lambda: time.sleep(0.05), 14)
    finally:
        spinner.kill()
        spinner.wait()
    own = other(lambda: sum(range(1_000_000)), 40)  # this process busy for about a second, the host otherwise not
    assert 0.6 <= busy <= 1.2 and busy >= quiet + 0.4
    assert own < busy - 0.4
    # a window too short to count ticks in says nothing
    assert other(lambda: None, 3, min_window_s=0) is None and other_cpu([None]) is None


def test_a_fast_call_is_repeated_until_its_window_can_be_read_and_only_the_timed_runs_count():
    from pixbench.runtime import other_cpu, time_call

    calls = []
    timed = time_call(lambda: calls.append(1), warmup=1, runs=3)
    wall = timed["cpu_window"][0]
    assert timed["runs"] == 3 and wall >= 0.5  # MIN_WINDOW_S of pixbench/runtime/timing.py
    assert len(calls) > 1 + 3  # the warm-up, the 3 timed calls, then the calls that lengthened the window
    assert other_cpu([timed["cpu_window"]]) is not None
    assert timed["latency_ms_median"] < 50  # the statistics are the timed calls' alone, not the window's


def test_the_speed_sentence_gives_the_other_work_where_it_was_measured():
    from pixbench.leaderboard.hosts import SpeedColumn, Timing, speed_sentence

    timing = Timing("AMD EPYC (AVX2)", "2026-12-07T12:00:00Z", 2, 10)
    measured = speed_sentence(SpeedColumn(timing, loads=(0.1, 1.9), others=(0.0, 0.03)))
    assert "other work on the host 0.00 to 0.03 cores while frames were timed" in measured
    assert "load average" not in measured  # the load average counts the run's own earlier rows
    older = speed_sentence(SpeedColumn(timing, loads=(0.1, 1.9)))
    assert "load average 0.10 to 1.90 when timing started" in older
