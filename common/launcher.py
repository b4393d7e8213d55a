"""Start one process per rank, watch them, stop them all when one dies, report the job once.

    python -m common.launcher --rank_size=2 [--report options] -- COMMAND ARGS...
    python -m common.launcher --rank_table=configs/rank_table_2x8p.json --server_id=10.0.0.11 -- ...
    python -m common.launcher --worker_hosts=10.0.0.10:29500,10.0.0.11:29500 -- ...

The job: --rank_table (default $RANK_TABLE_FILE; Ascend's v1.0 server_list JSON), else
--worker_hosts (host:port per rank), else --rank_size local workers on 127.0.0.1 (free ports).
RANK_SIZE, when set, must match. This host runs the ranks whose server is --server_id, else
those whose server is one of its own names/addresses; on every host the same table and command.

Each rank runs COMMAND with RANK_ID, RANK_SIZE, ASCEND_DEVICE_ID (its device_id), RANK_TABLE_FILE
when given, HCCL_CONNECT_TIMEOUT (default 600), DELIVERY_CLUSTER_RANK=1 and, off Ascend (no
npu_bridge), TF_CONFIG (common/cluster.py). Each runs in its own process group; its output goes
to --log_dir/rank_<R>.log (rank 0's is echoed with a `[rank 0]` prefix). When a rank exits
non-zero, or the launcher gets SIGINT/SIGTERM, every other rank's process group gets SIGTERM,
then SIGKILL 5 s later; the launcher exits non-zero with one `error:` line naming the rank, its
device and exit status, after that rank's last log lines.

With --network/--kind (the delivery scripts) the ranks' results JSONs
(--output_root/<device>/results_<run_name>.json) are combined into one for the job: throughput
summed over the ranks (batch x 1000 / ms_per_step of each), ms/step of the slowest rank, the
chief's (rank 0's) loss and precision; common.report prints its Final block and writes
<CaseName>.log into --output_root, next to the ranks' folders that hold each rank's own.
"""
import argparse
import collections
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time

from common import cluster
from common import report as report_module
from common.atomic_io import write_json

KILL_GRACE_SEC = 5.0
TAIL_LINES = 8


class LaunchError(Exception):
    """A rank failed; the message is the error line, exit_code the launcher's status."""

    def __init__(self, message, exit_code=1):
        super().__init__(message)
        self.exit_code = exit_code


def job_ranks(rank_table=None, worker_hosts=None, rank_size=None, base_port=None):
    """(every rank of the job, where they came from); ClusterError when inconsistent."""
    base_port = base_port or cluster.DEFAULT_BASE_PORT
    if rank_table:
        ranks, where = cluster.load_rank_table(rank_table, base_port), "rank table %s" % rank_table
    elif worker_hosts:
        ranks, where = cluster.parse_worker_hosts(worker_hosts), "--worker_hosts"
    else:
        if rank_size is None:
            raise cluster.ClusterError("give --rank_size, --rank_table (RANK_TABLE_FILE) or "
                                       "--worker_hosts")
        return cluster.local_ranks(int(rank_size), cluster.free_ports(int(rank_size))), \
            "--rank_size"
    env_size = os.environ.get("RANK_SIZE")
    cluster.check_rank_size(ranks, rank_size if rank_size is not None else env_size, where)
    return ranks, where


def ranks_here(ranks, server_id=None, names=None):
    """The ranks this host runs (all of them when every server is this machine)."""
    if server_id:
        mine = [r for r in ranks if r.server_id == server_id]
    else:
        mine = [r for r in ranks if cluster.is_local_host(r.server_id, names)]
    if not mine:
        raise cluster.ClusterError("no rank is on this host (servers %s): pass --server_id"
                                   % ",".join(sorted({r.server_id for r in ranks})))
    return mine


def rank_env(rank, ranks, base_env, rank_table=None, tf_engine=True):
    env = dict(base_env)
    env.update(RANK_ID=str(rank.rank_id), RANK_SIZE=str(len(ranks)),
               ASCEND_DEVICE_ID=str(rank.device_id), DELIVERY_CLUSTER_RANK="1")
    env.setdefault("HCCL_CONNECT_TIMEOUT", "600")
    if rank_table:
        env["RANK_TABLE_FILE"] = os.path.abspath(rank_table)
    if tf_engine:
        env["TF_CONFIG"] = json.dumps(cluster.tf_config(ranks, rank.rank_id))
    else:
        env.pop("TF_CONFIG", None)
    return env


class RankProcess:
    """One rank: its process (own group), a thread copying its output to its log, its tail."""

    def __init__(self, rank, command, env, log_path, echo=False):
        self.rank = rank
        self.log_path = log_path
        self.tail = collections.deque(maxlen=TAIL_LINES)
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self._echo = echo
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self):
        with open(self.log_path, "w", encoding="utf-8", errors="replace") as log:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", "replace")
                log.write(line)
                log.flush()
                if line.strip():
                    self.tail.append(line.rstrip("\n"))
                if self._echo:
                    sys.stdout.write("[rank %d] %s" % (self.rank.rank_id, line))
                    sys.stdout.flush()

    def finish_output(self, timeout=5.0):
        self._thread.join(timeout)

    def signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)   # the group's id is the leader's pid
        except ProcessLookupError:
            pass

    def group_alive(self):
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True


def stop_all(processes, grace=KILL_GRACE_SEC):
    """SIGTERM to every rank's group, SIGKILL to the groups still there after `grace` s."""
    for p in processes:
        p.signal_group(signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline and any(p.group_alive() for p in processes):
        for p in processes:
            p.proc.poll()
        time.sleep(0.1)
    for p in processes:
        p.signal_group(signal.SIGKILL)
    for p in processes:
        try:
            p.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        p.finish_output(1.0)


def describe_exit(code):
    return "signal %d" % -code if code < 0 else "exit %d" % code


def watch(processes, poll_sec=0.2):
    """Wait for every rank; on the first failure stop the others and raise LaunchError."""
    stopping = {}

    def on_signal(signum, frame):
        del frame
        stopping["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            if stopping:
                stop_all(processes)
                raise LaunchError("launcher got signal %d: stopped all %d ranks"
                                  % (stopping["signal"], len(processes)),
                                  128 + stopping["signal"])
            failed = [p for p in processes if p.proc.poll() not in (None, 0)]
            if failed:
                first = failed[0]
                code = first.proc.returncode
                stop_all([p for p in processes if p is not first] + [first])
                rank = first.rank
                tail = "\n".join("  | " + line for line in first.tail)
                raise LaunchError("%s\nerror: rank %d (device %d on %s) failed (%s); the other "
                                  "ranks were stopped. Its log: %s"
                                  % ("last lines of rank %d:\n%s" % (rank.rank_id, tail)
                                     if tail else "rank %d printed nothing" % rank.rank_id,
                                     rank.rank_id, rank.device_id, rank.server_id,
                                     describe_exit(code), first.log_path),
                                  code if code > 0 else 128 - code)
            if all(p.proc.poll() == 0 for p in processes):
                for p in processes:
                    p.finish_output()
                return
            time.sleep(poll_sec)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def combine_results(per_rank, rank_size):
    """One results dict for the job from {rank_id: results dict} (the ranks run on this host).

    throughput: sum over the ranks of batch_size x 1000 / ms_per_step; ms_per_step: the slowest
    rank's; loss, precision, metrics: the lowest rank's (the chief's when rank 0 is here)."""
    if not per_rank:
        raise ValueError("no rank results to combine")
    first = min(per_rank)
    job = dict(per_rank[first])
    throughputs = {r: res["batch_size"] * 1000.0 / res["ms_per_step"]
                   for r, res in per_rank.items()}
    job["throughput"] = sum(throughputs.values())
    job["ms_per_step"] = max(res["ms_per_step"] for res in per_rank.values())
    job["rank_size"] = rank_size
    job["global_batch_size"] = job["batch_size"] * rank_size
    job["ranks"] = [{"rank_id": r, "throughput": throughputs[r],
                     "ms_per_step": per_rank[r]["ms_per_step"],
                     "global_step": per_rank[r].get("global_step"),
                     "final_loss": per_rank[r].get("final_loss")} for r in sorted(per_rank)]
    notes = list(job.get("notes") or [])
    notes.append("%d ranks of batch %d (global batch %d); throughput summed over ranks %s, ms/step "
                 "of the slowest, loss%s of rank %d" % (
                     rank_size, job["batch_size"], job["global_batch_size"],
                     ",".join(str(r) for r in sorted(per_rank)),
                     " and precision" if job.get("precision_metric") else "", first))
    if len(per_rank) < rank_size:
        notes.append("this host ran %d of the job's %d ranks: throughput is this host's"
                     % (len(per_rank), rank_size))
    job["notes"] = notes
    return job


def read_rank_results(output_root, run_name, ranks, since):
    per_rank = {}
    for rank in ranks:
        path = os.path.join(output_root, str(rank.device_id), "results_%s.json" % run_name)
        if not os.path.isfile(path) or os.path.getmtime(path) < since:
            raise LaunchError("error: rank %d wrote no results (%s)" % (rank.rank_id, path))
        try:
            per_rank[rank.rank_id] = report_module.load_results(path)
        except report_module.ReportError as exc:
            raise LaunchError("error: rank %d: %s" % (rank.rank_id, exc))
    return per_rank


def report(args, ranks_run, rank_size, started):
    per_rank = read_rank_results(args.output_root, args.run_name, ranks_run, started)
    job = combine_results(per_rank, rank_size)
    path = os.path.join(args.output_root, "results_%s_%dp.json" % (args.run_name, rank_size))
    write_json(path, job)
    print("=== the job: %d ranks (each rank's Final block and CaseName.log are in %s/<device>/)"
          % (rank_size, args.output_root), flush=True)
    argv = ["--results=" + path, "--network=" + args.network, "--kind=" + args.kind,
            "--log_dir=" + args.output_root, "--e2e_sec=%.2f" % (time.time() - started),
            "--run_name=" + args.run_name, "--demo=" + args.demo,
            "--enforce_targets=" + args.enforce_targets]
    if args.targets:
        argv.append("--targets=" + args.targets)
    code = report_module.main(argv)
    print("Final Global Batch Size : %d (%d per device x %d ranks)"
          % (job["global_batch_size"], job["batch_size"], rank_size), flush=True)
    for entry in job["ranks"]:
        print("Final Rank %d : %.2f %s, %.2f ms/step, loss %.6f" % (
            entry["rank_id"], entry["throughput"], job.get("throughput_unit") or "", entry[
                "ms_per_step"], entry["final_loss"]), flush=True)
    print("job results: %s" % path, flush=True)
    return code


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rank_size", type=int, default=None)
    parser.add_argument("--rank_table", default=os.environ.get("RANK_TABLE_FILE") or None)
    parser.add_argument("--worker_hosts", default=None)
    parser.add_argument("--server_id", default=None, help="this host's server_id / host")
    parser.add_argument("--base_port", type=int, default=cluster.DEFAULT_BASE_PORT)
    parser.add_argument("--log_dir", default=None, help="rank_<R>.log here (default: "
                        "--output_root, else the current folder)")
    parser.add_argument("--network", default=None)
    parser.add_argument("--kind", default=None, choices=("perf", "acc"))
    parser.add_argument("--run_name", default=None)
    parser.add_argument("--output_root", default=None)
    parser.add_argument("--targets", default=None)
    parser.add_argument("--demo", default="0")
    parser.add_argument("--enforce_targets", default="False")
    parser.add_argument("--print_rank_size", action="store_true",
                        help="print the job's number of ranks and exit (the scripts' LR scaling)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if not args.command and not args.print_rank_size:
        parser.error("no command after --")
    if args.network and not (args.kind and args.output_root):
        parser.error("--network needs --kind and --output_root")
    args.run_name = args.run_name or args.kind
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    tf_engine = importlib.util.find_spec("npu_bridge") is None
    try:
        ranks, where = job_ranks(args.rank_table, args.worker_hosts, args.rank_size,
                                 args.base_port)
        if args.print_rank_size:
            print(len(ranks))
            return 0
        mine = ranks_here(ranks, args.server_id)
        if tf_engine:
            cluster.check_ports_free(mine)
    except cluster.ClusterError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 2
    log_dir = args.log_dir or args.output_root or "."
    print("launcher: %d ranks from %s, %d on this host (%s); engine: %s" % (
        len(ranks), where, len(mine), ", ".join("rank %d device %d" % (r.rank_id, r.device_id)
                                                for r in mine),
        "TensorFlow collective (TF_CONFIG %s)" % ",".join(cluster.addresses(ranks))
        if tf_engine else "Ascend HCCL (RANK_TABLE_FILE)"), flush=True)
    started = time.time()
    processes = []
    try:
        for rank in mine:
            env = rank_env(rank, ranks, os.environ, args.rank_table, tf_engine)
            processes.append(RankProcess(rank, args.command, env,
                                         os.path.join(log_dir, "rank_%d.log" % rank.rank_id),
                                         echo=rank is mine[0]))
        watch(processes)
    except LaunchError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return exc.exit_code
    except BaseException:
        stop_all(processes)
        raise
    print("launcher: all %d ranks finished (%.1f s)" % (len(mine), time.time() - started),
          flush=True)
    if not args.network:
        return 0
    try:
        return report(args, mine, len(ranks), started)
    except LaunchError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
