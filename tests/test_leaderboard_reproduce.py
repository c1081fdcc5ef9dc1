"""`leaderboards/reproduce.py` builds the user's command lines from its one table of benchmarks."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT, load_script


@pytest.fixture(scope="module")
def reproduce():
    yield from load_script(REPO_ROOT / "leaderboards" / "reproduce.py", "reproduce")


@pytest.fixture(autouse=True)
def fresh_checkout(reproduce, tmp_path, monkeypatch):
    """Dry runs see a checkout without published or work files, so every step is listed."""
    (tmp_path / "recipes").symlink_to(REPO_ROOT / "recipes", target_is_directory=True)
    monkeypatch.setattr(reproduce, "REPO", tmp_path)


def commands(capsys) -> list[str]:
    return [line[2:] for line in capsys.readouterr().out.splitlines() if line.startswith("$ ")]


def test_dry_run_lists_the_full_path_for_one_benchmark(reproduce, capsys):
    reproduce.main(["--dry-run", "--only", "inpaint-2x75"])
    recipe = "recipes/inpaint-2x75.yaml"
    data, models, results = "leaderboards/work/data", "leaderboards/models/inpaint-2x75", "leaderboards/results"
    kodak = f"--dataset {data}/inpaint-2x75-kodak --split test -o {results}/kodak/inpaint-2x75"
    set14 = f"--dataset {data}/inpaint-2x75-set14 --split test -o {results}/set14/inpaint-2x75"
    assert commands(capsys) == [
        f"pixbench build-dataset {recipe} -o {data}/inpaint-2x75-bsd68 --source folder:../shared/datasets/bsd68",
        f"pixbench build-dataset {recipe} -o {data}/inpaint-2x75-kodak --source kodak:../shared/datasets/kodak "
        "--split test",
        f"pixbench build-dataset {recipe} -o {data}/inpaint-2x75-set14 --source folder:../shared/datasets/set14 "
        "--split test",
        "pixbench train pix2pix-inpainter --config leaderboards/configs/pix2pix-inpainter.yaml "
        f"--dataset {data}/inpaint-2x75-bsd68 -o leaderboards/work/runs/inpaint-2x75/pix2pix-inpainter --seed 0",
        "pixbench export leaderboards/work/runs/inpaint-2x75/pix2pix-inpainter/best.pt "
        f"-o {models}/pix2pix-inpainter.onnx",
        f"pixbench evaluate {models}/pix2pix-inpainter.onnx {kodak}/pix2pix-inpainter.json --runs 3 --warmup 1",
        f"pixbench evaluate {models}/pix2pix-inpainter.onnx {set14}/pix2pix-inpainter.json --no-speed",
        f"pixbench baseline identity -o {models}/identity.onnx --task inpaint",
        f"pixbench evaluate {models}/identity.onnx {kodak}/identity.json",
        f"pixbench evaluate {models}/identity.onnx {set14}/identity.json --no-speed",
        f"pixbench baseline biharmonic -o {models}/biharmonic.json",
        f"pixbench evaluate {models}/biharmonic.json {kodak}/biharmonic.json",
        f"pixbench evaluate {models}/biharmonic.json {set14}/biharmonic.json --no-speed",
        f"pixbench baseline pushpull -o {models}/pushpull.onnx",
        f"pixbench evaluate {models}/pushpull.onnx {kodak}/pushpull.json",
        f"pixbench evaluate {models}/pushpull.onnx {set14}/pushpull.json --no-speed",
        "pixbench leaderboard leaderboards/results -o leaderboards --strict --zoom 1 --figure-source kodak",
    ]


def test_a_reused_model_is_evaluated_not_retrained(reproduce, capsys):
    reproduce.main(["--dry-run", "--only", "jpeg"])
    lines = commands(capsys)
    assert not any(line.startswith("pixbench train") for line in lines)
    assert (
        "pixbench evaluate leaderboards/models/blockcnn-triplets/blockcnn.onnx --dataset "
        "leaderboards/work/data/jpeg-kodak --split test -o leaderboards/results/kodak/jpeg/blockcnn.json "
        "--runs 3 --warmup 1"
    ) in lines


def test_shortened_runs_never_write_published_folders(reproduce, capsys):
    reproduce.main(
        ["--dry-run", "--only", "detect", "--steps-budget", "20", "--limit-train", "8", "--steps", "train,leaderboard"]
    )
    lines = commands(capsys)
    assert lines[0].startswith(
        "pixbench train sepunet-detector --config leaderboards/configs/sepunet-detector.yaml "
        "--dataset leaderboards/work/smoke/data/detect-detect-train-bsds400 "
        "-o leaderboards/work/smoke/runs/detect/sepunet-detector --steps 20 "
    )
    assert (
        lines[-1]
        == "pixbench leaderboard leaderboards/work/smoke/results -o leaderboards/work/smoke/tables --strict --zoom 1 "
        "--figure-source kodak"
    )
    assert not any("leaderboards/models" in line or "leaderboards/results" in line for line in lines)


def test_unknown_benchmark_is_refused(reproduce, capsys):
    with pytest.raises(SystemExit):
        reproduce.main(["--only", "depixelate"])
    assert "unknown benchmark(s) ['depixelate']" in capsys.readouterr().err


def test_depixelate_tables_score_every_model_on_the_x4_samples(reproduce, capsys):
    reproduce.main(["--dry-run", "--only", "depixelate-nearest-x4", "--steps", "evaluate"])
    lines = commands(capsys)
    assert len(lines) == 16  # 3 trained models, 3 baselines and the two grid-upscaler tiers, on Kodak and on Set14
    assert (
        "pixbench evaluate leaderboards/models/grid-upscaler-x4.onnx --dataset "
        "leaderboards/work/data/depixelate-nearest-x4-kodak --split test -o "
        "leaderboards/results/kodak/depixelate-nearest-x4/grid-upscaler-x4.json --factor 4"
    ) in lines
    assert all(line.startswith("pixbench evaluate") for line in lines)
    assert all(line.endswith("--factor 4") for line in lines if "-kodak " in line)
    assert all(line.endswith("--factor 4 --no-speed") for line in lines if "-set14 " in line)  # FPS once, on Kodak


def test_published_leaderboard_gets_the_notes_file_and_fills_the_task_pages(reproduce, capsys):
    (reproduce.REPO / "leaderboards").mkdir()
    (reproduce.REPO / "leaderboards" / "notes.json").write_text("{}", encoding="utf-8")
    (reproduce.REPO / "docs" / "tasks").mkdir(parents=True)
    (reproduce.REPO / "docs" / "tasks" / "jpeg.md").write_text("# jpeg\n", encoding="utf-8")
    reproduce.main(["--dry-run", "--only", "jpeg", "--steps", "leaderboard"])
    assert commands(capsys) == [
        "pixbench leaderboard leaderboards/results -o leaderboards --strict --zoom 1 --notes leaderboards/notes.json "
        "--figure-source kodak --prose docs/tasks/jpeg.md"
    ]
    reproduce.main(["--dry-run", "--only", "jpeg", "--steps", "leaderboard", "--steps-budget", "1"])
    assert commands(capsys)[-1].endswith("--strict --zoom 1 --figure-source kodak")  # smoke tables: no notes, no prose


def test_published_leaderboard_gets_the_papers_numbers(reproduce, capsys):
    (reproduce.REPO / "leaderboards").mkdir()
    (reproduce.REPO / "leaderboards" / "published.yaml").write_text("version: 1\n", encoding="utf-8")
    reproduce.main(["--dry-run", "--only", "jpeg", "--steps", "leaderboard"])
    assert "--strict --zoom 1 --published leaderboards/published.yaml --figure-source kodak" in commands(capsys)[-1]


def test_paper_protocols_are_built_and_scored_on_their_own_test_sources(reproduce, capsys):
    reproduce.main(["--dry-run", "--only", "jpeg-gray", "--steps", "build,baseline,evaluate"])
    data, results = "leaderboards/work/data", "leaderboards/results"
    model = "leaderboards/models/jpeg-gray/identity.onnx"
    dncnn3 = "leaderboards/work/thirdparty/jpeg-gray/dncnn3.onnx"
    deblocker = "leaderboards/models/jpeg-gray/gray-deblocker-q10.onnx"
    assert commands(capsys) == [
        "python tools/fetch_bsds400.py",  # the q10 deblocker trains on BSDS400, absent from a fresh checkout
        f"pixbench build-dataset recipes/jpeg-gray.yaml -o {data}/jpeg-gray-bsds400 "
        "--source folder:leaderboards/work/sources/bsds400",
        f"pixbench build-dataset recipes/jpeg-gray.yaml -o {data}/jpeg-gray-classic5 "
        "--source folder:../shared/datasets/classic5 --split test",
        f"pixbench build-dataset recipes/jpeg-gray.yaml -o {data}/jpeg-gray-live1 "
        "--source folder:../shared/datasets/live1 --split test",
        f"pixbench baseline identity -o {model} --task jpeg-gray",
        f"pixbench evaluate {model} --dataset {data}/jpeg-gray-classic5 --split test "
        f"-o {results}/classic5/jpeg-gray/identity.json --no-speed",
        f"pixbench evaluate {model} --dataset {data}/jpeg-gray-live1 --split test "
        f"-o {results}/live1/jpeg-gray/identity.json --no-speed",
        # DnCNN-3, converted by tools/convert_dncnn3.py into the git-ignored thirdparty folder
        f"pixbench evaluate {dncnn3} --dataset {data}/jpeg-gray-classic5 --split test "
        f"-o {results}/classic5/jpeg-gray/dncnn3.json --no-speed",
        f"pixbench evaluate {dncnn3} --dataset {data}/jpeg-gray-live1 --split test "
        f"-o {results}/live1/jpeg-gray/dncnn3.json --no-speed",
        # trained on q10 alone, so scored on the q10 samples alone, even where speed is not measured
        f"pixbench evaluate {deblocker} --dataset {data}/jpeg-gray-classic5 --split test "
        f"-o {results}/classic5/jpeg-gray/gray-deblocker-q10.json --quality 10 --no-speed",
        f"pixbench evaluate {deblocker} --dataset {data}/jpeg-gray-live1 --split test "
        f"-o {results}/live1/jpeg-gray/gray-deblocker-q10.json --quality 10 --no-speed",
    ]
    reproduce.main(["--dry-run", "--only", "jpeg", "--steps", "build"])
    assert not any("classic5" in line or "live1" in line for line in commands(capsys))


def test_rows_trained_on_bsds400_fetch_it_once_where_it_is_absent(reproduce, capsys):
    reproduce.main(["--dry-run", "--only", "detect,sr-bicubic", "--steps", "build,train"])
    lines = commands(capsys)
    assert lines.count("python tools/fetch_bsds400.py") == 1 and lines[0] == "python tools/fetch_bsds400.py"
    bsds = "--source folder:leaderboards/work/sources/bsds400"
    assert (
        f"pixbench build-dataset recipes/detect-train.yaml -o leaderboards/work/data/detect-detect-train-bsds400 {bsds}"
        in lines
    )
    # mobilenetv2-classifier was trained on detect-train version 1, kept in recipes/history/
    assert (
        "pixbench build-dataset recipes/history/detect-train-v1.yaml "
        f"-o leaderboards/work/data/detect-detect-train-v1-bsds400 {bsds}"
    ) in lines
    assert any(
        line.startswith("pixbench train mobilenetv2-classifier ")
        and "--dataset leaderboards/work/data/detect-detect-train-v1-bsds400 " in line
        for line in lines
    )
    assert (
        f"pixbench build-dataset recipes/sr-bicubic.yaml -o leaderboards/work/data/sr-bicubic-bsds400 {bsds}" in lines
    )
    for source in ("kodak", "set14", "set5", "live1"):  # the detect benchmark's four test sources
        assert any(
            line.startswith(f"pixbench build-dataset recipes/detect.yaml -o leaderboards/work/data/detect-{source} ")
            for line in lines
        )
    assert (
        "pixbench train espcn --config leaderboards/configs/espcn-x3.yaml --dataset leaderboards/work/data/sr-bicubic-bsds400 "
        "-o leaderboards/work/runs/sr-bicubic/espcn-x3 --seed 0"
    ) in lines
    (reproduce.REPO / "leaderboards/work/sources/bsds400").mkdir(parents=True)
    reproduce.main(["--dry-run", "--only", "detect", "--steps", "build"])
    assert "python tools/fetch_bsds400.py" not in commands(capsys)  # fetched already: not again


def test_localize_is_trained_on_bsds400_and_scored_with_its_baselines(reproduce, capsys):
    reproduce.main(["--dry-run", "--only", "localize", "--steps", "build,train,baseline", "--sources", "kodak"])
    assert commands(capsys) == [
        "python tools/fetch_bsds400.py",
        "pixbench build-dataset recipes/localize.yaml -o leaderboards/work/data/localize-bsds400 "
        "--source folder:leaderboards/work/sources/bsds400",
        "pixbench build-dataset recipes/localize.yaml -o leaderboards/work/data/localize-kodak "
        "--source kodak:../shared/datasets/kodak --split test",
        "pixbench train sepunet-segmenter --config leaderboards/configs/sepunet-segmenter.yaml "
        "--dataset leaderboards/work/data/localize-bsds400 -o leaderboards/work/runs/localize/sepunet-segmenter --seed 0",
        "pixbench baseline grid-localizer -o leaderboards/models/localize/grid-localizer.onnx",
        "pixbench baseline flatness -o leaderboards/models/localize/flatness.onnx",
    ]


def test_models_option_picks_rows(reproduce, capsys):
    reproduce.main(
        ["--dry-run", "--only", "depixelate-lanczos-x4", "--models", "espcn-x4", "--steps", "train,evaluate"]
    )
    lines = commands(capsys)
    assert len(lines) == 3  # trained once, scored on Kodak and on Set14
    assert lines[0].startswith("pixbench train espcn --config leaderboards/configs/espcn-x4.yaml ")
    assert all(line.startswith("pixbench evaluate ") for line in lines[1:])


def test_sources_option_picks_test_sources(reproduce, capsys):
    reproduce.main(["--dry-run", "--only", "jpeg", "--sources", "set14", "--steps", "build,evaluate"])
    lines = commands(capsys)
    assert not any("kodak" in line for line in lines)
    assert "leaderboards/results/set14/jpeg/identity.json" in lines[-1]
    with pytest.raises(SystemExit):
        reproduce.main(["--only", "jpeg", "--sources", "bsd68"])
    assert "unknown source(s) ['bsd68']" in capsys.readouterr().err


def test_committed_commands_are_those_the_table_gives(reproduce, monkeypatch, capsys):
    """results/COMMANDS.md is what `reproduce.py --commands` writes from benchmark_table.py, every config exists."""
    monkeypatch.setattr(reproduce, "REPO", REPO_ROOT)
    written = []
    monkeypatch.setattr(reproduce, "record_commands", lambda log, args: written.append(log))
    reproduce.main(["--commands"])
    (log,) = written
    committed = (REPO_ROOT / "leaderboards" / "results" / "COMMANDS.md").read_text(encoding="utf-8")
    assert committed == reproduce.commands_markdown(log)
    # 5 training sets and 12 test sets, 10 trainings and exports, 12 baselines, 56 evaluations, 1 leaderboard;
    # then the paper protocols: 4 test sets, 2 baselines and 4 evaluations, and the 6 evaluations of the
    # converted third-party models (DnCNN-3 on 4 test sets, VDSR on 2); then the BSDS400 rows and localize:
    # 1 fetch, 4 more training sets (detect-train's versions 2 and 1 replace detect's BSD68 one; sr-bicubic,
    # jpeg-gray and localize on BSDS400), 4 more test sets (detect on Set5 and LIVE1, localize on Kodak and
    # Set14), 3 trainings and exports, 2 baselines and 18 evaluations (4 detectors x 2 sources, espcn-x3 and
    # gray-deblocker-q10 x 2, 3 localize rows x 2); then detect-hard: 2 test sets, 1 baseline, 8 evaluations;
    # then depixelation at x2 and x8, per kind: x2 has 2 test sets, 3 baselines and 5 rows x 2 sources, x8 2 test
    # sets, 3 baselines and 4 rows x 2 sources (28 a kind); then the combined detector: 1 `pixbench combine`
    # and its 6 evaluations (detect on 4 sources, detect-hard on 2)
    assert len(log) == 106 + 10 + 6 + 1 + 4 + 4 + 6 + 2 + 18 + 11 + 2 * 28 + 1 + 6
    configs = {word for line in log for word in line.split() if word.startswith("leaderboards/configs/")}
    assert len(configs) == 12 and all((REPO_ROOT / c).is_file() for c in configs)
    assert not any("--epochs" in line for line in log)


def test_speed_lists_every_published_row_once_per_speed_source(reproduce, monkeypatch, capsys):
    monkeypatch.setattr(reproduce, "REPO", REPO_ROOT)
    reproduce.main(["--speed", "--dry-run", "--only", "jpeg,blockcnn-triplets"])
    out = capsys.readouterr().out.splitlines()
    # blockcnn is one model file in both tables: its 1080p frames (35 s each in the result files) are timed once
    assert out[0].startswith("speed run: 4 rows, about ")
    assert out[1:] == [
        "  leaderboards/results/kodak/blockcnn-triplets/blockcnn.json <- leaderboards/models/blockcnn-triplets/blockcnn.onnx",
        "  leaderboards/results/kodak/blockcnn-triplets/identity.json <- leaderboards/models/blockcnn-triplets/identity.onnx",
        "  leaderboards/results/kodak/jpeg/blockcnn.json <- leaderboards/models/blockcnn-triplets/blockcnn.onnx",
        "  leaderboards/results/kodak/jpeg/identity.json <- leaderboards/models/jpeg/identity.onnx",
    ]


def test_a_benchmark_not_published_on_a_speed_source_is_not_listed_for_timing(reproduce, monkeypatch, capsys):
    """The paper protocols are scored on Set5/Set14 and Classic5/LIVE1 only: no Kodak row to time, nothing to skip."""
    monkeypatch.setattr(reproduce, "REPO", REPO_ROOT)
    reproduce.main(["--speed", "--dry-run", "--only", "jpeg-gray,sr-bicubic"])
    assert capsys.readouterr().out.splitlines() == ["speed run: 0 rows, about 0 minutes"]


def test_training_curves_are_copied_beside_the_results(reproduce):
    runs = reproduce.REPO / "leaderboards" / "work" / "runs" / "blockcnn-triplets" / "blockcnn"
    runs.mkdir(parents=True)
    (runs / "curves.png").write_bytes(b"png")
    (runs / "metrics.csv").write_text("epoch,steps\n1,10\n", encoding="utf-8")
    args = reproduce.parse_args([])
    tables = {b.name: b for b in reproduce.BENCHMARKS}
    for bench, name in (("blockcnn-triplets", "blockcnn"), ("jpeg", "blockcnn")):  # trained, and reused by jpeg
        entry = next(e for e in tables[bench].entries if e.name == name)
        reproduce.record_curves(tables[bench], entry, "set14", args)
        folder = reproduce.REPO / "leaderboards" / "results" / "set14" / bench
        assert (folder / "blockcnn.curves.png").read_bytes() == b"png"
        assert (folder / "blockcnn.metrics.csv").read_text(encoding="utf-8") == "epoch,steps\n1,10\n"
    identity = next(e for e in tables["jpeg"].entries if e.name == "identity")
    reproduce.record_curves(tables["jpeg"], identity, "set14", args)  # a baseline has no training run
    assert not (reproduce.REPO / "leaderboards" / "results" / "set14" / "jpeg" / "identity.curves.png").exists()
