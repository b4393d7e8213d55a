"""Rank tables, host lists and TF_CONFIG (common/cluster.py), the launcher's pure parts and its
one-line errors (common/launcher.py). No TensorFlow, no training."""
import json
import os
import socket
import subprocess
import sys

import pytest

from common import cluster, launcher
from conftest import REPO_ROOT, python_env

TABLE_8P = os.path.join(REPO_ROOT, "configs", "rank_table_8p.json")
TABLE_2X8P = os.path.join(REPO_ROOT, "configs", "rank_table_2x8p.json")


def table(devices_by_server):
    """A v1.0 rank table: {server_id: [(device_id, rank_id), ...]}."""
    return {"version": "1.0", "server_count": str(len(devices_by_server)), "status": "completed",
            "server_list": [{"server_id": server, "host_nic_ip": "reserve",
                             "device": [{"device_id": str(d), "device_ip": "192.168.1.%d" % d,
                                         "rank_id": str(r)} for d, r in devices]}
                            for server, devices in devices_by_server.items()]}


def test_sample_tables_translate_to_tf_config():
    ranks = cluster.load_rank_table(TABLE_2X8P, base_port=31000)
    assert [r.rank_id for r in ranks] == list(range(16))
    assert {r.server_id for r in ranks[:8]} == {"10.0.0.10"}
    assert ranks[9] == cluster.Rank(9, "10.0.0.11", 1, 31001)
    config = cluster.tf_config(ranks, 9)
    assert config["task"] == {"type": "worker", "index": 9}
    assert config["cluster"]["worker"][0] == "10.0.0.10:31000"
    assert config["cluster"]["worker"][15] == "10.0.0.11:31007"
    # what a worker checks: the same TF_CONFIG fits rank 9 of 16, nothing else
    assert len(cluster.check_tf_config(json.dumps(config), 9, 16)) == 16
    with pytest.raises(cluster.ClusterError, match="RANK_ID=8 but TF_CONFIG's task is worker 9"):
        cluster.check_tf_config(json.dumps(config), 8, 16)
    with pytest.raises(cluster.ClusterError, match="RANK_SIZE=8 but TF_CONFIG lists 16"):
        cluster.check_tf_config(json.dumps(config), 9, 8)
    assert len(cluster.load_rank_table(TABLE_8P)) == 8


def test_ranks_sorted_by_rank_id_and_ports_by_device():
    ranks = cluster.parse_rank_table(table({"h1": [(3, 1), (0, 0)], "h2": [(5, 2)]}),
                                     base_port=1000)
    assert ranks == [cluster.Rank(0, "h1", 0, 1000), cluster.Rank(1, "h1", 3, 1003),
                     cluster.Rank(2, "h2", 5, 1005)]


@pytest.mark.parametrize("devices, message", [
    ({"h1": [(0, 0), (0, 1)]}, "device 0 of server h1 is listed twice"),
    ({"h1": [(0, 0)], "h2": [(1, 0)]}, "rank_id 0 is given twice"),
    ({"h1": [(0, 0), (1, 2)]}, r"rank_ids must be 0\.\.1, got 0,2"),
])
def test_bad_rank_tables(devices, message):
    with pytest.raises(cluster.ClusterError, match=message):
        cluster.parse_rank_table(table(devices))


def test_bad_rank_table_fields():
    with pytest.raises(cluster.ClusterError, match="no server_list"):
        cluster.parse_rank_table({"version": "1.0", "group_list": []})
    bad = table({"h1": [(0, 0)]})
    bad["server_list"][0]["device"][0]["rank_id"] = "zero"
    with pytest.raises(cluster.ClusterError, match="rank_id must be an integer, got 'zero'"):
        cluster.parse_rank_table(bad)
    del bad["server_list"][0]["device"][0]["rank_id"]
    with pytest.raises(cluster.ClusterError, match="needs device_id and rank_id"):
        cluster.parse_rank_table(bad)
    wrong_count = table({"h1": [(0, 0)]})
    wrong_count["server_count"] = "2"
    with pytest.raises(cluster.ClusterError, match="server_count is 2 but server_list has 1"):
        cluster.parse_rank_table(wrong_count)


def test_rank_table_files(tmp_path):
    with pytest.raises(cluster.ClusterError, match="rank table .*missing.json cannot be read"):
        cluster.load_rank_table(str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text('{"server_list": [')
    with pytest.raises(cluster.ClusterError, match="broken.json is not valid JSON"):
        cluster.load_rank_table(str(broken))


def test_worker_hosts_and_rank_size():
    ranks = cluster.parse_worker_hosts("a:2222, b:2222,a:2223")
    assert ranks == [cluster.Rank(0, "a", 0, 2222), cluster.Rank(1, "b", 0, 2222),
                     cluster.Rank(2, "a", 1, 2223)]
    for text, message in (("a:1,a:1", "a:1 is listed twice"), ("a", "'a' is not host:port"),
                          ("a:x", "must be an integer"), ("a:70000", "out of range"),
                          ("", "is empty")):
        with pytest.raises(cluster.ClusterError, match=message):
            cluster.parse_worker_hosts(text)
    cluster.check_rank_size(ranks, 3, "--worker_hosts")
    with pytest.raises(cluster.ClusterError, match="RANK_SIZE=8 but --worker_hosts describes 3"):
        cluster.check_rank_size(ranks, "8", "--worker_hosts")


def test_ranks_here_by_server_id_and_local_names():
    ranks = cluster.load_rank_table(TABLE_2X8P)
    assert [r.rank_id for r in launcher.ranks_here(ranks, "10.0.0.11")] == list(range(8, 16))
    assert [r.rank_id for r in launcher.ranks_here(ranks, names={"10.0.0.10"})] == list(range(8))
    with pytest.raises(cluster.ClusterError, match="no rank is on this host"):
        launcher.ranks_here(ranks, names={"10.9.9.9"})


def test_port_in_use_is_named():
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        with pytest.raises(cluster.ClusterError, match="port %d of rank 1 .* is in use" % port):
            cluster.check_ports_free(cluster.local_ranks(2, [cluster.free_ports(1)[0], port]))
    finally:
        holder.close()


def test_rank_env_is_one_worker_of_the_job():
    ranks = cluster.local_ranks(2, [5001, 5002])
    env = launcher.rank_env(ranks[1], ranks, {"PATH": "/bin", "TF_CONFIG": "stale"})
    assert (env["RANK_ID"], env["RANK_SIZE"], env["ASCEND_DEVICE_ID"]) == ("1", "2", "1")
    assert json.loads(env["TF_CONFIG"]) == cluster.tf_config(ranks, 1)
    assert "TF_CONFIG" not in launcher.rank_env(ranks[1], ranks, {"TF_CONFIG": "x"},
                                                tf_engine=False)


def test_combined_results_sum_throughput_and_take_the_slowest_step():
    per_rank = {0: {"batch_size": 8, "ms_per_step": 100.0, "final_loss": 0.5,
                    "precision_metric": {"name": "Accuracy", "value": 0.9}, "throughput": 160.0},
                1: {"batch_size": 8, "ms_per_step": 125.0, "final_loss": 0.7,
                    "precision_metric": None, "throughput": 128.0}}
    job = launcher.combine_results(per_rank, 2)
    assert job["throughput"] == pytest.approx(8 * 1000 / 100.0 + 8 * 1000 / 125.0)
    assert job["ms_per_step"] == 125.0
    assert job["final_loss"] == 0.5 and job["precision_metric"]["value"] == 0.9
    assert job["global_batch_size"] == 16 and job["rank_size"] == 2
    assert [r["rank_id"] for r in job["ranks"]] == [0, 1]
    partial = launcher.combine_results({1: per_rank[1]}, 2)
    assert any("1 of the job's 2 ranks" in n for n in partial["notes"])


def run_launcher(args, env=None):
    return subprocess.run([sys.executable, "-m", "common.launcher"] + args, cwd=REPO_ROOT,
                          env=python_env(env), capture_output=True, text=True, timeout=60)


def test_launcher_bad_input_is_one_line(tmp_path):
    broken = tmp_path / "t.json"
    broken.write_text("{")
    proc = run_launcher(["--rank_table=%s" % broken, "--", "true"])
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: rank table %s is not valid JSON "
                                                "(Expecting property name enclosed in double "
                                                "quotes: line 1 column 2 (char 1))" % broken]
    proc = run_launcher(["--rank_table=%s" % TABLE_8P, "--", "true"], {"RANK_SIZE": "4"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: RANK_SIZE=4 but rank table %s describes 8 ranks"
                                   % TABLE_8P)


def test_launcher_names_the_failing_rank_and_stops_the_others(tmp_path):
    # rank 1 fails at once; rank 0 would sleep for a minute
    script = ("import os, sys, time\n"
              "r = int(os.environ['RANK_ID'])\n"
              "print('rank', r, 'pid', os.getpid(), flush=True)\n"
              "if r == 1:\n    print('boom on rank 1', flush=True); sys.exit(3)\n"
              "time.sleep(60)\n")
    proc = run_launcher(["--rank_size=2", "--log_dir=%s" % tmp_path, "--", sys.executable, "-c",
                         script])
    assert proc.returncode == 3
    assert "boom on rank 1" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: rank 1 (device 1 on 127.0.0.1) failed (exit 3)")
    pid0 = int((tmp_path / "rank_0.log").read_text().split()[3])
    with pytest.raises(ProcessLookupError):
        os.killpg(pid0, 0)


@pytest.mark.parametrize("flag, message", [
    ("--lr_scaling=square", "error: --lr_scaling must be none or linear, got 'square'"),
    ("--rank_table=/nonexistent/table.json",
     "error: --rank_table=/nonexistent/table.json does not exist (RANK_TABLE_FILE?)"),
    ("--rank_size=two", "error: --rank_size must be a positive integer, got 'two'"),
])
def test_8p_script_bad_cluster_flags(tmp_path, flag, message):
    env = python_env({"PYTHON": sys.executable, "OUTPUT_ROOT": str(tmp_path)})
    env.pop("RANK_TABLE_FILE", None)
    proc = subprocess.run(["bash", "ResNext50/test/train_performance_8p.sh", flag], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == message
    assert not list(tmp_path.glob("*/results_*.json"))


def test_a_rank_without_usable_results_is_named(tmp_path):
    ranks, _ = launcher.job_ranks(rank_size=2)
    for rank, text in zip(ranks, ('{"batch_size": 4, "throughput": 1.0, "ms_per_step": 2.0, '
                                  '"loss_history": [[0, 0.5]]}', '{"batch_size": 4')):
        (tmp_path / str(rank.device_id)).mkdir()
        (tmp_path / str(rank.device_id) / "results_perf.json").write_text(text)
    with pytest.raises(launcher.LaunchError, match=r"rank 1: results file .* is not valid JSON"):
        launcher.read_rank_results(str(tmp_path), "perf", ranks, since=0)
    assert list(launcher.read_rank_results(str(tmp_path), "perf", ranks[:1], since=0)) == [0]
