"""make demo keeps to its own folder inside the clone; CI runs the suite on both TF stacks."""
import os
import re
import subprocess

from conftest import REPO_ROOT


def dry_run(target, *args):
    return subprocess.run(["make", "-n", "--no-print-directory", target] + list(args),
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=60).stdout


def test_demo_writes_only_under_demo_output():
    commands = dry_run("demo", "VENV=%s" % os.path.join(REPO_ROOT, ".venv"))
    assert "OUTPUT_ROOT=%s/demo_output/" % REPO_ROOT in commands
    # nothing outside the clone (the clone itself may well live under /tmp)
    assert "/tmp/" not in commands.replace(REPO_ROOT, "<clone>")
    # the comparison reads the two runs from their own folders, not from the *.prev rotation
    assert ".prev" not in commands
    assert re.search(r"--base=\S*demo_output/compare_force_fp32/0/results_perf.json", commands)


def test_ci_runs_both_stacks_in_their_own_venvs():
    with open(os.path.join(REPO_ROOT, ".ci", "run")) as f:
        ci = f.read()
    assert "make test " in ci and "make test-tf1" in ci
    commands = dry_run("test-tf1")
    assert "VENV=.venv-tf1" in commands and "python3.7" in commands
