"""Who trains where: rank tables, worker host lists and TF_CONFIG (pure; no TensorFlow).

A multi-device job is described either by an Ascend rank table (the v1.0 `server_list` JSON of
RANK_TABLE_FILE; samples in configs/rank_table_8p.json and configs/rank_table_2x8p.json) or by a
plain list of workers `host:port,host:port,...` (--worker_hosts), or by a count of local workers
(--rank_size=N on 127.0.0.1). Each form becomes a list of Rank(rank_id, server_id, device_id,
port) ordered by rank; off Ascend, `tf_config(ranks, rank_id)` is the TF_CONFIG of rank
`rank_id` for TensorFlow's collective runtime (MultiWorkerMirroredStrategy: worker 0 is the chief).
A rank table names no port: rank r listens on base_port + its device_id (default base 29500).

Every problem is a ClusterError with one line naming the file or flag: missing file, bad JSON,
missing fields, duplicate rank or device, ranks not 0..N-1, RANK_SIZE != entries, port in use.
"""
import collections
import json
import socket

DEFAULT_BASE_PORT = 29500
LOCAL_HOSTS = ("127.0.0.1", "localhost")

Rank = collections.namedtuple("Rank", "rank_id server_id device_id port")


class ClusterError(ValueError):
    """A rank table / host list / TF_CONFIG that cannot describe the job; one line."""


def _int_field(value, what, source):
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        raise ClusterError("%s: %s must be an integer, got %r" % (source, what, value))
    if number < 0:
        raise ClusterError("%s: %s must be >= 0, got %d" % (source, what, number))
    return number


def parse_rank_table(table, source="rank table", base_port=DEFAULT_BASE_PORT):
    """Ranks of a v1.0 rank table given as a dict (see load_rank_table), sorted by rank_id."""
    if not isinstance(table, dict) or not isinstance(table.get("server_list"), list) \
            or not table["server_list"]:
        raise ClusterError("%s: no server_list (expected the v1.0 rank table: {\"version\": "
                           "\"1.0\", \"server_list\": [{\"server_id\": ..., \"device\": "
                           "[{\"device_id\": ..., \"rank_id\": ...}]}]})" % source)
    ranks, seen_devices, seen_ranks = [], set(), {}
    for server in table["server_list"]:
        server_id = server.get("server_id") if isinstance(server, dict) else None
        if not server_id or not isinstance(server.get("device"), list) or not server["device"]:
            raise ClusterError("%s: every server_list entry needs a server_id and a device list"
                               % source)
        for device in server["device"]:
            if not isinstance(device, dict) or "device_id" not in device \
                    or "rank_id" not in device:
                raise ClusterError("%s: server %s: every device needs device_id and rank_id"
                                   % (source, server_id))
            device_id = _int_field(device["device_id"], "device_id", source)
            rank_id = _int_field(device["rank_id"], "rank_id", source)
            if (server_id, device_id) in seen_devices:
                raise ClusterError("%s: device %d of server %s is listed twice"
                                   % (source, device_id, server_id))
            if rank_id in seen_ranks:
                raise ClusterError("%s: rank_id %d is given twice (server %s and %s)"
                                   % (source, rank_id, seen_ranks[rank_id], server_id))
            seen_devices.add((server_id, device_id))
            seen_ranks[rank_id] = server_id
            ranks.append(Rank(rank_id, server_id, device_id, base_port + device_id))
    ranks.sort(key=lambda r: r.rank_id)
    if [r.rank_id for r in ranks] != list(range(len(ranks))):
        raise ClusterError("%s: rank_ids must be 0..%d, got %s"
                           % (source, len(ranks) - 1, ",".join(str(r.rank_id) for r in ranks)))
    declared = table.get("server_count")
    if declared is not None and str(declared) != str(len(table["server_list"])):
        raise ClusterError("%s: server_count is %s but server_list has %d servers"
                           % (source, declared, len(table["server_list"])))
    return ranks


def load_rank_table(path, base_port=DEFAULT_BASE_PORT):
    """Ranks of the rank-table file `path` (RANK_TABLE_FILE / --rank_table)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as exc:
        raise ClusterError("rank table %s cannot be read (%s)" % (path, exc.strerror or exc))
    try:
        table = json.loads(text)
    except ValueError as exc:
        raise ClusterError("rank table %s is not valid JSON (%s)" % (path, exc))
    return parse_rank_table(table, "rank table %s" % path, base_port)


def parse_worker_hosts(text, flag="--worker_hosts"):
    """Ranks of `host:port,host:port,...` in rank order (device_id: index among its host's)."""
    entries = [e.strip() for e in (text or "").split(",") if e.strip()]
    if not entries:
        raise ClusterError("%s is empty (expected host:port,host:port,...)" % flag)
    ranks, seen, per_host = [], set(), collections.Counter()
    for rank_id, entry in enumerate(entries):
        host, sep, port = entry.rpartition(":")
        if not sep or not host:
            raise ClusterError("%s: %r is not host:port" % (flag, entry))
        port = _int_field(port, "the port of %r" % entry, flag)
        if not 0 < port < 65536:
            raise ClusterError("%s: port %d of %r is out of range" % (flag, port, entry))
        if (host, port) in seen:
            raise ClusterError("%s: %s is listed twice" % (flag, entry))
        seen.add((host, port))
        ranks.append(Rank(rank_id, host, per_host[host], port))
        per_host[host] += 1
    return ranks


def local_ranks(rank_size, ports):
    """rank_size workers on 127.0.0.1 at the given ports (devices 0..rank_size-1)."""
    if rank_size < 1:
        raise ClusterError("--rank_size must be >= 1, got %d" % rank_size)
    return [Rank(i, "127.0.0.1", i, port) for i, port in zip(range(rank_size), ports)]


def check_rank_size(ranks, rank_size, where):
    """RANK_SIZE (or --rank_size) must equal the number of ranks described."""
    if rank_size is not None and int(rank_size) != len(ranks):
        raise ClusterError("RANK_SIZE=%s but %s describes %d ranks"
                           % (rank_size, where, len(ranks)))


def addresses(ranks):
    return ["%s:%d" % (r.server_id, r.port) for r in ranks]


def tf_config(ranks, rank_id):
    """The TF_CONFIG dict of rank `rank_id`: every rank a worker, in rank order."""
    if not 0 <= rank_id < len(ranks):
        raise ClusterError("rank %d is not in the job's %d ranks" % (rank_id, len(ranks)))
    return {"cluster": {"worker": addresses(ranks)}, "task": {"type": "worker", "index": rank_id}}


def check_tf_config(text, rank_id, rank_size):
    """The worker addresses of a TF_CONFIG (JSON text) for rank_id of rank_size, else ClusterError."""
    if not text:
        raise ClusterError("RANK_SIZE=%d without npu_bridge needs TF_CONFIG (one worker per rank; "
                           "start the ranks with a <Model>/test/train_*_8p.sh script or "
                           "python -m common.launcher)" % rank_size)
    try:
        config = json.loads(text)
        workers = list(config["cluster"]["worker"])
        task = config["task"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterError("TF_CONFIG is not {\"cluster\": {\"worker\": [...]}, \"task\": {...}} "
                           "(%s)" % exc)
    if set(config["cluster"]) - {"worker"}:
        raise ClusterError("TF_CONFIG: only a 'worker' job is supported, got %s"
                           % ",".join(sorted(config["cluster"])))
    if len(workers) != rank_size:
        raise ClusterError("RANK_SIZE=%d but TF_CONFIG lists %d workers" % (rank_size, len(workers)))
    if task.get("type") != "worker" or task.get("index") != rank_id:
        raise ClusterError("RANK_ID=%d but TF_CONFIG's task is %s %s"
                           % (rank_id, task.get("type"), task.get("index")))
    return workers


def is_local_host(host, names=None):
    """True when `host` names this machine (loopback, its hostname or one of its addresses)."""
    if host in LOCAL_HOSTS:
        return True
    names = names if names is not None else _local_names()
    return host in names


def _local_names():
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    return names


def check_ports_free(ranks):
    """ClusterError naming the first rank whose port cannot be bound here."""
    for rank in ranks:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("" if rank.server_id not in LOCAL_HOSTS else "127.0.0.1", rank.port))
        except OSError:
            raise ClusterError("port %d of rank %d (%s:%d) is in use: stop what holds it or pick "
                               "other ports (--base_port / --worker_hosts)"
                               % (rank.port, rank.rank_id, rank.server_id, rank.port))
        finally:
            sock.close()


def free_ports(count):
    """`count` distinct ports the OS reports free on 127.0.0.1 now."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()
