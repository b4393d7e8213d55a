"""common.compare / common.loss_log: parsing every model's step lines, tables, timing ratios,
verdict, errors and the plot. No TensorFlow here except the determinism test at the end."""
import json
import math
import os
import subprocess
import sys

import pytest

from common import compare
from common.loss_log import RunInputError, load_run, mean_step_time, parse_log_text

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = "I1122 01:02:03.123456 140211 hooks.py:55] "


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), mode) as f:
        f.write(text)
    return str(path)


def results_json(path, losses, step_ms=None, skipped=0, batch_size=32, log_every=1, **extra):
    obj = {"network": "Bert_base", "batch_size": batch_size, "log_every": log_every,
           "timing_skipped_steps": skipped, "loss_history": [[s, l] for s, l in losses]}
    if step_ms is not None:
        obj["step_time_ms"] = [[s, ms] for s, ms in step_ms]
    obj.update(extra)
    return write(path, json.dumps(obj))


def run_cli(argv, capsys):
    rc = compare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def table_rows(out):
    """{step: [cells]} of the Markdown loss table."""
    rows = {}
    for line in out.splitlines():
        if line.startswith("| ") and not line.startswith("| step"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[int(cells[0])] = cells[1:]
    return rows


# ------------------------------------------------------------------ parsing every model's log format

def test_common_hook_lines_with_absl_prefix():
    text = "\n".join([
        "some banner line",
        PREFIX + "step = 0, loss = 2.500000, lr = 1.000000e-04, loss_scale = 1024, examples/sec = 10.00",
        PREFIX + "step = 100, loss = 2.345678, lr = 1.0e-04, loss_scale = 1024, examples/sec = 320.0",
        "step = 200, loss = 1.25",
        "step = 300, loss = 1.125, lr = 1e-4, ms/step = 99.5",
        # Estimator's eval summary must not be read as a step line
        "INFO:tensorflow:Saving dict for global step 300: global_step = 300, loss = 0.75",
    ])
    run = parse_log_text(text)
    assert list(run.loss.items()) == [(0, 2.5), (100, 2.345678), (200, 1.25), (300, 1.125)]
    assert run.fmt.startswith("common hook")
    kinds = [(o.step, o.kind, o.value) for o in run.timing]
    assert kinds == [(0, "examples/sec", 10.0), (100, "examples/sec", 320.0), (300, "ms", 99.5)]


def test_tf_estimator_lines_and_rates():
    text = "\n".join([
        "INFO:tensorflow:loss = 0.6931, step = 0",
        "INFO:tensorflow:global_step/sec: 10",
        "INFO:tensorflow:loss = 0.5, step = 100 (10.0 sec)",
        "I1122 01:02:03.1 1 basic_session_run_hooks.py:260] global_step/sec: 20",
        "I1122 01:02:03.1 1 basic_session_run_hooks.py:262] loss = 0.25, step = 200 (5.0 sec)",
        "INFO:tensorflow:Loss for final step: 0.2.",
    ])
    run = parse_log_text(text)
    assert list(run.loss.items()) == [(0, 0.6931), (100, 0.5), (200, 0.25)]
    # a rate printed before a loss line measured the interval that ends at that line's step
    assert [(o.step, o.kind, o.value) for o in run.timing] == [(100, "steps/sec", 10.0), (200, "steps/sec", 20.0)]
    t = mean_step_time(run, skip_steps=0)
    assert t["ms"] == pytest.approx((100.0 + 50.0) / 2) and t["n"] == 2


def test_tf2_prints_each_line_twice_and_it_counts_once():
    # TF 2.15 writes every Estimator line through both logging handlers (as in a real train_0.log)
    text = "\n".join([
        "INFO:tensorflow:loss = 0.6894285, step = 0",
        "I1122 02:24:57.279066 140445531360128 basic_session_run_hooks.py:265] loss = 0.6894285, step = 0",
        "INFO:tensorflow:global_step/sec: 4",
        "I1122 02:25:00.304174 140445531360128 basic_session_run_hooks.py:716] global_step/sec: 4",
        "INFO:tensorflow:loss = 0.69127464, step = 10 (3.025 sec)",
        "I1122 02:25:00.304174 140445531360128 basic_session_run_hooks.py:263] loss = 0.69127464, step = 10 "
        "(3.025 sec)",
        "INFO:tensorflow:global_step/sec: 5",
        "I1122 02:25:02.304174 140445531360128 basic_session_run_hooks.py:716] global_step/sec: 5",
        "INFO:tensorflow:loss = 0.5, step = 20 (2.0 sec)",
        "I1122 02:25:02.304174 140445531360128 basic_session_run_hooks.py:263] loss = 0.5, step = 20 (2.0 sec)",
    ])
    run = parse_log_text(text)
    assert list(run.loss.items()) == [(0, 0.6894285), (10, 0.69127464), (20, 0.5)]
    assert [(o.step, o.value) for o in run.timing] == [(10, 4.0), (20, 5.0)]
    assert not run.notes
    assert mean_step_time(run, skip_steps=1)["ms"] == pytest.approx(200.0)  # the first interval is warm-up


def test_resnext50_lines():
    text = "\n".join([
        PREFIX + "step: 0 epoch: 0.0 FPS: 50.0 loss: 6.900 total_loss: 8.100 lr:0.1",
        "step: 1000 epoch: 0.0 FPS: 741.5 loss: 6.766 total_loss: 7.980 lr:0.1",
        "step: 2000 epoch: 0.1 FPS: 800.0 loss: 6.5 total_loss: 7.7 lr:0.1",
    ])
    run = parse_log_text(text)
    assert list(run.loss.items()) == [(0, 6.9), (1000, 6.766), (2000, 6.5)]
    run_total = parse_log_text(text, loss_key="total_loss")
    assert list(run_total.loss.values()) == [8.1, 7.98, 7.7]
    # FPS x batch size -> ms/step; the first measurement (step 0) is warm-up
    t = mean_step_time(run, skip_steps=1, batch_size=256)
    assert t["ms"] == pytest.approx((1000 * 256 / 741.5 + 1000 * 256 / 800.0) / 2)
    assert "FPS" in t["from"]


def test_xlnet_lines():
    text = "\n".join([
        "[100] | gnorm 1.23 lr 0.000100 | loss 2.34 | pplx 10.4, bpc 3.3",
        PREFIX + "[200] | gnorm 1.10 lr 0.000090 | loss 2.10 | pplx    8.17, bpc  3.0297",
    ])
    run = parse_log_text(text)
    assert list(run.loss.items()) == [(100, 2.34), (200, 2.10)]
    assert mean_step_time(run)["ms"] is None


def test_mixed_formats_use_one_and_say_so():
    text = "\n".join(["step = %d, loss = %.2f" % (s, 3 - s / 100.0) for s in (0, 100)] +
                     ["INFO:tensorflow:loss = 9.0, step = 0", "INFO:tensorflow:loss = 8.0, step = 100"])
    run = parse_log_text(text)
    assert list(run.loss.values()) == [3.0, 2.0]
    assert any("tf estimator" in n for n in run.notes)


def test_nan_loss_and_duplicates_are_kept_visible():
    run = parse_log_text("step = 0, loss = 1.0\nstep = 1, loss = nan\nstep = 1, loss = 0.9\nstep = 2, loss = NaN\n")
    assert run.loss[1] == 0.9 and math.isnan(run.loss[2])
    assert any("more than once" in n for n in run.notes)


# ------------------------------------------------------------------ the other input forms

def test_results_json_timing_excludes_warmup(tmp_path):
    losses = [(s, 3.0 - 0.01 * s) for s in range(0, 20)]
    times = [(s, 1000.0 if s < 3 else 40.0 + (s % 2)) for s in range(20)]
    path = results_json(tmp_path / "r.json", losses, times, skipped=3)
    run = load_run(path)
    assert run.steps == list(range(20)) and run.skip_steps == 3
    t = mean_step_time(run)
    expected = sum(ms for s, ms in times[3:]) / 17.0
    assert t["ms"] == pytest.approx(expected) and t["n"] == 17 and t["skip"] == 3
    assert mean_step_time(run, skip_steps=0)["ms"] == pytest.approx(sum(ms for _, ms in times) / 20.0)


def test_loss_txt_steps_from_results_json_beside_it(tmp_path):
    out = tmp_path / "test" / "output" / "0"
    write(out / "train_Bert_base_bs32_1p_perf_loss.txt", "2.5\n2.0\n1.5\n")
    # the hook logs every 10 steps and the last one (25): the JSON's own steps are used
    results_json(out / "results_perf.json", [(0, 2.5), (10, 2.0), (25, 1.5)], log_every=10)
    run = load_run(str(out / "train_Bert_base_bs32_1p_perf_loss.txt"))
    assert list(run.loss.items()) == [(0, 2.5), (10, 2.0), (25, 1.5)]
    # a JSON of another length: first step + index x log_every
    results_json(out / "results_perf.json", [(1, 2.5), (11, 2.0)], log_every=10)
    assert load_run(str(out / "train_Bert_base_bs32_1p_perf_loss.txt")).steps == [1, 11, 21]
    # the flag wins over the JSON; without either the interval is 1
    assert load_run(str(out / "train_Bert_base_bs32_1p_perf_loss.txt"), loss_every=5).steps == [1, 6, 11]
    alone = write(tmp_path / "alone" / "train_x_loss.txt", "1\n2\n3\n")
    assert load_run(alone).steps == [0, 1, 2]


def test_output_folder_prefers_results_json_and_ignores_case_log(tmp_path):
    out = tmp_path / "Bert_base" / "test" / "output" / "0"
    write(out / "Bert_base_bs32_1p_perf.log", "Network = Bert_base\nActualLoss = 1.5\n")
    write(out / "train_0.log", "step = 0, loss = 9.0\nstep = 1, loss = 8.0\n")
    # only the log and the case log: the log is used
    assert list(load_run(str(tmp_path / "Bert_base" / "test" / "output")).loss.values()) == [9.0, 8.0]
    results_json(out / "results_perf.json", [(0, 2.0), (1, 1.0)])
    run = load_run(str(out))
    assert list(run.loss.values()) == [2.0, 1.0] and run.fmt.startswith("results JSON loss_history")


def test_previous_run_kept_by_delivery_is_read_by_content(tmp_path):
    prev = results_json(tmp_path / "results_perf.json.prev", [(0, 3.0), (5, 2.0)])
    assert list(load_run(prev).loss.items()) == [(0, 3.0), (5, 2.0)]
    log_prev = write(tmp_path / "train_0.log.prev", "step = 0, loss = 4.0\n")
    assert load_run(log_prev).steps == [0]


def test_log_takes_batch_size_from_results_json_beside_it(tmp_path):
    log = write(tmp_path / "train_0.log", "".join(
        "step = %d, loss = 1.0, examples/sec = %s\n" % (s, "1.0" if s == 0 else "400.0") for s in range(5)))
    results_json(tmp_path / "results_perf.json", [(s, 1.0) for s in range(5)], batch_size=20, skipped=1)
    t = mean_step_time(load_run(log))
    assert t["ms"] == pytest.approx(1000.0 * 20 / 400.0) and t["n"] == 4


# ------------------------------------------------------------------ the report: table, ratio, verdict

def test_table_values_and_missing_steps(tmp_path, capsys):
    base = results_json(tmp_path / "a" / "r.json", [(0, 2.0), (100, 1.5), (200, 1.0), (300, 0.8)])
    test = write(tmp_path / "b" / "train_0.log", "step = 0, loss = 2.2\nstep = 100, loss = 1.5\n"
                                                 "step = 200, loss = 0.9\nstep = 400, loss = 0.7\n")
    rc, out, err = run_cli(["--base", base, "--test", test, "--base_label=GPU", "--test_label=NPU",
                            "--steps=0,100,200,300,400,500", "--window=1", "--min_points=1"], capsys)
    rows = table_rows(out)
    assert "| step | GPU loss | NPU loss | abs diff (NPU-GPU) | rel diff | smoothed rel diff |" in out
    assert rows[0] == ["2.000000", "2.200000", "+0.200000", "+10.00%", "+10.00%"]
    assert rows[100] == ["1.500000", "1.500000", "+0.000000", "+0.00%", "+0.00%"]
    assert rows[200][:4] == ["1.000000", "0.900000", "-0.100000", "-10.00%"]
    assert rows[300] == ["0.800000", "missing", "-", "-", "-"]
    assert rows[400] == ["missing", "0.700000", "-", "-", "-"]
    assert rows[500] == ["missing", "missing", "-", "-", "-"]
    assert "Steps only in GPU: 300. Steps only in NPU: 400." in out
    assert rc == 1 and "FAIL" in out  # 10% apart at window 1


def test_every_and_default_rows(tmp_path):
    a = results_json(tmp_path / "a.json", [(s, 1.0) for s in range(1, 302, 10)])
    run = load_run(a)
    assert compare.select_steps(run, run, every=100) == [1, 101, 201, 301]
    assert compare.select_steps(run, run, every=200) == [1, 201, 301]  # the last step is always shown
    default = compare.select_steps(run, run)
    assert default[0] == 1 and default[-1] == 301 and len(default) == compare.DEFAULT_ROWS


def test_timing_ratio_from_known_step_times(tmp_path, capsys):
    losses = [(s, 1.0) for s in range(10)]
    base = results_json(tmp_path / "gpu.json", losses, [(s, 500.0 if s < 2 else 54.181) for s in range(10)],
                        skipped=2)
    test = results_json(tmp_path / "npu.json", losses, [(s, 9e4 if s < 2 else 17516.945) for s in range(10)],
                        skipped=2)
    rc, out, _ = run_cli(["--base", base, "--test", test, "--base_label=GPU", "--test_label=NPU"], capsys)
    assert rc == 0
    assert "NPU/GPU=17516.945/54.181" in out
    assert "%.2fx" % (17516.945 / 54.181) in out
    # --skip_steps overrides the JSON: with 0 the warm-up steps count
    rc, out, _ = run_cli(["--base", base, "--test", test, "--skip_steps=0"], capsys)
    gpu = (2 * 500.0 + 8 * 54.181) / 10
    npu = (2 * 9e4 + 8 * 17516.945) / 10
    assert "test/base=%.3f/%.3f" % (npu, gpu) in out


def test_timing_from_examples_per_sec_needs_batch_size(tmp_path, capsys):
    lines = "".join("step = %d, loss = 1.0, examples/sec = %s\n" % (s, 64.0 if s else 1.0) for s in range(6))
    a = write(tmp_path / "a" / "train_0.log", lines)
    b = write(tmp_path / "b" / "train_0.log", lines.replace("64.0", "32.0"))
    rc, out, _ = run_cli(["--base", a, "--test", b], capsys)
    assert "n/a (throughput is logged as examples/sec; ms/step needs the batch size (--batch_size))" in out
    rc, out, _ = run_cli(["--base", a, "--test", b, "--batch_size=32", "--min_points=6"], capsys)
    assert "test/base=1000.000/500.000" in out and rc == 0


def test_verdict_passes_identical_runs_and_fails_planted_divergence(tmp_path, capsys):
    import random
    rng = random.Random(3)
    curve = [(s, 2.0 * math.exp(-s / 400.0) + 0.5 + rng.uniform(-0.05, 0.05)) for s in range(0, 1000, 10)]
    base = results_json(tmp_path / "a.json", curve)
    same = results_json(tmp_path / "b.json", curve)
    rc, out, _ = run_cli(["--base", base, "--test", same], capsys)
    assert rc == 0 and "PASS: max smoothed relative difference 0.00%" in out
    # planted divergence: from step 600 on the test loss is 15% higher
    bad = results_json(tmp_path / "c.json", [(s, l * (1.15 if s >= 600 else 1.0)) for s, l in curve])
    rc, out, _ = run_cli(["--base", base, "--test", bad], capsys)
    assert rc == 1 and "FAIL" in out
    # the first failing smoothed step is the first whose window holds enough diverged points
    verdict = compare.compare_runs(load_run(base), load_run(bad), window=10, rtol=0.05)
    assert verdict["bad_steps"][0] > 600 and verdict["bad_steps"][-1] == 990
    # a looser tolerance lets it through
    rc, _, _ = run_cli(["--base", base, "--test", bad, "--rtol=0.2"], capsys)
    assert rc == 0


def test_smoothing_absorbs_step_noise_but_not_a_trend(tmp_path, capsys):
    # +-6% alternating per-step noise around the same curve: raw steps fail 5%, the window passes
    curve = [(s, 1.0 + 0.001 * s) for s in range(100)]
    noisy = [(s, l * (1.06 if s % 2 else 0.94)) for s, l in curve]
    a = results_json(tmp_path / "a.json", curve)
    b = results_json(tmp_path / "b.json", noisy)
    assert run_cli(["--base", a, "--test", b], capsys)[0] == 0
    assert run_cli(["--base", a, "--test", b, "--window=1"], capsys)[0] == 1


def test_verdict_fails_on_nan_and_on_no_common_steps(tmp_path, capsys):
    a = results_json(tmp_path / "a.json", [(s, 1.0) for s in range(20)])
    b = write(tmp_path / "b" / "train_0.log", "".join("step = %d, loss = %s\n" % (s, "nan" if s == 15 else "1.0")
                                                      for s in range(20)))
    rc, out, _ = run_cli(["--base", a, "--test", b], capsys)
    assert rc == 1 and "non-finite loss at 1 common step(s), first at step 15" in out
    c = results_json(tmp_path / "c.json", [(s, 1.0) for s in range(100, 120)])
    rc, out, _ = run_cli(["--base", a, "--test", c], capsys)
    assert rc == compare.EXIT_NO_VERDICT == 3 and "NO VERDICT: no step is in both runs" in out


def test_atol_covers_losses_near_zero(tmp_path, capsys):
    a = results_json(tmp_path / "a.json", [(s, 1e-4) for s in range(20)])
    b = results_json(tmp_path / "b.json", [(s, 3e-4) for s in range(20)])
    assert run_cli(["--base", a, "--test", b], capsys)[0] == 1
    assert run_cli(["--base", a, "--test", b, "--atol=1e-3"], capsys)[0] == 0


# ------------------------------------------------------------------ judged on what was really run

def _perf_results(path, losses, log_every=100):
    """A results JSON as a default perf run writes it: every step's loss, steps 0/100/.../last logged."""
    logged = [(s, l) for s, l in losses if s % log_every == 0 or s == losses[-1][0]]
    return results_json(path, logged, log_every=log_every, loss_every_step=[[s, l] for s, l in losses])


def test_verdict_uses_every_steps_loss_of_a_results_json(tmp_path, capsys):
    # identical at the logged steps 0/100/199, 8% apart over the last 50 steps in between
    base_curve = [(s, 2.0 - 0.005 * s) for s in range(200)]
    test_curve = [(s, l * (1.08 if s >= 150 and s % 100 and s != 199 else 1.0)) for s, l in base_curve]
    base = _perf_results(tmp_path / "a" / "results_perf.json", base_curve)
    test = _perf_results(tmp_path / "b" / "results_perf.json", test_curve)
    rc, out, _ = run_cli(["--base", base, "--test", test], capsys)
    assert rc == 1, out
    assert "FAIL: smoothed loss differs by more than rtol 5.00% at" in out and "of 200 common steps" in out
    assert "200 steps with a loss (steps 0..199), results JSON loss_every_step" in out
    # --every picks from every step, not from the three logged ones
    rc, out, _ = run_cli(["--base", base, "--test", base, "--every=20"], capsys)
    assert sorted(table_rows(out)) == list(range(0, 200, 20)) + [199]
    assert rc == 0 and "within rtol 5.00% over 200 common steps" in out


def test_log_beside_every_step_json_says_so_and_every_notes_unrecorded_steps(tmp_path, capsys):
    curve = [(s, 2.0 - 0.001 * s) for s in range(300)]
    _perf_results(tmp_path / "a" / "results_perf.json", curve)
    log = write(tmp_path / "a" / "train_0.log", "".join("step = %d, loss = %r\n" % (s, l)
                                                        for s, l in curve if s % 100 == 0 or s == 299))
    rc, out, _ = run_cli(["--base", log, "--test", log, "--every=20"], capsys)
    assert sorted(table_rows(out)) == [0, 100, 200, 299]
    assert "results_perf.json holds every step's loss" in out
    assert "--every=20 asks for 12 step(s) that neither run recorded" in out


def test_too_few_common_steps_give_no_verdict(tmp_path, capsys):
    a = results_json(tmp_path / "a.json", [(0, 2.0), (100, 1.5), (199, 1.0)])
    rc, out, err = run_cli(["--base", a, "--test", a], capsys)
    assert rc == compare.EXIT_NO_VERDICT == 3 and err == ""
    verdict = out.split("### Verdict")[1].strip()
    assert verdict.startswith("NO VERDICT: only 3 common step(s), fewer than the 10 a verdict needs "
                              "(--min_points)"), verdict
    assert "PASS" not in out and "FAIL" not in out
    rc, out, _ = run_cli(["--base", a, "--test", a, "--min_points=3"], capsys)
    assert rc == 0 and "PASS: max smoothed relative difference 0.00% at step 199, within rtol 5.00% over 3 " \
                       "common steps" in out
    # a NaN is a failure however few the steps
    b = results_json(tmp_path / "b.json", [(0, 2.0), (100, float("nan")), (199, 1.0)])
    rc, out, _ = run_cli(["--base", a, "--test", b], capsys)
    assert rc == 1 and "FAIL: non-finite loss at 1 common step(s)" in out


def test_plot_panels_draw_the_same_smoothed_steps(tmp_path, capsys, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.figure
    import matplotlib.pyplot as plt
    figures = []
    # keep the figure compare.plot closes (older matplotlib also calls close("all") on its own)
    monkeypatch.setattr(plt, "close", lambda fig=None: figures.append(fig)
                        if isinstance(fig, matplotlib.figure.Figure) else None)
    a = results_json(tmp_path / "a.json", [(s, 2.0 / (1 + s)) for s in range(60)])
    b = results_json(tmp_path / "b.json", [(s, 2.1 / (1 + s)) for s in range(60)])
    run_cli(["--base", a, "--test", b, "--plot", tmp_path / "p.png", "--window=10"], capsys)
    top, bottom = figures[0].axes
    smoothed_x = [list(line.get_xdata()) for ax in (top, bottom) for line in ax.get_lines()
                  if "mean" in str(line.get_label())]
    assert len(smoothed_x) == 3  # base and test on top, their relative difference below
    assert smoothed_x[0] == smoothed_x[1] == smoothed_x[2] == list(range(9, 60)), smoothed_x


# ------------------------------------------------------------------ bad input: one clear line, exit 2

@pytest.mark.parametrize("name,content,expected", [
    ("missing.log", None, "no such file or directory"),
    ("empty.log", "", "is empty"),
    ("blank_loss.txt", "\n\n", "is empty"),
    ("garbled.log", "Traceback (most recent call last):\n  oops ### \xff\n", "no training step lines found"),
    ("binary.log", b"\x00\x01\x02step = 1", "binary file"),
    ("bad.json", "{\"loss_history\": [[0, 1.0], ", "not valid JSON"),
    ("other.json", "{\"network\": \"Bert_base\"}", "no 'loss_history'"),
    ("rows.json", "{\"loss_history\": [[0, \"x\"]]}", "expected [step, value]"),
    ("emptyhist.json", "{\"loss_history\": []}", "'loss_history' is empty"),
    ("train_x_loss.txt", "1.0\n0.9\nloss: 0.8\n", "line 3: expected one loss value per line"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, name, content, expected):
    good = results_json(tmp_path / "good" / "r.json", [(0, 1.0), (1, 0.9)])
    path = tmp_path / "bad" / name
    if content is not None:
        write(path, content, "wb" if isinstance(content, bytes) else "w")
    for argv in (["--base", good, "--test", path], ["--base", path, "--test", good]):
        rc, out, err = run_cli(argv, capsys)
        assert rc == 2 and out == ""
        assert err.count("\n") == 1 and expected in err and str(path) in err, err
        assert err.startswith("python -m common.compare: error: --%s: " % ("test" if argv[1] == good else "base"))


def test_folder_without_a_run_and_ambiguous_folder(tmp_path, capsys):
    good = results_json(tmp_path / "good" / "r.json", [(0, 1.0)])
    write(tmp_path / "nothing" / "notes.txt", "hello\n")
    rc, _, err = run_cli(["--base", good, "--test", tmp_path / "nothing"], capsys)
    assert rc == 2 and "no results JSON, train_*.log" in err
    results_json(tmp_path / "two" / "results_perf.json", [(0, 1.0)])
    results_json(tmp_path / "two" / "results_acc.json", [(0, 1.0)])
    rc, _, err = run_cli(["--base", good, "--test", tmp_path / "two"], capsys)
    assert rc == 2 and "several results JSONs" in err and "results_acc.json" in err


def test_bad_flags_exit_2(tmp_path, capsys):
    good = results_json(tmp_path / "r.json", [(0, 1.0)])
    for bad in (["--steps=0,x"], ["--every=0"], ["--rtol=-1"], ["--rtol=nan"], ["--window=2.5"],
                ["--skip_steps=-1"], ["--steps=1", "--every=2"]):
        with pytest.raises(SystemExit) as e:
            compare.main(["--base", good, "--test", good] + bad)
        assert e.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1


# ------------------------------------------------------------------ plot, CLI entry point

def test_plot_is_written_and_non_empty(tmp_path, capsys):
    a = results_json(tmp_path / "a.json", [(s, 2.0 / (1 + s)) for s in range(50)])
    b = results_json(tmp_path / "b.json", [(s, 2.1 / (1 + s)) for s in range(0, 50, 2)])
    png = tmp_path / "plots" / "curves.png"
    rc, out, _ = run_cli(["--base", a, "--test", b, "--plot", png], capsys)
    assert os.path.getsize(str(png)) > 5000
    with open(str(png), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "Plot: %s" % png in out


def test_module_entry_point_without_tensorflow(tmp_path):
    a = results_json(tmp_path / "a.json", [(s, 1.0) for s in range(compare.DEFAULT_MIN_POINTS)])
    code = ("import sys; from common import compare; rc = compare.main(sys.argv[1:]); "
            "assert 'tensorflow' not in sys.modules, 'compare imported TensorFlow'; sys.exit(rc)")
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    p = subprocess.run([sys.executable, "-c", code, "--base", a, "--test", a], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "PASS" in p.stdout
    p = subprocess.run([sys.executable, "-m", "common.compare", "--base", a, "--test", str(tmp_path / "nope")],
                       env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and p.stderr.strip().endswith("nope: no such file or directory")


# ------------------------------------------------------------------ determinism of real runs (TensorFlow)

def test_two_fp32_runs_of_the_tiny_config_give_identical_loss_tables(tmp_path, capsys):
    """Same seed, same data, fp32, default run config: bit-identical losses, a 0.00% table.

    Needs the run config to seed everything that draws seeds: the graph seed (tf_random_seed), the
    input pipeline's shuffle seed, and Python's `random`, from which TF 2.x's Keras-based
    `tf.layers` initializers draw their seed when none is given (tiny_mlp's dense layers)."""
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_DETERMINISTIC_OPS", None)
    results = []
    for name in ("first", "second"):
        out = tmp_path / name
        p = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "test", "fixtures", "tiny_mlp.py"),
                            "--output_dir=%s" % out, "--precision_mode=force_fp32", "--device=cpu",
                            "--iterations_per_loop=4", "--train_steps=40", "--save_checkpoints_steps=1000"],
                           env=env, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
        results.append(str(out / "results.json"))
    with open(results[0]) as f:
        first = json.load(f)
    with open(results[1]) as f:
        second = json.load(f)
    assert len(first["loss_history"]) == 11  # steps 0, 4, ..., 36 and the last step, 39
    assert first["loss_every_step"] == second["loss_every_step"]
    rc, out, _ = run_cli(["--base", results[0], "--test", results[1], "--every=4"], capsys)
    rows = table_rows(out)
    assert sorted(rows) == list(range(0, 40, 4)) + [39]
    assert all(r[0] == r[1] and r[2] == "+0.000000" and r[3] == "+0.00%" for r in rows.values()), out
    assert rc == 0 and "PASS: max smoothed relative difference 0.00%" in out
