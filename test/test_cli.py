"""common.cli: user errors and bad input data become one `error:` line and exit 1."""
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO_ROOT, python_env

ENTRY = textwrap.dedent("""\
    import tensorflow.compat.v1 as tf
    from absl import flags
    from common import cli
    flags.DEFINE_string("data_dir", "/some/data", "input")
    flags.DEFINE_string("fail", "", "what to raise")

    def run():
        kind = flags.FLAGS.fail
        if kind == "value":
            raise ValueError("--data_dir has no train.tsv\\nsecond line")
        if kind == "missing":
            open("/no/such/file")
        if kind == "record":
            raise tf.errors.DataLossError(None, None, "corrupted record at 12")
        if kind == "jpeg":  # TF 1.15's wording from inside a tf.data map function
            raise tf.errors.InvalidArgumentError(None, None, "{{function_node __inference_Dataset_map_7}} "
                                                 "Invalid JPEG data, size 11\\n\\t [[{{node DecodeJpeg}}]]")
        if kind == "platform":  # TF 2.15's Eigen CPU kernel on a grouped conv gradient
            raise tf.errors.InvalidArgumentError(None, None, "Gradients for grouped convolutions "
                                                 "are not supported on CPU. Please file a feature request")
        if kind == "unimplemented":
            raise tf.errors.UnimplementedError(None, None, "Fused conv implementation does not "
                                               "support grouped convolutions for now.")
        if kind == "bug":
            raise KeyError("a programming error keeps its traceback")
        print("ran")

    cli.run_entry_point(run, input_flag="data_dir")
    """)


@pytest.fixture(scope="module")
def entry(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "entry.py"
    path.write_text(ENTRY)
    return str(path)


def run(entry, *args):
    return subprocess.run([sys.executable, entry] + list(args), cwd=REPO_ROOT, env=python_env(),
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, line", [
    (["--fail=value"], "error: --data_dir has no train.tsv"),
    (["--fail=missing"], "error: [Errno 2] No such file or directory: '/no/such/file'"),
    (["--fail=record"], "error: bad input data under --data_dir=/some/data: corrupted record at 12"),
    (["--fail=jpeg"], "error: bad input data under --data_dir=/some/data: Invalid JPEG data, size 11 "
                      "(a corrupt image in a record)"),
    (["--fail=platform"], "error: this TensorFlow build cannot run the model on this device (a "
                          "platform limit, not your data): Gradients for grouped convolutions are not "
                          "supported on CPU. Please file a feature request"),
    (["--fail=unimplemented"], "error: this TensorFlow build cannot run the model on this device (a "
                               "platform limit, not your data): Fused conv implementation does not "
                               "support grouped convolutions for now."),
    (["extra"], "error: unexpected arguments extra (flags are --key=value)"),
])
def test_user_errors_are_one_line(entry, args, line):
    proc = run(entry, *args)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == line
    assert "Traceback" not in proc.stderr


def test_success_and_programming_errors(entry):
    ok = run(entry)
    assert ok.returncode == 0 and ok.stdout.strip() == "ran"
    bug = run(entry, "--fail=bug")
    assert bug.returncode == 1 and "Traceback" in bug.stderr and "KeyError" in bug.stderr
