"""Step lines, timing accounting, the results JSON and the Final block."""
import json
import os
import re
import types

import pytest
import tensorflow.compat.v1 as tf

import numpy as np

from common import hooks, report
from common.hooks import default_line
from common.results import RunRecorder

STEP_LINE = re.compile(r"^step = (\d+), loss = ([-\d.e+]+)(, lr = [-\d.e+]+)?(, loss_scale = [\d.e+]+)?"
                       r"(, examples/sec = [\d.]+)?$")


def test_default_line_is_parseable():
    line = default_line({"step": 100, "loss": 2.5, "lr": 1e-4, "loss_scale": 1024.0,
                         "examples_per_sec": 123.456})
    assert line == "step = 100, loss = 2.500000, lr = 1.000000e-04, loss_scale = 1024, examples/sec = 123.46"
    assert STEP_LINE.match(line)
    assert default_line({"step": 3, "loss": 1.0}) == "step = 3, loss = 1.000000"
    extra = default_line({"loss": 2.0, "mlm_loss": 1.5, "nsp_loss": 0.5, "lr": 1e-3, "step": 7,
                          "examples_per_sec": None})
    assert extra == "step = 7, loss = 2.000000, mlm_loss = 1.500000, nsp_loss = 0.500000, lr = 1.000000e-03"


class FakeClock:
    """Stands in for the hook's time.time(): advanced only by the simulated device work."""

    def __init__(self):
        self.now = 1000.0

    def time(self):
        return self.now


def simulated_device_loop(monkeypatch, steps_per_run, runs, cold_sec, step_sec):
    """Train op advancing global_step by `steps_per_run` per session.run (a device loop, as
    NPUEstimator with iterations_per_loop runs), taking cold_sec for the first run and
    step_sec per step after. Loss of step s is 10 / (1 + s)."""
    clock = FakeClock()
    monkeypatch.setattr(hooks, "time", clock)
    step = tf.train.get_or_create_global_step()
    calls = []

    def device_work():
        clock.now += cold_sec if not calls else step_sec * steps_per_run
        calls.append(1)
        return np.int64(0)

    work = tf.py_func(device_work, [], tf.int64, stateful=True)
    last_step = step + steps_per_run - 1          # the loop's last step, whose loss is fetched
    loss = 10.0 / (1.0 + tf.cast(last_step, tf.float32))
    with tf.control_dependencies([loss, work]):
        train_op = step.assign_add(steps_per_run)
    return train_op, loss


@pytest.mark.parametrize("steps_per_run, logged", [(1, [0, 4, 8, 12, 16, 19]),
                                                   (4, [3, 7, 11, 15, 19])])
def test_step_accounting_follows_global_step_in_device_loops(tf_graph, capsys, monkeypatch, tmp_path,
                                                             steps_per_run, logged):
    runtime = types.SimpleNamespace(iterations_per_loop=4, rank_size=1, device="cpu",
                                    precision="fp32", precision_mode="force_fp32")
    recorder = RunRecorder("Net", "task", batch_size=8, runtime=runtime, skip_steps=5)
    train_op, loss = simulated_device_loop(monkeypatch, steps_per_run, 20 // steps_per_run,
                                           cold_sec=2.0, step_sec=0.040)
    hook = recorder.hook(loss, {"lr": tf.constant(0.5)})
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(20 // steps_per_run):
            sess.run(train_op)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("step = ")]
    assert [int(STEP_LINE.match(l).group(1)) for l in lines] == logged
    summary = recorder.summary()
    assert summary["steps_run"] == 20 and summary["global_step"] == 20
    assert summary["session_runs"] == 20 // steps_per_run
    assert [s for s, _ in summary["loss_history"]] == logged
    for step_number, value in summary["loss_history"]:
        assert value == pytest.approx(10.0 / (1 + step_number))
    # 40 ms per step once warm: the cold first run lies inside the 5 skipped steps.
    assert summary["ms_per_step"] == pytest.approx(40.0)
    assert summary["throughput"] == pytest.approx(200.0)            # 8 examples / 40 ms
    # examples/sec of the last full window: 4 steps x 8 examples in 4 x 40 ms
    assert lines[-2].endswith("examples/sec = 200.00")
    path = tmp_path / "results.json"
    recorder.write(str(path))
    assert report.main(["--results", str(path), "--network", "N", "--kind", "perf",
                        "--log_dir", str(tmp_path), "--e2e_sec", "3"]) == 0
    case = dict(l.split(" = ") for l in (tmp_path / "N_bs8_1p_perf.log").read_text().splitlines())
    assert case["ActualFPS"] == "200.00" and case["TrainingTime"] == "40.00"
    assert case["ActualLoss"] == "%.6f" % (10.0 / 20)
    losses = (tmp_path / "train_N_bs8_1p_perf_loss.txt").read_text().split()
    assert losses == ["%.6f" % (10.0 / (1 + s)) for s in logged]


def test_short_run_says_its_timing_mixes_cold_and_warm_steps():
    recorder = RunRecorder("Net", "t", batch_size=4, skip_steps=5)
    for step, seconds in enumerate([9.0, 0.1, 0.1]):
        recorder.on_run(step, step, 1.0, seconds)
    ms, skipped = recorder.timing()
    assert skipped == 1 and ms == pytest.approx(100.0)
    assert "only 3 steps ran" in recorder.summary()["timing_note"]
    final = report.build_report(dict(make_results(), **recorder.summary()), "N", "perf", 1.0)[0]
    assert final[-1].startswith("note: only 3 steps ran")


def test_overflow_steps_are_counted_and_reported():
    recorder = RunRecorder("Net", "t", batch_size=4, skip_steps=2)
    for step in range(6):
        recorder.on_run(step, step, 1.0, 0.1, overflow=step in (0, 3, 4))
    summary = recorder.summary()
    assert summary["overflow_steps"] == 3 and summary["overflow_steps_timed"] == 2
    final = report.build_report(dict(make_results(), **summary), "N", "perf", 1.0)[0]
    assert "Final Overflow Steps : 3 (2 in the timed window)" in final


def make_results(**overrides):
    results = {"network": "X", "batch_size": 32, "rank_size": 1, "device": "cpu",
               "throughput": 384.0, "throughput_unit": "sentences/sec", "ms_per_step": 83.333,
               "final_loss": 0.25, "precision_metric": {"name": "Accuracy", "value": 0.8504902},
               "durations_sec": {"train": 12.5}, "loss_history": [[0, 0.7], [100, 0.5], [199, 0.25]]}
    results.update(overrides)
    return results


def test_final_block_and_case_log():
    final, name, case, losses = report.build_report(make_results(), "Bert-base", "acc", 20.0)
    assert final == ["------------------ Final result ------------------",
                     "Final Performance sentences/sec : 384.00",
                     "Final Performance images/sec : 384.00",   # what Ascend's tooling greps
                     "Final Performance ms/step : 83.33",
                     "Final Precision Accuracy : 0.8504902",
                     "Final Train Accuracy : 0.8504902",
                     "Final Training Duration sec : 12.50",
                     "E2E Training Duration sec : 20.00"]
    assert name == "Bert-base_bs32_1p_acc"
    assert [l.split(" = ")[0] for l in case] == ["Network", "RankSize", "BatchSize", "DeviceType",
                                                 "CaseName", "ActualFPS", "TrainingTime",
                                                 "ActualLoss", "E2ETrainingTime", "TrainAccuracy"]
    assert losses == ["0.700000", "0.500000", "0.250000"]
    perf, name, case, _ = report.build_report(make_results(throughput_unit="images/sec"), "R", "perf", 1)
    assert name == "R_bs32_1p_perf" and not any("Precision" in l for l in perf)
    assert perf[1] == "Final Performance images/sec : 384.00"
    assert "TrainAccuracy" not in "".join(case)


def test_report_errors(tmp_path):
    with pytest.raises(report.ReportError, match="no results file"):
        report.load_results(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(report.ReportError, match="not valid JSON"):
        report.load_results(str(bad))
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(make_results(ms_per_step=None)))
    with pytest.raises(report.ReportError, match="no ms_per_step"):
        report.load_results(str(empty))
    with pytest.raises(report.ReportError, match="precision metric"):
        report.build_report(make_results(precision_metric=None), "X", "acc", 1.0)


def test_report_cli_writes_files(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(make_results()))
    assert report.main(["--results", str(path), "--network", "N", "--kind", "acc",
                        "--log_dir", str(tmp_path), "--e2e_sec", "3"]) == 0
    assert "Final Precision Accuracy : 0.8504902" in capsys.readouterr().out
    assert (tmp_path / "N_bs32_1p_acc.log").read_text().startswith("Network = N\nRankSize = 1\n")
    assert (tmp_path / "train_N_bs32_1p_acc_loss.txt").read_text().split() == ["0.700000", "0.500000", "0.250000"]


def test_baseline_line_follows_the_precision_lines_when_the_run_scored_one():
    with_baseline = make_results(baseline={"name": "Accuracy", "value": 0.8455, "method": "m"})
    final = report.build_report(with_baseline, "Bert-base", "acc", 20.0)[0]
    at = [l.split(" : ")[0] for l in final].index("Final Train Accuracy")
    assert final[at + 1] == "Final Baseline Accuracy : 0.8455 (m)"
    for results, kind in ((make_results(), "acc"), (with_baseline, "perf")):
        assert not any("Baseline" in l for l in report.build_report(results, "B", kind, 1.0)[0])
