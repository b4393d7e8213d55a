"""Every command the READMEs (and the scripts' docstrings, which their --help prints) show runs as
written from the folder they say: its `--help` form exits cleanly, without a traceback."""
import os
import re
import shlex
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READMES = ["README.md", "Bert_base/README.md", "ResNext50/README.md", "Albert/README.md",
           "XLNet/README.md", "bench/README.md",
           "common/README.md"]
DOCSTRING_SCRIPTS = ["Bert_base/export_checkpoint.py", "Bert_base/create_pretraining_data.py",
                     "Bert_base/convert_hf_checkpoint.py", "Bert_base/run_classifier.py",
                     "Bert_base/run_pretraining.py", "common/compare.py"]
MODEL_FOLDERS = ["Bert_base", "ResNext50"]  # where the top README's `cd <Model>; bash test/...` runs
# absl's --help exits 1; common/cli.py makes asking for help exit 0, as every other tool does
ABSL_HELP_RC = 0
# tools that take no --help (none left): run as `name` only, for their usage line
NO_HELP = {}

_START = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:\.venv/bin/python|python3?|bash)\s")


def _commands(text):
    """Command lines in code blocks and `inline code`, continuation lines joined, comments cut."""
    found = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i].strip()
        i += 1
        if _START.match(line):
            found.append(line.split("  #")[0].split(" # ")[0].strip())
    prose = re.sub(r"```.*?```", " ", text, flags=re.S)  # fenced blocks were read line by line above
    for span in re.findall(r"`([^`\n]+)`", prose.replace("\n", " ")):
        if _START.match(span.strip()):
            found.append(span.strip())
    return found


def _program(command):
    """(argv of the program without its arguments, folder it runs from) or None for a placeholder."""
    words = command.replace("|", " ").split()
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words.pop(0)
    interpreter, rest = words[0], words[1:]
    if any(w.endswith(":") for w in rest[:2]):
        return None  # an error message quoted in the prose ("python -m common.compare: error: ...")
    if interpreter == "bash":
        script = rest[0]
        if "..." in script or "<" in script:
            return None
        return ["bash", script], MODEL_FOLDERS if script.startswith("test/") else [""]
    if rest[0] == "-m":
        return [sys.executable, "-m", rest[1]], [""]
    if "..." in rest[0] or "<" in rest[0]:
        return None
    return [sys.executable, rest[0]], [""]


def _cases():
    texts = []
    for name in READMEs_present():
        with open(os.path.join(REPO_ROOT, name)) as f:
            texts.append((name, f.read()))
    for name in DOCSTRING_SCRIPTS:
        with open(os.path.join(REPO_ROOT, name)) as f:
            source = f.read()
        texts.append((name, source.split('"""')[1]))
    cases = {}
    for name, text in texts:
        for command in _commands(text):
            prog = _program(command)
            if prog is None:
                continue
            argv, folders = prog
            for folder in folders:
                if argv[0] == "bash" and not os.path.exists(os.path.join(REPO_ROOT, folder, argv[1])):
                    continue  # `bash test/x.sh` of the top README: the models that have x.sh
                cases.setdefault((tuple(argv), folder), (name, command))
    return sorted(cases.items())


def READMEs_present():
    return [n for n in READMES if os.path.exists(os.path.join(REPO_ROOT, n))]


CASES = _cases()


def test_the_readmes_show_commands_of_every_kind():
    programs = set(argv[-1] for (argv, _), _ in CASES)
    for expected in ("Bert_base/export_checkpoint.py", "Bert_base/create_pretraining_data.py",
                     "Bert_base/convert_hf_checkpoint.py", "common.compare", "test/train_full_1p.sh",
                     "Bert_base/test/train_performance_1p.sh", "ResNext50.build_imagenet_data"):
        assert expected in programs, sorted(programs)


@pytest.mark.parametrize("case", CASES, ids=["%s@%s" % (c[0][0][-1], c[0][1] or ".") for c in CASES])
def test_documented_command_help_runs_from_its_folder(case):
    (argv, folder), (source, command) = case
    key = tuple(argv[1:3])
    help_argv = list(argv) + ([] if key in NO_HELP else ["--help"])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)  # as a user's shell: nothing but the folder the command runs from
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    p = subprocess.run(help_argv, cwd=os.path.join(REPO_ROOT, folder), env=env, capture_output=True,
                       text=True, timeout=120)
    out = p.stdout + p.stderr
    where = "%s: `%s` (from %s/)" % (source, command, folder or ".")
    assert "Traceback" not in out and "ModuleNotFoundError" not in out, where + "\n" + out[-2000:]
    if key in NO_HELP:
        assert p.returncode == NO_HELP[key] and "usage:" in out, where + "\n" + out
    elif "Try --helpfull" in out:
        assert p.returncode == ABSL_HELP_RC and "flags:" in out, where + "\n" + out
    else:
        assert p.returncode == 0 and "usage" in out.lower(), where + "\n" + out[-2000:]


def test_top_readme_usage_lines_pass_the_scripts_flag_checks(tmp_path):
    """The two lines under `cd Bert_base` give every flag the script requires for real data."""
    with open(os.path.join(REPO_ROOT, "README.md")) as f:
        head = f.read().split("## ")[0]
    block = head.split("cd Bert_base")[1]
    usage = [l.split("#")[0].strip() for l in block.splitlines() if l.strip().startswith("bash test/")]
    assert len(usage) == 2, block
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in usage:
        argv = [w.replace("...", str(empty)) for w in shlex.split(command)]
        argv.append("--output_path=%s" % (tmp_path / "out"))  # not the user's test/output/<id>
        p = subprocess.run(argv, cwd=os.path.join(REPO_ROOT, "Bert_base"), capture_output=True,
                           text=True, timeout=120)
        # the empty folder is refused for what it lacks, not for a flag the README left out
        assert p.returncode != 0 and "required" not in p.stdout + p.stderr, command + "\n" + p.stderr[-1000:]
        assert "has no bert_config.json" in p.stdout + p.stderr, p.stderr[-1000:]
