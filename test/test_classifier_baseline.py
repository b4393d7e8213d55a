"""common/classifier_baseline: char TF-IDF + logistic regression on a task's own train/dev split."""
import subprocess
import sys

from common import classifier_baseline
from conftest import python_env


def write_task(folder, rows_train, rows_dev):
    for name, rows in (("train.tsv", rows_train), ("dev.tsv", rows_dev)):
        (folder / name).write_text("label\ttext_a\n" + "".join("%s\t%s\n" % r for r in rows),
                                   encoding="utf-8")


def test_learns_a_character_signal_and_fails_on_noise(tmp_path):
    good = [("1", u"这个手机很好用%d" % i) for i in range(40)] + \
        [("0", u"质量太差了退货%d" % i) for i in range(40)]
    write_task(tmp_path, good, [("1", u"很好用的东西"), ("0", u"太差了"), ("1", u"好用"),
                                ("0", u"退货")])
    result = classifier_baseline.evaluate(str(tmp_path), "chnsenticorp")
    assert result["accuracy"] == 1.0 and result["train_examples"] == 80
    noise = tmp_path / "noise"
    noise.mkdir()
    flipped = [("0" if l == "1" else "1", t) for l, t in good]
    write_task(noise, good, [(l, t) for l, t in flipped[:20]] + [(l, t) for l, t in flipped[-20:]])
    assert classifier_baseline.evaluate(str(noise), "chnsenticorp")["accuracy"] == 0.0


def test_cli_error_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "common.classifier_baseline",
                           "--data_dir=%s" % tmp_path, "--task_name=chnsenticorp"],
                          env=python_env(), capture_output=True, text=True, timeout=120)
    lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error:")]
    assert proc.returncode == 1 and len(lines) == 1 and "train.tsv" in lines[0]
