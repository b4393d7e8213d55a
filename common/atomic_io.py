"""Files that appear whole or not at all: written beside the target under a temporary name, then
renamed over it. An interrupted or failing write leaves the previous file (if any) untouched and
no temporary file behind."""
import contextlib
import json
import os
import shutil
import tempfile


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary path in `path`'s folder; renamed to `path` if the block succeeds."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; ours are ordinary files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text(path, text):
    with replacing(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=1) + "\n")


def copy_file(src, dst):
    with replacing(dst) as tmp:
        shutil.copyfile(src, tmp)
