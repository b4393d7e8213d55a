"""The shell contract (common/scripts/delivery.sh), driven through a model script in a temp folder."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO_ROOT, python_env

DELIVERY = os.path.join(REPO_ROOT, "common", "scripts", "delivery.sh")

FAKE_TRAIN = textwrap.dedent("""\
    import json, sys
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
    print("device: cpu, precision: fp32 (cpu, force_fp32)")
    if args.get("fail") == "1":
        print("Traceback (most recent call last):")
        print("ValueError: --data_dir has no train.tsv")
        sys.exit(3)
    print("data = %s" % args.get("data"))
    losses = [0.9, 0.6, 0.4]
    for i, loss in enumerate(losses):
        print("step = %d, loss = %.6f, examples/sec = 100.00" % (i * 10, loss))
    if args.get("write") != "0":
        with open(args["results_json"], "w") as f:
            json.dump({"batch_size": int(args["batch"]), "rank_size": 1, "device": "cpu",
                       "throughput": 400.0, "throughput_unit": "sentences/sec",
                       "ms_per_step": 80.0, "final_loss": 0.4,
                       "precision_metric": {"name": "Accuracy", "value": 0.875},
                       "durations_sec": {"train": 4.0},
                       "loss_history": [[i * 10, l] for i, l in enumerate(losses)]}, f)
    """)

SCRIPT = textwrap.dedent("""\
    #!/bin/bash
    source "{delivery}"
    Network=FakeNet RUN_KIND={kind}
    batch_size=16 train_steps=30 learning_rate=1e-3
    EXTRA_FLAGS="fail write"
    fail=0 write=1
    delivery_parse_args "$@"
    delivery_note "this is a note for the log"
    delivery_run "$PYTHON" fake_train.py --batch=$batch_size --fail=$fail --write=$write \\
        --data="$data_path"
    """)


@pytest.fixture
def model_dir(tmp_path):
    model = tmp_path / "FakeModel"
    (model / "test").mkdir(parents=True)
    (model / "fake_train.py").write_text(FAKE_TRAIN)
    for kind in ("acc", "perf"):
        (model / "test" / ("train_%s.sh" % kind)).write_text(SCRIPT.format(delivery=DELIVERY, kind=kind))
    return model


def run(model_dir, *args, kind="acc", env=None):
    full_env = python_env({"PYTHON": sys.executable})
    for key in ("ASCEND_DEVICE_ID", "RANK_SIZE", "RANK_ID"):
        full_env.pop(key, None)
    full_env.update(env or {})
    return subprocess.run(["bash", "test/train_%s.sh" % kind] + list(args), cwd=model_dir,
                          env=full_env, capture_output=True, text=True, timeout=120)


def test_final_block_and_artefacts(model_dir):
    proc = run(model_dir, "--batch_size=16", "--data_path=%s" % model_dir)
    assert proc.returncode == 0, proc.stderr
    final = proc.stdout[proc.stdout.index("------------------ Final result"):].splitlines()
    assert final[1:7] == ["Final Performance sentences/sec : 400.00",
                          "Final Performance images/sec : 400.00",
                          "Final Performance ms/step : 80.00",
                          "Final Precision Accuracy : 0.875",
                          "Final Train Accuracy : 0.875",
                          "Final Training Duration sec : 4.00"]
    assert final[7].startswith("E2E Training Duration sec : ")
    assert float(final[7].split(":")[1]) > 0
    out = model_dir / "test" / "output" / "0"         # ASCEND_DEVICE_ID defaults to 0
    log = (out / "train_0.log").read_text()
    assert "step = 20, loss = 0.400000" in log and "Final Precision Accuracy" in log
    case = (out / "FakeNet_bs16_1p_acc.log").read_text().splitlines()
    assert case[0] == "Network = FakeNet" and case[4] == "CaseName = FakeNet_bs16_1p_acc"
    assert case[-2].startswith("E2ETrainingTime = ") and case[-1] == "TrainAccuracy = 0.875"
    assert (out / "train_acc_0.log").read_text() == log             # the run's own log name
    assert (out / "train_FakeNet_bs16_1p_acc_loss.txt").read_text().split() == \
        ["0.900000", "0.600000", "0.400000"]


def test_previous_run_is_kept(model_dir):
    assert run(model_dir).returncode == 0
    assert run(model_dir, "--batch_size=8").returncode == 0
    out = model_dir / "test" / "output" / "0"
    assert (out / "train_acc_0.log.prev").exists() and (out / "FakeNet_bs16_1p_acc.log").exists()
    assert (out / "results_acc.json.prev").exists()
    assert (out / "FakeNet_bs8_1p_acc.log").exists()


def test_perf_run_has_no_precision_line(model_dir):
    proc = run(model_dir, kind="perf")
    assert proc.returncode == 0, proc.stderr
    assert "Final Performance ms/step : 80.00" in proc.stdout
    assert "Final Precision" not in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--bogus=1"], "error: unknown flag --bogus; valid: --data_path --model_path"),
    (["--learning_rate=1.2.3"], "error: --learning_rate must be a number, got '1.2.3'"),
    (["--over_dump=yes"], "error: --over_dump must be True or False"),
    (["--data_dump_step=1,2"], "error: --data_dump_step must be steps like 0|5|10"),
    (["--data_path=/no/such/dir"], "error: --data_path=/no/such/dir does not exist"),
    (["--ckpt_path=/no/ckpt"], "error: --model_path=/no/ckpt does not exist"),
    (["--batch_size=0"], "error: --batch_size must be a positive integer, got '0'"),
    (["--precision_mode=fp8"], "error: --precision_mode must be"),
    (["--data_path"], "error: flag --data_path needs a value"),
    (["positional"], "error: unexpected argument 'positional'"),
])
def test_bad_flags_fail_with_one_line(model_dir, args, message):
    proc = run(model_dir, *args)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(message)
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Final" not in proc.stdout
    assert not (model_dir / "test" / "output").exists()  # nothing written before validation


def test_failed_training_exits_nonzero_without_final_block(model_dir):
    assert run(model_dir).returncode == 0            # a good run first
    proc = run(model_dir, "--fail=1")
    assert proc.returncode == 3
    assert "Final" not in proc.stdout
    assert "training failed (exit 3)" in proc.stderr
    assert "ValueError: --data_dir has no train.tsv" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")   # the error comes last
    out = model_dir / "test" / "output" / "0"
    assert (out / "results_acc.json").exists()        # the good run's results are untouched
    assert "Final Precision" in (out / "train_acc_0.log").read_text()
    assert (out / "train_acc_0.failed.log").exists()


def test_run_without_results_fails_clearly(model_dir):
    proc = run(model_dir, "--write=0")
    assert proc.returncode == 1
    assert "error: no results file" in proc.stdout + proc.stderr
    assert "Final Performance" not in proc.stdout


def test_help_lists_flags_and_defaults(model_dir):
    proc = run(model_dir, "--help")
    assert proc.returncode == 0
    assert "--batch_size" in proc.stdout and "(default: 16)" in proc.stdout
    assert "--fail" in proc.stdout and "--ckpt_path" in proc.stdout


def test_env_defaults_respected(model_dir):
    proc = run(model_dir, env={"ASCEND_DEVICE_ID": "3"})
    assert proc.returncode == 0, proc.stderr
    assert (model_dir / "test" / "output" / "3" / "train_3.log").exists()


def test_relative_paths_notes_and_run_name(model_dir):
    (model_dir / "data").mkdir()
    proc = run(model_dir, "--data_path=data", env={"RUN_NAME": "pretrain_acc"})
    assert proc.returncode == 0, proc.stderr
    out = model_dir / "test" / "output" / "0"
    log = (out / "train_0.log").read_text()
    assert log.startswith("note: this is a note for the log\n")      # notes head the log
    assert "data = %s\n" % (model_dir / "data") in log               # made absolute before the cd
    assert (out / "results_pretrain_acc.json").exists()


FAKE_CKPT_TRAIN = textwrap.dedent("""\
    import json, os, sys
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
    os.makedirs(args["output_dir"], exist_ok=True)
    with open(os.path.join(args["output_dir"], "model.ckpt-1.index"), "w") as f:
        f.write(args.get("tag", "good"))
    print("flags: " + " ".join(sorted(args)))
    print("iterations_per_loop = %s" % args.get("iterations_per_loop"))
    if args.get("fail") == "1":
        print("error: --data_dir has garbage", file=sys.stderr)
        sys.exit(1)
    with open(args["results_json"], "w") as f:
        json.dump({"batch_size": 4, "rank_size": int(os.environ["RANK_SIZE"]), "device": "cpu",
                   "throughput": 10.0, "ms_per_step": 400.0, "final_loss": 0.5,
                   "precision_metric": {"name": "Accuracy", "value": 0.5},
                   "loss_history": [[0, 0.5]]}, f)
    """)

CKPT_SCRIPT = textwrap.dedent("""\
    #!/bin/bash
    source "{delivery}"
    Network=CkptNet RUN_KIND={kind}
    batch_size=4 EXTRA_FLAGS="fail tag" fail=0 tag=good
    delivery_parse_args "$@"
    iterations_per_loop=${{iterations_per_loop:-7}}     # a default a model's setup fills late
    delivery_run "$PYTHON" train.py --output_dir="$output_path" --fail=$fail --tag="$tag" \\
        --data_dir="$data_path"
    """)


@pytest.fixture
def ckpt_model(tmp_path):
    model = tmp_path / "Ckpt Model"          # a space in every path
    (model / "test").mkdir(parents=True)
    (model / "train.py").write_text(FAKE_CKPT_TRAIN)
    for kind in ("acc", "perf"):
        (model / "test" / ("train_%s_1p.sh" % kind)).write_text(
            CKPT_SCRIPT.format(delivery=DELIVERY, kind=kind))
    return model


def run_ckpt(model, *args, kind="acc", env=None):
    full_env = python_env({"PYTHON": sys.executable})
    full_env.update(env or {})
    return subprocess.run(["bash", "test/train_%s_1p.sh" % kind] + list(args), cwd=model,
                          env=full_env, capture_output=True, text=True, timeout=120)


def test_failed_runs_never_destroy_the_last_good_run(ckpt_model):
    out = ckpt_model / "test" / "output" / "0"
    assert run_ckpt(ckpt_model).returncode == 0
    good_ckpt = (out / "ckpt_acc" / "model.ckpt-1.index").read_text()
    good_log = (out / "train_acc_0.log").read_text()
    for _ in range(2):                                          # two failures in a row
        proc = run_ckpt(ckpt_model, "--fail=1", "--tag=bad")
        assert proc.returncode == 1
        assert proc.stderr.strip() == "error: --data_dir has garbage"   # last and alone
    assert (out / "ckpt_acc" / "model.ckpt-1.index").read_text() == good_ckpt
    assert (out / "train_acc_0.log").read_text() == good_log
    assert (out / "results_acc.json").exists()
    assert "garbage" in (out / "train_acc_0.failed.log").read_text()
    assert (out / "ckpt_acc.failed" / "model.ckpt-1.index").read_text() == "bad"
    assert "garbage" in (out / "train_0.log").read_text()       # the latest attempt, as on Ascend
    assert not list(out.glob(".running_*"))


def test_full_and_perf_runs_keep_their_own_logs(ckpt_model):
    out = ckpt_model / "test" / "output" / "0"
    assert run_ckpt(ckpt_model).returncode == 0
    assert run_ckpt(ckpt_model, kind="perf").returncode == 0
    assert run_ckpt(ckpt_model, kind="perf").returncode == 0
    assert "Final Precision" in (out / "train_acc_0.log").read_text()
    assert (out / "train_perf_0.log").exists() and (out / "train_perf_0.log.prev").exists()


def test_stale_rank_size_does_not_change_a_1p_run(ckpt_model):
    proc = run_ckpt(ckpt_model, env={"RANK_SIZE": "8", "RANK_ID": "3"})
    assert proc.returncode == 0, proc.stderr
    assert "RANK_SIZE=8 in the environment ignored" in proc.stdout
    case = (ckpt_model / "test" / "output" / "0" / "CkptNet_bs4_1p_acc.log").read_text()
    assert "RankSize = 1" in case


def test_ascend_harness_flags_are_accepted_and_passed_on(ckpt_model, tmp_path):
    data = tmp_path / "my data"
    data.mkdir()
    proc = run_ckpt(ckpt_model, "--data_path=%s" % data, "--over_dump=False",
                    "--data_dump_flag=True", "--data_dump_step=0|3-5", "--profiling=True",
                    "--autotune=False", "--loss_scale=0", "--precision_mode=force_fp16")
    assert proc.returncode == 0, proc.stderr
    passed = proc.stdout.split("flags: ")[1].split("\n")[0].split()
    for flag in ("over_dump", "data_dump_flag", "data_dump_step", "profiling", "autotune",
                 "loss_scale", "precision_mode", "data_dir"):
        assert flag in passed
    assert "iterations_per_loop = 7" in proc.stdout
