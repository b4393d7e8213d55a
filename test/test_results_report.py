"""Step lines, timing accounting, the results JSON and the Final block."""
import json
import os
import re
import types

import pytest
import tensorflow.compat.v1 as tf

from common import report
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


def test_hook_logs_every_n_and_last_step(tf_graph, capsys):
    runtime = types.SimpleNamespace(iterations_per_loop=4, rank_size=1, device="cpu",
                                    precision="fp32", precision_mode="force_fp32")
    recorder = RunRecorder("Net", "task", batch_size=8, runtime=runtime, skip_steps=2)
    step = tf.train.get_or_create_global_step()
    loss = 10.0 / (1.0 + tf.cast(step, tf.float32))
    with tf.control_dependencies([loss]):  # the loss of step N is computed before N+1 starts
        train_op = step.assign_add(1)
    hook = recorder.hook(loss, {"lr": tf.constant(0.5)})
    with tf.train.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(10):
            sess.run(train_op)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("step = ")]
    assert [int(STEP_LINE.match(l).group(1)) for l in lines] == [0, 4, 8, 9]
    summary = recorder.summary()
    assert [s for s, _ in summary["loss_history"]] == [0, 4, 8, 9]
    assert summary["loss_history"][1][1] == pytest.approx(10.0 / 5.0)
    assert summary["steps_run"] == 10 and summary["timing_skipped_steps"] == 2
    kept = [ms for _, ms in summary["step_time_ms"][2:]]
    # step_time_ms is rounded to 1 us, so compare to that precision
    assert summary["ms_per_step"] == pytest.approx(sum(kept) / len(kept), rel=1e-3, abs=1e-3)
    assert summary["throughput"] == pytest.approx(8 * 1000.0 / summary["ms_per_step"])


def test_timing_skip_never_eats_short_runs():
    recorder = RunRecorder("Net", "t", batch_size=4, skip_steps=5)
    for step, seconds in enumerate([9.0, 0.1, 0.1]):
        recorder._on_step(step, 1.0, seconds)
    ms, skipped = recorder.timing()
    assert skipped == 1 and ms == pytest.approx(100.0)


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
                     "Final Performance ms/step : 83.33",
                     "Final Precision Accuracy : 0.8504902",
                     "Final Training Duration sec : 12.50",
                     "E2E Training Duration sec : 20.00"]
    assert name == "Bert-base_bs32_1p_acc"
    assert [l.split(" = ")[0] for l in case] == ["Network", "RankSize", "BatchSize", "DeviceType",
                                                 "CaseName", "ActualFPS", "TrainingTime",
                                                 "ActualLoss", "TrainAccuracy", "E2ETrainingTime"]
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
