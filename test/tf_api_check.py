"""Which `tf.X.Y` names a Python source uses that are not in the TF 1.15 / 2.15 common API."""
import ast
import os
import re

API_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "compat_v1_common.txt")
SKIP_DIRS = {".venv", ".git", ".cache", "__pycache__", "output", "node_modules"}


def load_api(path=API_LIST):
    with open(path) as f:
        names = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    modules = {name.rsplit(".", 1)[0] for name in names if "." in name}
    for name in list(modules):  # every ancestor of a listed name is a module too
        parts = name.split(".")
        modules.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return names, modules


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def tf_aliases(tree):
    """Names bound to tensorflow.compat.v1 in this module, and a list of forbidden imports."""
    aliases, bad = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "tensorflow.compat.v1":
                    aliases.add(alias.asname or "tensorflow")
                elif alias.name == "tensorflow" or alias.name.startswith("tensorflow.contrib"):
                    bad.append("import %s (use 'import tensorflow.compat.v1 as tf')" % alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("tensorflow.contrib") or node.module == "tensorflow":
                bad.append("from %s import ..." % node.module)
    return aliases, bad


def used_names(source):
    """Dotted names (without the alias) used through the tensorflow.compat.v1 alias."""
    tree = ast.parse(source)
    aliases, bad = tf_aliases(tree)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted and dotted.split(".")[0] in aliases:
                names.add(dotted.split(".", 1)[1])
    # Keep only maximal chains: tf.a.b.c also yields tf.a.b and tf.a as sub-nodes.
    maximal = {n for n in names if not any(o.startswith(n + ".") for o in names)}
    return maximal, bad


def check_name(name, api, modules):
    """True if `name` resolves in the common API: the longest listed prefix must not be a module
    that the rest of the chain goes into (e.g. nn is a module, so nn.<name> must itself be listed)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in api or prefix in modules:
            if i == len(parts):
                return True
            return prefix not in modules  # attribute of a listed class/function/constant
    return False


def problems_in_source(source, api=None):
    api, modules = api or load_api()
    names, bad = used_names(source)
    return bad + ["tf.%s" % n for n in sorted(names) if not check_name(n, api, modules)]


def project_sources(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                yield os.path.join(folder, name)
