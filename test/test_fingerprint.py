"""The run fingerprint (common/fingerprint.py) and the "differences between the runs" section that
common.compare prints before the loss table."""
import copy
import hashlib
import json
import os
import subprocess
import sys

from common import fingerprint
from conftest import REPO_ROOT, python_env


def test_data_files_record_size_and_hash_of_the_first_mib(tmp_path):
    big = tmp_path / "data" / "train.tfrecord"
    big.parent.mkdir()
    payload = os.urandom(1536 * 1024)
    big.write_bytes(payload)
    (tmp_path / "data" / "dev.tsv").write_text("a\tb\n")
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    records = fingerprint.data_files({"data_dir": str(tmp_path / "data"),
                                      "vocab_file": str(tmp_path / "vocab.txt"),
                                      "input_file": str(tmp_path / "data" / "*.tfrecord"),
                                      "output_dir": str(tmp_path)})
    assert set(records) == {"data_dir", "vocab_file", "input_file"}     # outputs are not data
    by_name = {os.path.basename(r["path"]): r for r in records["data_dir"]}
    assert sorted(by_name) == ["dev.tsv", "train.tfrecord"]
    assert by_name["train.tfrecord"]["size"] == len(payload)
    assert by_name["train.tfrecord"]["sha256_first_mib"] == hashlib.sha256(payload[:1 << 20]).hexdigest()
    assert [os.path.basename(r["path"]) for r in records["input_file"]] == ["train.tfrecord"]


def base_fingerprint():
    return {"precision": {"ran": "fp32 (cpu, force_fp32)", "precision_mode": "force_fp32",
                          "loss_scale": "off"},
            "flags": {"learning_rate": 1e-4, "output_dir": "/runs/a", "seed": 1, "data_dir": "/d/a"},
            "seed": 1, "deterministic": False,
            "data": {"data_dir": [{"path": "/d/a/train.tsv", "size": 10, "sha256_first_mib": "aa"}]},
            "checkpoints": [{"path": "/m/a/bert_model.ckpt", "variables_loaded": 199}],
            "versions": {"python": "3.11.7", "tensorflow": "2.15.1", "numpy": "1.26.4"},
            "device": {"device": "cpu", "cpu": "AMD EPYC"}, "environment": {"TF_X": "1"},
            "harness": {"commit": "abc", "dirty": False}}


def test_differences_ignore_where_runs_write_and_name_what_they_changed():
    a = base_fingerprint()
    b = copy.deepcopy(a)
    b["flags"].update(output_dir="/runs/b", data_dir="/elsewhere")       # places, not contents
    b["data"]["data_dir"][0]["path"] = "/elsewhere/train.tsv"
    b["checkpoints"][0]["path"] = "/other/bert_model.ckpt"
    assert fingerprint.differences(a, b) == []
    b["precision"]["ran"] = "bf16 auto-mixed-precision (cpu)"
    b["flags"]["learning_rate"] = 3e-4
    b["data"]["data_dir"][0]["sha256_first_mib"] = "bb"
    b["versions"]["tensorflow"] = "1.15.5"
    rows = fingerprint.differences(a, b)
    assert [(r[0], r[1]) for r in rows] == [
        ("precision", "ran"), ("hyper-parameters (flags)", "learning_rate"),
        ("data read", "data_dir:train.tsv"), ("versions", "tensorflow")]
    assert rows[1][2:] == (1e-4, 3e-4)


def write_results(path, fp, losses):
    path.write_text(json.dumps({"loss_history": [[i, l] for i, l in enumerate(losses)],
                                "batch_size": 8, "fingerprint": fp}))
    return str(path)


def test_compare_prints_the_differences_before_the_loss_table(tmp_path):
    a = base_fingerprint()
    b = copy.deepcopy(a)
    b["flags"]["learning_rate"] = 3e-4
    losses = [5.0 - 0.1 * i for i in range(20)]
    args = ["--base=" + write_results(tmp_path / "a.json", a, losses),
            "--test=" + write_results(tmp_path / "b.json", b, losses)]
    proc = subprocess.run([sys.executable, "-m", "common.compare"] + args, cwd=REPO_ROOT,
                          env=python_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("### Differences between the runs") < out.index("### Loss")
    assert "| hyper-parameters (flags): learning_rate | 0.0001 | 0.0003 |" in out
    assert "1 difference(s), 1 in precision, hyper-parameters, seed, data, checkpoint or versions" in out
    write_results(tmp_path / "b.json", a, losses)
    same = subprocess.run([sys.executable, "-m", "common.compare"] + args, cwd=REPO_ROOT,
                          env=python_env(), capture_output=True, text=True, timeout=60)
    assert "None: same precision, flags, seed, data" in same.stdout
    (tmp_path / "b.json").write_text(json.dumps({"loss_history": [[i, l] for i, l in enumerate(losses)]}))
    old = subprocess.run([sys.executable, "-m", "common.compare"] + args, cwd=REPO_ROOT,
                         env=python_env(), capture_output=True, text=True, timeout=60)
    assert "Not known: test has no fingerprint" in old.stdout
