# coding=utf-8
"""Bert_base's NER (run_ner.py) and reading-comprehension (run_reading.py) fine-tuning end to end:
a Google-layout checkpoint loads unchanged (only the task head is new), training lowers the loss
and learns a small synthetic task, eval / predict write their files, the delivery scripts print a
real Final block on the embedded demo data, and bad input is one `error:` line naming file and
line / question."""
import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from common import demo_data
from common.demo_data import downstream  # noqa: F401  (registers bert_ner / bert_reading)
from conftest import REPO_ROOT, final_block, python_env

TEST_CONFIG = {"vocab_size": 6000, "hidden_size": 64, "num_hidden_layers": 2,
               "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu",
               "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
               "max_position_embeddings": 128, "type_vocab_size": 2, "initializer_range": 0.02}
PEOPLE = ["江泽民", "李鹏", "朱镕基", "乔石", "钱其琛"]
PLACES = ["北京", "上海", "香港", "广州", "天津"]
ORGS = ["新华社", "国务院", "人民日报社"]


@pytest.fixture(scope="module")
def ner_demo():
    return demo_data.prepare("bert_ner")


@pytest.fixture(scope="module")
def google_checkpoint(tmp_path_factory, ner_demo):
    """A folder in the layout of Google's chinese_L-12_H-768_A-12: bert_config.json, vocab.txt,
    bert_model.ckpt.* holding the bert/* variables only."""
    import tensorflow.compat.v1 as tf
    from Bert_base import modeling

    folder = tmp_path_factory.mktemp("chinese_tiny")
    (folder / "bert_config.json").write_text(json.dumps(TEST_CONFIG))
    shutil.copy(os.path.join(ner_demo, "vocab.txt"), str(folder / "vocab.txt"))
    with tf.Graph().as_default():
        ids = tf.zeros([1, 8], tf.int32)
        modeling.BertModel(modeling.BertConfig.from_dict(TEST_CONFIG), False, ids)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, str(folder / "bert_model.ckpt"), write_meta_graph=False)
    os.remove(str(folder / "checkpoint"))   # Google's folders have no checkpoint state file
    return str(folder)


def run_py(script, *args):
    return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "Bert_base", script)]
                          + list(args), cwd=REPO_ROOT, env=python_env(), capture_output=True,
                          text=True, timeout=600)


def last_line(proc):
    lines = proc.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def synthetic_sentences(rng, count):
    out = []
    for _ in range(count):
        per, loc, org = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(ORGS)
        if rng.random() < 0.5:
            out.append(([(per, "PER"), ("在", None), (loc, "LOC"), ("会见", None), (org, "ORG"),
                         ("代表。", None)]))
        else:
            out.append(([(org, "ORG"), ("记者到", None), (loc, "LOC"), ("采访", None),
                         (per, "PER"), ("。", None)]))
    return out


def write_conll(path, sentences):
    lines = []
    for parts in sentences:
        for text, kind in parts:
            for i, char in enumerate(text):
                lines.append("%s %s" % (char, "O" if not kind else ("B-" if i == 0 else "I-") + kind))
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def losses(out):
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    values = [loss for _, loss in results["loss_every_step"]]
    return results, values


def test_ner_from_a_google_checkpoint_learns_and_predicts(tmp_path, google_checkpoint):
    rng = random.Random(3)
    data = tmp_path / "ner"
    data.mkdir()
    write_conll(data / "train.txt", synthetic_sentences(rng, 96))
    write_conll(data / "dev.txt", synthetic_sentences(rng, 24))
    test = synthetic_sentences(rng, 5)
    (data / "test.txt").write_text("\n\n".join("\n".join("".join(t for t, _ in s)) for s in test)
                                   + "\n", encoding="utf-8")   # one character per line, no tags
    out = str(tmp_path / "out")
    proc = run_py("run_ner.py", "--data_dir=%s" % data, "--init_checkpoint=" + google_checkpoint,
                  "--vocab_file=%s/vocab.txt" % google_checkpoint,
                  "--bert_config_file=%s/bert_config.json" % google_checkpoint,
                  "--output_dir=" + out, "--do_train", "--do_eval", "--do_predict",
                  "--max_seq_length=32", "--train_batch_size=16", "--eval_batch_size=16",
                  "--num_train_steps=60", "--learning_rate=2e-3", "--iterations_per_loop=20",
                  "--precision_mode=force_fp32")
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every encoder variable from the checkpoint; only the token classifier is new
    assert "from initializer: output_weights:0, output_bias:0" in proc.stderr
    results, values = losses(out)
    assert results["precision_metric"]["name"] == "F1"
    assert sum(values[-10:]) / 10 < values[0] / 3, (values[0], values[-10:])
    assert results["precision_metric"]["value"] > 0.6, proc.stdout[-1500:]
    assert set(results["metrics"]) >= {"eval_f1_PER", "eval_f1_LOC", "eval_f1_ORG"}
    with open(os.path.join(out, "label_list.txt")) as f:
        assert f.read().split() == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    with open(os.path.join(out, "test_predictions.txt"), encoding="utf-8") as f:
        blocks = f.read().strip().split("\n\n")
    assert [[l.split("\t")[0] for l in b.splitlines()] for b in blocks] == \
        [list("".join(t for t, _ in s)) for s in test]


def test_reading_from_a_google_checkpoint_learns_and_predicts(tmp_path, google_checkpoint):
    rng = random.Random(5)

    def questions(count, prefix):
        paragraphs = []
        for i in range(count):
            per, loc, org = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(ORGS)
            context = "%s在%s会见了%s的代表。天气很好。" % (per, loc, org)
            paragraphs.append({"context": context, "qas": [
                {"id": "%s%d" % (prefix, i), "question": "谁在%s会见了%s的代表" % (loc, org),
                 "answers": [{"text": per, "answer_start": 0}]}]})
        return {"data": [{"title": prefix, "paragraphs": paragraphs}]}

    data = tmp_path / "qa"
    data.mkdir()
    for name, count in (("train", 96), ("dev", 16)):
        (data / ("%s.json" % name)).write_text(json.dumps(questions(count, name),
                                                          ensure_ascii=False), encoding="utf-8")
    shutil.copy(str(data / "dev.json"), str(data / "test.json"))
    out = str(tmp_path / "out")
    proc = run_py("run_reading.py", "--data_dir=%s" % data,
                  "--init_checkpoint=" + google_checkpoint,
                  "--vocab_file=%s/vocab.txt" % google_checkpoint,
                  "--bert_config_file=%s/bert_config.json" % google_checkpoint,
                  "--output_dir=" + out, "--do_train", "--do_eval", "--do_predict",
                  "--max_seq_length=48", "--max_query_length=16", "--doc_stride=8",
                  "--train_batch_size=16", "--eval_batch_size=16", "--num_train_steps=60",
                  "--learning_rate=2e-3", "--iterations_per_loop=20", "--precision_mode=force_fp32")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ("from initializer: cls/squad/output_weights:0, cls/squad/output_bias:0"
            in proc.stderr)
    results, values = losses(out)
    assert results["precision_metric"]["name"] == "EM"
    assert "cmrc2018 evaluation: EM" in proc.stdout
    assert sum(values[-10:]) / 10 < values[0] / 2, (values[0], values[-10:])
    assert results["precision_metric"]["value"] > 0.5, proc.stdout[-1500:]
    with open(os.path.join(out, "test_predictions.json")) as f:
        predictions = json.load(f)
    dev = json.loads((data / "dev.json").read_text(encoding="utf-8"))["data"][0]["paragraphs"]
    contexts = {p["qas"][0]["id"]: p["context"] for p in dev}
    assert set(predictions) == set(contexts)
    assert all(text and text in contexts[qid] for qid, text in predictions.items())


def test_bad_inputs_are_one_line_errors(tmp_path, google_checkpoint):
    flags = ["--vocab_file=%s/vocab.txt" % google_checkpoint,
             "--bert_config_file=%s/bert_config.json" % google_checkpoint,
             "--output_dir=%s" % (tmp_path / "out"), "--do_train", "--max_seq_length=64"]
    ner = tmp_path / "ner"
    ner.mkdir()
    (ner / "train.txt").write_text("北 B-LOC\n京 LOC\n", encoding="utf-8")
    proc = run_py("run_ner.py", "--data_dir=%s" % ner, *flags)
    assert proc.returncode == 1
    assert last_line(proc).startswith("error: train.txt line 2: tag 'LOC' is neither O nor")
    qa = tmp_path / "qa"
    qa.mkdir()
    (qa / "train.json").write_text(json.dumps({"data": [{"paragraphs": [{"context": "北京", "qas": [
        {"id": "q3", "question": "哪里", "answers": [{"text": "上海", "answer_start": 0}]}]}]}]}),
        encoding="utf-8")
    proc = run_py("run_reading.py", "--data_dir=%s" % qa, "--max_query_length=16", *flags)
    assert proc.returncode == 1
    assert last_line(proc).startswith("error: train.json question id q3: answer '上海' is not at")
    assert not os.path.exists(tmp_path / "out" / "train.tf_record")


@pytest.fixture
def device_id():
    name = "pytest-ds-%d" % os.getpid()
    yield name
    shutil.rmtree(os.path.join(REPO_ROOT, "Bert_base", "test", "output", name),
                  ignore_errors=True)


def test_ner_demo_script_starts_from_the_demo_pretraining_export(device_id, google_checkpoint):
    """The embedded demo with <device>/ckpt_pretrain_acc/export present (what
    train_full_1p_pretrain.sh writes): a real Final block with Final Precision F1."""
    export = os.path.join(REPO_ROOT, "Bert_base", "test", "output", device_id, "ckpt_pretrain_acc",
                          "export")
    shutil.copytree(google_checkpoint, export)
    env = python_env({"ASCEND_DEVICE_ID": device_id, "PYTHON": sys.executable})
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Bert_base", "test",
                                                "train_full_1p_ner.sh"),
                           "--train_steps=20", "--iterations_per_loop=10",
                           "--precision_mode=force_fp32"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert proc.stdout.startswith("note: no --data_path given: running the EMBEDDED DEMO")
    assert "note: no --model_path: starting from the demo pretraining's export %s" % export \
        in proc.stdout
    assert "training 20 steps from %s/bert_model.ckpt" % export in proc.stdout
    block = final_block(proc.stdout)
    assert list(block)[2:5] == ["Final Performance ms/step", "Final Precision F1",
                                "Final Train Accuracy"]
    assert 0.0 <= float(block["Final Precision F1"]) <= 1.0
    assert block["Final Training Steps"] == "20"
    with open(os.path.join(REPO_ROOT, "Bert_base", "test", "output", device_id,
                           "results_ner_acc.json")) as f:
        assert json.load(f)["task"] == "ner (embedded demo)"


def test_reading_script_on_a_data_path_and_the_delivery_aliases(tmp_path, device_id,
                                                                google_checkpoint):
    data = tmp_path / "qa"
    data.mkdir()
    paragraphs = [{"context": "%s在%s。" % (per, loc), "qas": [
        {"id": "%s%s" % (i, j), "question": "谁在%s" % loc,
         "answers": [{"text": per, "answer_start": 0}]}]}
        for i, per in enumerate(PEOPLE) for j, loc in enumerate(PLACES)]
    for name in ("train.json", "dev.json"):
        (data / name).write_text(json.dumps({"data": [{"paragraphs": paragraphs}]},
                                            ensure_ascii=False), encoding="utf-8")
    env = python_env({"ASCEND_DEVICE_ID": device_id, "PYTHON": sys.executable})
    proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Bert_base", "scripts",
                                                "run_downstream_reading.sh"),
                           "--data_path=%s" % data, "--model_path=" + google_checkpoint,
                           "--train_steps=10", "--iterations_per_loop=10", "--batch_size=8",
                           "--max_seq_length=32", "--max_query_length=16",
                           "--precision_mode=force_fp32"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "EMBEDDED DEMO" not in proc.stdout
    assert "training 10 steps from %s/bert_model.ckpt" % google_checkpoint in proc.stdout
    block = final_block(proc.stdout)
    assert list(block)[2:5] == ["Final Performance ms/step", "Final Precision EM",
                                "Final Train Accuracy"]
    assert 0.0 <= float(block["Final Precision EM"]) <= 1.0
    with open(os.path.join(REPO_ROOT, "Bert_base", "test", "output", device_id,
                           "results_reading_acc.json")) as f:
        assert json.load(f)["task"] == "reading"
    for name, target in (("classifier", "train_full_1p.sh"), ("ner", "train_full_1p_ner.sh"),
                         ("reading", "train_full_1p_reading.sh")):
        proc = subprocess.run(["bash", os.path.join(REPO_ROOT, "Bert_base", "scripts",
                                                    "run_downstream_%s.sh" % name), "--help"],
                              cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and ("usage: bash test/%s" % target) in proc.stdout


def test_embedded_demo_data_is_what_the_readme_says(ner_demo):
    from common import ner_data, squad_data
    from common.demo_data import downstream

    # the corpus' second line: 中共中央/nt 总书记/n 、/w 国家/n 主席/n 江/nr 泽民/nr
    paragraphs = downstream.tagged_paragraphs()
    next(paragraphs)
    assert next(paragraphs) == (u"中共中央总书记、国家主席江泽民", [("ORG", 0, 4), ("PER", 12, 15)])
    dev = ner_data.read_split(ner_demo, "dev", "conll")
    assert ner_data.labels_of(dev) == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert len(dev) > 1500
    reading = demo_data.prepare("bert_reading")
    examples = squad_data.read_squad_examples(os.path.join(reading, "dev.json"), True)
    assert len(examples) > 800 and squad_data.choose_metric(examples) == "cmrc2018"
    words = list(downstream.QUESTION_WORDS.values())
    for ex in examples:
        assert sum(w in ex.question_text for w in words) >= 1
        assert ex.orig_answer_text in ex.context       # read_squad_examples checked the offset
