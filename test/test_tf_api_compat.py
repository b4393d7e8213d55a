"""Every tf.* name the project uses exists in both TF 1.15 and TF 2.15 (compat.v1)."""
import os

from tf_api_check import load_api, problems_in_source, project_sources


def test_project_uses_only_common_api(repo_root):
    api = load_api()
    failures = {}
    checked = 0
    for path in project_sources(repo_root):
        if os.path.basename(path) == "tf_api_check.py":
            continue
        with open(path, encoding="utf-8") as f:
            problems = problems_in_source(f.read(), api)
        checked += 1
        if problems:
            failures[os.path.relpath(path, repo_root)] = problems
    assert checked > 10
    assert not failures, failures


# The planted names are assembled so that text searches for forbidden names skip this file.
GELU = "tf.nn." + "gelu"                        # not in TF 1.15
CONTRIB = "tf." + "contrib.layers.layer_norm"   # gone in TF 2.x


def test_checker_flags_planted_bad_names():
    source = (
        "import tensorflow.compat.v1 as tf\n"
        "x = %s(tf.zeros([2]))\n"
        "y = %s(x)\n"
        "z = tf.train.AdamOptimizer(1e-3)\n"        # fine
        "m = tf.estimator.ModeKeys.TRAIN\n"         # attribute of a listed class: fine
    ) % (GELU, CONTRIB)
    assert problems_in_source(source) == [CONTRIB, GELU]


def test_checker_rejects_plain_tensorflow_import():
    problems = problems_in_source("import tensorflow as tf\nx = tf.zeros([1])\n")
    assert problems and "import tensorflow" in problems[0]


def test_checker_follows_other_aliases():
    source = "import tensorflow.compat.v1 as tf1\na = tf1.nn.ge" "lu\nb = tf1.nn.relu\n"
    assert problems_in_source(source) == [GELU]
