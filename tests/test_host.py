"""The host and code identity that results and training records carry, and the hardware labels tables derive from it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from onnx import helper, numpy_helper

from pixbench.evaluate import EvaluateOptions, evaluate
from pixbench.evaluate.speed import environment, input_resize
from pixbench.results import (
    SPEED_FLAGS,
    Environment,
    code_identity,
    host_identity,
    host_label,
    isa_class,
    read_result,
    source_revision,
)
from pixbench.runtime import load_model, resolve_spec
from tests.conftest import REPO_ROOT
from tests.synth import write_tiny_dataset
from tests.test_runtime import FLOAT, save_model

COMMITTED = REPO_ROOT / "leaderboards" / "results"
MODELS = REPO_ROOT / "leaderboards" / "models"


@pytest.mark.parametrize(
    ("flags", "isa"),
    [
        (["avx2", "fma"], "AVX2"),  # the later VM of the published runs
        (["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16"], "AVX-512 VNNI BF16"),
        (["avx2", "avx512f", "avx512_vnni", "amx_tile", "amx_bf16"], "AMX VNNI"),
        (["avx2", "avx_vnni"], "AVX2 VNNI"),
        (["asimd", "asimddp"], "NEON"),
        (["asimd", "sve"], "SVE"),
        ([], "no AVX2"),
        (None, "ISA unknown"),
    ],
)
def test_isa_class_names_what_changes_speed(flags, isa):
    assert isa_class(flags) == isa


def test_host_identity_reads_this_machine():
    host = host_identity()
    assert host["cores"] >= 1 and host["platform"] and host["python"]
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        pytest.skip("no /proc/cpuinfo on this OS")
    text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    names = re.findall(r"^model name\s*:\s*(.+)$", text, flags=re.M)
    flags = set(re.search(r"^(?:flags|Features)\s*:(.*)$", text, flags=re.M).group(1).split())
    if names:
        assert host["cpu"] == names[0].strip()
    assert host["cpu_flags"] == [f for f in SPEED_FLAGS if f in flags]
    assert host["isa"] == isa_class(host["cpu_flags"])


def test_code_identity_names_the_checkout_and_the_date():
    code = code_identity()
    described = subprocess.run(
        ["git", "describe", "--always", "--abbrev=12"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    if described.returncode != 0:
        assert code["revision"] == "unknown"
    else:
        assert code["revision"].removesuffix("-dirty") == described.stdout.strip()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", code["date"])
    assert code["numpy"] == np.__version__


def test_source_revision_is_unknown_without_git(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert source_revision.__wrapped__() == "unknown"  # no git to run: no crash, no guess


def test_recorded_and_unrecorded_hosts_never_share_a_label():
    recorded = host_label("AMD EPYC", "AVX2", "Linux-x")
    assert recorded == "AMD EPYC (AVX2)"
    assert host_label("AMD EPYC", "AVX-512 VNNI BF16", "Linux-x") != recorded
    old = host_label("AMD EPYC", None, "Linux-6.18.44-fc-v857-x86_64-with-glibc2.36")
    assert old == "unrecorded host (AMD EPYC; Linux-6.18.44-fc-v857-x86_64-with-glibc2.36)"
    assert old != host_label("AMD EPYC", None, "Linux-6.18.44-fc-v1045-x86_64-with-glibc2.36")


def test_results_without_a_host_identity_are_told_apart_by_their_kernel_build():
    # Result files written before host records keep only "AMD EPYC" and a platform string; two VMs of one
    # type that way once shared a hardware tag (the published tables were timed on an AVX-512 host and an
    # AVX2-only one). The platform strings below are those two hosts' kernel builds.
    import dataclasses

    from pixbench.results import Environment

    base = read_result(COMMITTED / "kodak" / "jpeg" / "identity.json")

    def old_style(platform: str):
        env = Environment(
            pixbench="0.1.0",
            onnxruntime="1.32.0",
            provider="CPUExecutionProvider",
            cpu="AMD EPYC",
            cores=2,
            platform=platform,
            python="3.11.7",
        )
        return dataclasses.replace(base, environment=env)

    later = old_style("Linux-6.18.44-fc-v1045-x86_64-with-glibc2.36")
    earlier = old_style("Linux-6.18.44-fc-v857-x86_64-with-glibc2.36")
    assert later.hardware != earlier.hardware
    assert later.hardware.startswith("unrecorded host (AMD EPYC; Linux-6.18.44-fc-v1045")
    # the published rows now carry the full identity, so their label names the CPU and its ISA
    assert base.hardware == f"{base.environment.cpu} ({base.environment.isa}), CPU, 2 threads"


def test_a_new_result_records_the_full_identity(tmp_path):
    ds = write_tiny_dataset(tmp_path / "ds", "jpeg", n=2, size=32)
    model = MODELS / "jpeg" / "identity.onnx"
    options = EvaluateOptions(lpips=False, warmup=0, runs=1, threads=1)
    result = evaluate(model, ds, tmp_path / "r.json", options)
    env = result.environment
    assert set(env.as_dict()) == {f for f in Environment.__dataclass_fields__ if f != "cpu_flags"} | (
        {"cpu_flags"} if env.cpu_flags is not None else set()
    )
    assert env.threads == 1 and env.isa == isa_class(env.cpu_flags) and env.date
    assert result.hardware == f"{env.cpu} ({env.isa}), CPU, 1 threads"
    assert result.speed is not None and result.speed.run is None and result.speed.input_resized_to is None
    assert read_result(tmp_path / "r.json").environment == env


def test_environment_of_a_python_model_has_its_one_thread():
    model = load_model(MODELS / "inpaint-2x75" / "biharmonic.json")
    env = environment(model)
    assert env.provider == "python" and env.threads == 1


def test_the_published_classifier_is_found_to_resize_its_input():
    model = load_model(MODELS / "detect" / "mobilenetv2-classifier.onnx", threads=1)
    assert input_resize(model, resolve_spec(model, "detect"), 1080, 1920) == [128, 128]
    other = load_model(MODELS / "detect" / "sepunet-detector.onnx", threads=1)
    assert input_resize(other, resolve_spec(other, "detect"), 1080, 1920) is None


def _resize_model(path: Path, *, after_conv: bool) -> Path:
    """x -> (Mul by 1 ->) Resize to 16x16 (-> Conv 1x1 before it when ``after_conv``) -> mean probability."""
    inits = [
        numpy_helper.from_array(np.array([1, 3, 16, 16], np.int64), "sizes"),
        numpy_helper.from_array(np.ones((3, 3, 1, 1), np.float32), "w"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(np.array([1], np.int64), "axis"),
    ]
    first = helper.make_node("Conv", ["x", "w"], ["y"]) if after_conv else helper.make_node("Mul", ["x", "one"], ["y"])
    nodes = [
        first,
        helper.make_node("Resize", ["y", "", "", "sizes"], ["r"], mode="linear"),
        helper.make_node("ReduceMean", ["r"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "axis"], ["p"]),
    ]
    return save_model(
        path,
        nodes,
        [helper.make_tensor_value_info("x", FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("p", FLOAT, ["N", 1])],
        inits,
        {"pixbench.task": "detect", "pixbench.output": "probability"},
    )


def test_a_resize_on_the_input_path_is_found_and_one_inside_the_network_is_not(tmp_path):
    direct = load_model(_resize_model(tmp_path / "a.onnx", after_conv=False), threads=1)
    assert input_resize(direct, resolve_spec(direct, "detect"), 1080, 1920) == [16, 16]
    inside = load_model(_resize_model(tmp_path / "b.onnx", after_conv=True), threads=1)
    assert input_resize(inside, resolve_spec(inside, "detect"), 1080, 1920) is None
