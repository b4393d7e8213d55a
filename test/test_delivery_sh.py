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
        --data=$data_path $(delivery_common_flags)
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
    assert final[1:] [:4] == ["Final Performance sentences/sec : 400.00",
                              "Final Performance ms/step : 80.00",
                              "Final Precision Accuracy : 0.875",
                              "Final Training Duration sec : 4.00"]
    assert final[5].startswith("E2E Training Duration sec : ")
    assert float(final[5].split(":")[1]) > 0
    out = model_dir / "test" / "output" / "0"         # ASCEND_DEVICE_ID defaults to 0
    log = (out / "train_0.log").read_text()
    assert "step = 20, loss = 0.400000" in log and "Final Precision Accuracy" in log
    case = (out / "FakeNet_bs16_1p_acc.log").read_text().splitlines()
    assert case[0] == "Network = FakeNet" and case[4] == "CaseName = FakeNet_bs16_1p_acc"
    assert case[-2] == "TrainAccuracy = 0.875"
    assert (out / "train_FakeNet_bs16_1p_acc_loss.txt").read_text().split() == \
        ["0.900000", "0.600000", "0.400000"]


def test_previous_run_is_kept(model_dir):
    assert run(model_dir).returncode == 0
    assert run(model_dir, "--batch_size=8").returncode == 0
    out = model_dir / "test" / "output" / "0"
    assert (out / "train_0.log.prev").exists() and (out / "FakeNet_bs16_1p_acc.log").exists()
    assert (out / "FakeNet_bs8_1p_acc.log").exists()


def test_perf_run_has_no_precision_line(model_dir):
    proc = run(model_dir, kind="perf")
    assert proc.returncode == 0, proc.stderr
    assert "Final Performance ms/step : 80.00" in proc.stdout
    assert "Final Precision" not in proc.stdout


@pytest.mark.parametrize("args, message", [
    (["--bogus=1"], "error: unknown flag --bogus (see --help)"),
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
    out = model_dir / "test" / "output" / "0"
    assert (out / "results_acc.json.prev").exists()   # the good run's results were kept


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
