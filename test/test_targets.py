"""Targets and ModelZoo statuses (common/targets.py): which target holds for a run, OK/POK/NOK
bands, the Final block and CaseName.log lines, and --enforce_targets exiting non-zero with every
output kept."""
import json
import os

import pytest

from common import targets
from conftest import REPO_ROOT
from test_e2e_tiny import run_delivery

MACHINE = {"cpu": "AMD EPYC", "isa": "AVX-512 (+BF16, VNNI)"}
TARGETS = {"acc": {"demo": {"precision": 0.8, "fps": 100.0, "machine": MACHINE, "source": "here",
                            "precision_mode": "allow_mix_precision", "batch_size": 32, "batch_size": 32},
                   "reference": {"MRPC": {"precision": 0.84, "fps": 384.0, "fps_device": "npu",
                                          "source": "paper"}}}}


def results(task="MRPC", device="cpu", cpu="AMD EPYC", isa="AVX-512 (+BF16, VNNI)", acc=0.83, fps=90.0):
    return {"task": task, "device": device, "throughput": fps, "throughput_unit": "sentences/sec",
            "precision_mode": "allow_mix_precision", "batch_size": 32,
            "precision_metric": {"name": "Accuracy", "value": acc},
            "fingerprint": {"device": {"cpu": cpu, "isa": isa}}}


def test_bands_of_the_statuses():
    assert [targets.precision_status(v, 0.8) for v in (0.81, 0.8, 0.7925, 0.79)] == ["OK", "OK", "POK", "NOK"]
    assert [targets.precision_status(v, 2.0, lower_is_better=True) for v in (1.9, 2.01, 2.1)] == \
        ["OK", "POK", "NOK"]
    assert [targets.perf_status(v, 100.0) for v in (120.0, 85.0, 79.0)] == ["OK", "POK", "NOK"]


def test_which_target_holds():
    demo = targets.resolve(TARGETS, "acc", results(task="MRPC (embedded demo)"), demo=True)
    assert demo["precision"]["target"] == 0.8 and demo["fps"]["target"] == 100.0
    fp32 = targets.resolve(TARGETS, "acc", dict(results(), precision_mode="force_fp32"), demo=True)
    assert fp32["fps"]["target"] is None and "--precision_mode=allow_mix_precision" in fp32["fps"]["why"]
    batch = targets.resolve(TARGETS, "acc", dict(results(), batch_size=4), demo=True)
    assert batch["fps"]["target"] is None and "--batch_size=32" in batch["fps"]["why"]
    other_cpu = targets.resolve(TARGETS, "acc", results(isa="AVX2"), demo=True)
    assert other_cpu["fps"]["target"] is None and "measured on AMD EPYC" in other_cpu["fps"]["why"]
    reference = targets.resolve(TARGETS, "acc", results(), demo=False)
    assert reference["precision"]["target"] == 0.84
    assert reference["fps"]["target"] is None and "npu figure" in reference["fps"]["why"]
    assert targets.resolve(TARGETS, "acc", results(device="npu"), demo=False)["fps"]["target"] == 384.0
    unknown = targets.resolve(TARGETS, "acc", results(task="CoLA"), demo=False)
    assert unknown["precision"]["target"] is None
    given = targets.resolve(TARGETS, "acc", results(task="CoLA"), False, target_precision=0.5, target_fps=1)
    checked = targets.statuses(given, results(task="CoLA"), "acc")
    assert checked["PrecisionStatus"]["status"] == "OK" and checked["PerfStatus"]["status"] == "OK"
    assert targets.statuses(given, results(), "perf")["PrecisionStatus"]["status"] is None


def test_every_model_states_its_targets():
    for model in ("Bert_base", "Albert", "XLNet", "ResNext50"):
        with open(os.path.join(REPO_ROOT, model, "targets.json")) as f:
            data = json.load(f)
        runs = {k: v for k, v in data.items() if not k.startswith("_")}
        assert runs and all("demo" in v for v in runs.values()), model
        assert any(v.get("reference") for v in runs.values()), model


def test_enforced_target_fails_the_run_but_keeps_its_outputs(tmp_path):
    proc, out = run_delivery(tmp_path, "--device=cpu", "--precision_mode=force_fp32",
                             "--train_steps=30", "--target_precision=1.01", "--target_fps=1",
                             "--enforce_targets=True")
    assert proc.returncode == 4, proc.stderr[-2000:]
    assert "PrecisionStatus : NOK (Accuracy " in proc.stdout and "target >= 1.01; --target_precision" in proc.stdout
    assert "PerfStatus : OK (" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --enforce_targets: PrecisionStatus NOK")
    results_json = json.loads((out / "results_acc.json").read_text())      # promoted all the same
    assert results_json["targets"]["PrecisionStatus"]["status"] == "NOK"
    case = (out / "TinyMLP_bs32_1p_acc.log").read_text()
    assert "PrecisionStatus = NOK" in case and "PerfStatus = OK" in case
    assert case.index("TrainAccuracy") < case.index("PrecisionStatus")     # the originals' keys first
    bad, _ = run_delivery(tmp_path, "--device=cpu", "--target_fps=fast")
    assert bad.returncode == 1 and bad.stderr.strip() == "error: --target_fps must be a number, got 'fast'"


def test_modelzoo_level_takes_the_worst_checked_status(tmp_path):
    from common import modelzoo_level
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, statuses in (("acc", {"PrecisionStatus": "POK", "PerfStatus": "OK"}),
                           ("perf", {"PrecisionStatus": None, "PerfStatus": "NOK"})):
        (runs / ("results_%s.json" % name)).write_text(json.dumps(
            {"targets": {k: {"status": v} for k, v in statuses.items()}}))
    model = tmp_path / "Model"
    model.mkdir()
    assert modelzoo_level.main([str(model), "--runs=%s" % runs]) == 0
    assert (model / "modelzoo_level.txt").read_text() == \
        "FuncStatus:OK\nPerfStatus:NOK\nPrecisionStatus:POK\n"
    assert modelzoo_level.main([str(model), "--runs=%s" % (tmp_path / "none")]) == 1
