"""Files written whole or not at all."""
import json
import os
import stat

import pytest

from common import atomic_io


def test_write_json_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "r.json"
    atomic_io.write_json(str(path), {"a": 1})
    with pytest.raises(TypeError):
        atomic_io.write_json(str(path), {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["r.json"]  # no temporary file left behind


def test_replacing_renames_only_on_success(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_io.replacing(str(path)) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("interrupted")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["data.bin"]
    with atomic_io.replacing(str(path)) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["data.bin"]


def test_files_get_ordinary_permissions_and_folders(tmp_path):
    old = os.umask(0o022)
    try:
        target = tmp_path / "sub" / "vocab.txt"
        src = tmp_path / "src.txt"
        src.write_text("[PAD]\n")
        atomic_io.copy_file(str(src), str(target))
    finally:
        os.umask(old)
    assert target.read_text() == "[PAD]\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not mkstemp's private 0600
