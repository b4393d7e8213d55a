# coding=utf-8
"""Bert_base end to end on the embedded data: pretraining lowers the MLM loss, fine-tuning beats
the majority class by a wide margin, the delivery scripts print a real Final block, and bad input
gives a one-line error naming the flag or file with a non-zero exit."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from common import classifier_baseline, demo_data
from conftest import REPO_ROOT, python_env

TEST_CONFIG = {"vocab_size": 6000, "hidden_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu",
               "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
               "max_position_embeddings": 128, "type_vocab_size": 2, "initializer_range": 0.02}


@pytest.fixture(scope="module")
def config_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "bert_config.json"
    path.write_text(json.dumps(TEST_CONFIG))
    return str(path)


@pytest.fixture(scope="module")
def sentiment():
    return demo_data.prepare("bert_classifier")


@pytest.fixture(scope="module")
def pretrain_data():
    return demo_data.prepare("bert_pretrain")


def run_py(script, *args, timeout=600):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "Bert_base", script)]
                          + list(args), cwd=REPO_ROOT, env=python_env(), capture_output=True,
                          text=True, timeout=timeout)


def last_line(proc):
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def test_pretraining_on_embedded_corpus_lowers_mlm_loss(tmp_path, config_file, pretrain_data):
    out = str(tmp_path / "pretrain")
    proc = run_py("run_pretraining.py", "--bert_config_file=" + config_file,
                  "--input_file=%s/train.tfrecord" % pretrain_data,
                  "--eval_input_file=%s/eval.tfrecord" % pretrain_data, "--output_dir=" + out,
                  "--do_train", "--do_eval", "--train_batch_size=16", "--eval_batch_size=16",
                  "--max_eval_steps=10", "--num_train_steps=80", "--num_warmup_steps=8",
                  "--learning_rate=2e-3", "--iterations_per_loop=20",
                  "--precision_mode=force_fp32", "--save_checkpoints_steps=1000",
                  "--npu_bert_loss_scale=0",    # the delivery's flag: 0 = dynamic (state to strip)
                  "--export_dir=%s/export" % out, "--vocab_file=%s/vocab.txt" % pretrain_data)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the clean export: model variables and global_step only, plus config and vocab
    import tensorflow.compat.v1 as tf
    exported = dict(tf.train.list_variables(os.path.join(out, "export", "bert_model.ckpt")))
    trained = dict(tf.train.list_variables(out))
    assert any(n.endswith("/adam_m") for n in trained) and any(n.startswith("loss_scale/") for n in trained)
    assert set(exported) == {n for n in trained if n.startswith(("bert/", "cls/")) and
                             not n.endswith(("/adam_m", "/adam_v"))} | {"global_step"}
    assert {"bert_config.json", "vocab.txt"} <= set(os.listdir(os.path.join(out, "export")))
    assert "to %s/export: load this folder in other tools" % out in proc.stdout  # not the raw checkpoint
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    losses = [loss for _, loss in results["loss_every_step"]]
    assert len(losses) == 80
    first, last = losses[0], sum(losses[-10:]) / 10.0
    assert first > 8.5                   # ln(6000) + ln(2): nothing learnt yet
    assert last < first - 1.5, (first, last)
    assert results["metrics"]["masked_lm_loss"] < 7.2          # unigram-level or better
    assert results["precision_metric"]["name"] == "MLM Accuracy"
    assert 0.0 < results["metrics"]["masked_lm_accuracy"] <= 1.0
    assert "step = 20, loss = " in proc.stdout and "mlm_loss = " in proc.stdout


def test_finetune_on_embedded_sentiment_beats_majority(tmp_path, config_file, sentiment):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        shutil.copy(os.path.join(sentiment, name), str(data / name))
    with open(os.path.join(sentiment, "dev.tsv"), encoding="utf-8") as f:
        dev = f.read().splitlines()
    (data / "test.tsv").write_text("\n".join(dev[:51]) + "\n", encoding="utf-8")
    labels = [line.split("\t")[0] for line in dev[1:]]
    majority = max(labels.count("0"), labels.count("1")) / float(len(labels))

    out = str(tmp_path / "finetune")
    proc = run_py("run_classifier.py", "--task_name=chnsenticorp", "--data_dir=%s" % data,
                  "--vocab_file=%s/vocab.txt" % sentiment, "--bert_config_file=" + config_file,
                  "--output_dir=" + out, "--do_train", "--do_eval", "--do_predict",
                  "--max_seq_length=64", "--train_batch_size=32", "--eval_batch_size=64",
                  "--num_train_steps=250", "--learning_rate=5e-4", "--iterations_per_loop=50",
                  "--precision_mode=force_fp32")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    accuracy = results["precision_metric"]["value"]
    assert results["precision_metric"]["name"] == "Accuracy"
    assert accuracy > majority + 0.15, (accuracy, majority)
    with open(os.path.join(out, "test_results.tsv")) as f:
        rows = [list(map(float, line.split("\t"))) for line in f.read().splitlines()]
    assert len(rows) == 50 and all(abs(sum(r) - 1.0) < 1e-4 for r in rows)


@pytest.fixture
def device_id():
    """A private ASCEND_DEVICE_ID so the script test writes its own test/output/<id>/ folder."""
    name = "pytest-%d" % os.getpid()
    yield name
    shutil.rmtree(os.path.join(REPO_ROOT, "Bert_base", "test", "output", name),
                  ignore_errors=True)


def test_full_script_prints_a_real_final_block(device_id):
    env = python_env({"ASCEND_DEVICE_ID": device_id, "PYTHON": sys.executable})
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Bert_base", "test",
                                                "train_full_1p.sh"),
                           "--train_steps=30", "--iterations_per_loop=10", "--max_seq_length=32",
                           "--precision_mode=force_fp32"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    # the script's notes head the run's output and its log
    assert proc.stdout.startswith("note: no --data_path given: running the EMBEDDED DEMO")
    assert "training 30 steps from randomly initialised weights" in proc.stdout
    assert proc.stdout.count("EMBEDDED DEMO") == 1        # said once, by the script that chose it
    with open(os.path.join(REPO_ROOT, "Bert_base", "test", "output", device_id,
                           "results_acc.json")) as f:
        assert json.load(f)["task"] == "chnsenticorp (embedded demo)"   # and recorded
    log = os.path.join(REPO_ROOT, "Bert_base", "test", "output", device_id, "train_acc_%s.log" % device_id)
    with open(log) as f:
        assert f.read().startswith("note: no --data_path given: running the EMBEDDED DEMO")
    final = proc.stdout[proc.stdout.index("------------------ Final result"):].splitlines()
    final = final[:[l.startswith("E2E Training Duration") for l in final].index(True) + 1]
    assert proc.stdout.strip().splitlines()[-1].startswith("outputs: ")   # where it all went
    keys = [line.split(" : ")[0] for line in final[1:]]
    assert keys == ["Final Performance sentences/sec", "Final Performance images/sec",
                    "Final Performance ms/step", "Final Precision Accuracy", "Final Train Accuracy",
                    "Final Baseline Accuracy", "Final Training Steps", "Final Overflow Steps",
                    "Final Training Duration sec", "E2E Training Duration sec"]
    values = dict((line.split(" : ")[0], line.split(" : ")[1]) for line in final[1:])
    # the demo's linear reference, scored on the same split by an independent call
    baseline = classifier_baseline.evaluate(demo_data.prepare("bert_classifier"), "chnsenticorp")
    assert values["Final Baseline Accuracy"] == "%.7g (%s)" % (baseline["accuracy"],
                                                             classifier_baseline.METHOD)
    assert 0.3 < float(values["Final Precision Accuracy"]) <= 1.0
    assert values["Final Training Steps"] == "30"
    assert all(float(values[k]) > 0 for k in keys if "Performance" in k or "Duration" in k)
    log_dir = os.path.join(REPO_ROOT, "Bert_base", "test", "output", device_id)
    with open(os.path.join(log_dir, "Bert-base_for_TensorFlow_bs32_1p_acc.log")) as f:
        case = [line.split(" = ")[0] for line in f.read().splitlines()]
    assert case[:10] == ["Network", "RankSize", "BatchSize", "DeviceType", "CaseName", "ActualFPS",
                         "TrainingTime", "ActualLoss", "E2ETrainingTime", "TrainAccuracy"]
    assert set(case[10:]) <= {"PrecisionStatus", "PerfStatus"}     # after the originals' keys


def test_script_without_model_path_for_real_data_fails_clearly(tmp_path):
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Bert_base", "test",
                                                "train_full_1p.sh"), "--data_path=%s" % tmp_path],
                          cwd=REPO_ROOT, env=python_env(), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    assert last_line(proc).startswith("error: --model_path is required with --data_path")


@pytest.mark.parametrize("case", ["missing_vocab", "seq_too_long", "bad_label", "unknown_task"])
def test_classifier_bad_input(case, tmp_path, config_file, sentiment):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.tsv").write_text("label\ttext_a\n1\t很好\n2\t一般\n", encoding="utf-8")
    args = {"task_name": "chnsenticorp", "data_dir": str(data),
            "vocab_file": os.path.join(sentiment, "vocab.txt"), "bert_config_file": config_file,
            "output_dir": str(tmp_path / "out"), "max_seq_length": "32"}
    expected = {
        "missing_vocab": "error: --vocab_file=%s not found" % (tmp_path / "vocab.txt"),
        "seq_too_long": "error: --max_seq_length=256 > max_position_embeddings=128 of "
                        "--bert_config_file=%s" % config_file,
        "bad_label": "error: train.tsv line 3: label '2' is not one of the task's labels "
                     "['0', '1']",
        "unknown_task": "error: --task_name=QQP is not a known task",
    }[case]
    if case == "missing_vocab":
        args["vocab_file"] = str(tmp_path / "vocab.txt")
    elif case == "seq_too_long":
        args["max_seq_length"] = "256"
    elif case == "unknown_task":
        args["task_name"] = "QQP"
    proc = run_py("run_classifier.py", "--do_train", "--num_train_steps=1",
                  "--precision_mode=force_fp32", *["--%s=%s" % kv for kv in args.items()],
                  timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert last_line(proc).startswith(expected), last_line(proc)
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("case", ["corrupt", "wrong_length", "no_match"])
def test_pretraining_bad_input(case, tmp_path, config_file, pretrain_data):
    bad = tmp_path / "bad.tfrecord"
    if case == "corrupt":
        with open(os.path.join(pretrain_data, "eval.tfrecord"), "rb") as f:
            data = bytearray(f.read(4096))
        data[20:60] = b"\xff" * 40                       # damage the first record's payload
        bad.write_bytes(bytes(data))
        input_file, expected = str(bad), "error: --input_file: %s is not a valid TFRecord" % bad
    elif case == "wrong_length":
        input_file = os.path.join(pretrain_data, "eval.tfrecord")
        expected = "error: --input_file: %s has input_ids of length 128, but the flags say 64" \
            % input_file
    else:
        input_file = str(tmp_path / "none*.tfrecord")
        expected = "error: input_file: nothing matches %s" % input_file
    proc = run_py("run_pretraining.py", "--bert_config_file=" + config_file,
                  "--input_file=" + input_file, "--output_dir=%s" % (tmp_path / "out"),
                  "--do_train", "--num_train_steps=2", "--num_warmup_steps=0",
                  "--max_seq_length=%d" % (64 if case == "wrong_length" else 128),
                  timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert last_line(proc).startswith(expected), last_line(proc)
