"""Checks one run of contrib/ansible/collect.yml for scripts/test-fleet.sh.

Usage: check_run.py first|second|check ANSIBLE_JSON RUNS_DIR BINARY
ANSIBLE_JSON is the output of ansible-playbook with ANSIBLE_STDOUT_CALLBACK=json.
"""
import json
import os
import stat
import subprocess
import sys

REACHABLE = ["a1", "a2", "b1"]


def fail(message):
    print(f"check_run.py: {message}", file=sys.stderr)
    sys.exit(1)


def task_results(run, name):
    """{host: result} of the task called `name`, over every play."""
    found = {}
    for play in run["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].split(" : ")[-1] == name:
                found.update(task["hosts"])
    return found


def main():
    phase, run_json, runs_dir, binary = sys.argv[1:5]
    with open(run_json) as f:
        run = json.load(f)
    stats = run["stats"]
    for host in REACHABLE:
        if stats[host]["failures"] or stats[host]["unreachable"]:
            fail(f"{phase}: {host} failed: {stats[host]}")
    if not stats["down"]["unreachable"]:
        fail(f"{phase}: the node without sshd was not reported unreachable: {stats['down']}")

    runs = sorted(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else []
    expected_runs = {"first": 1, "second": 2, "check": 2}[phase]
    if len(runs) != expected_runs:
        fail(f"{phase}: {len(runs)} run directories, expected {expected_runs}: {runs}")

    install = task_results(run, "Install the binary (unchanged when the checksum already matches)")
    changed = sorted(h for h, r in install.items() if r.get("changed"))
    if phase == "first" and changed != REACHABLE:
        fail(f"first run: the binary was installed on {changed}, expected {REACHABLE}")
    if phase == "second" and changed:
        fail(f"second run: the binary was copied again to {changed}; the copy is not idempotent")
    if phase == "check":
        collect = task_results(run, "Collect")
        ran = sorted(h for h, r in collect.items() if not r.get("skipped"))
        if ran:
            fail(f"--check ran the collect on {ran}")
        return

    run_dir = os.path.join(runs_dir, runs[-1])
    if stat.S_IMODE(os.stat(run_dir).st_mode) & 0o077:
        fail(f"{run_dir} is readable by others")
    for host in REACHABLE:
        node_dir = os.path.join(run_dir, "nodes", host)
        names = sorted(os.listdir(node_dir))
        bundles = [n for n in names if n.endswith(".tgz")]
        if len(bundles) != 1 or names != [bundles[0], bundles[0] + ".sha256"]:
            fail(f"{node_dir} holds {names}, expected one bundle and its sidecar")
        if not bundles[0].startswith(f"drx-collect-fleet-{host}-"):
            fail(f"{host}'s bundle is named {bundles[0]}")
        subprocess.run(["sha256sum", "-c", "--quiet", bundles[0] + ".sha256"],
                       cwd=node_dir, check=True)
        verdict = subprocess.run([binary, "inspect", "--quiet", os.path.join(node_dir, bundles[0])],
                                 capture_output=True, text=True)
        if verdict.returncode != 0:
            fail(f"inspect of {host}'s bundle exited {verdict.returncode}: {verdict.stdout}{verdict.stderr}")

    with open(os.path.join(run_dir, "summary.json")) as f:
        summary = json.load(f)
    if summary["not_collected"] != ["down"]:
        fail(f"not_collected is {summary['not_collected']}, expected ['down']")
    hosts = sorted(n["bundles"][0]["host"]["hostname"] for n in summary["nodes"])
    if hosts != ["fleet-a1", "fleet-a2", "fleet-b1"]:
        fail(f"summary.json nodes are {hosts}")
    if not all(n["integrity"]["ok"] for n in summary["nodes"] + summary["pairs"]):
        fail("an integrity verdict in summary.json is not ok")
    by_host = {n["bundles"][0]["host"]["hostname"]: {f["rule"] for f in n["findings"]}
               for n in summary["nodes"]}
    if "CONFIG-BOM" not in by_host["fleet-b1"]:
        fail(f"b1's BOM resource file was not found: {by_host['fleet-b1']}")
    if "CONFIG-BOM" in by_host["fleet-a1"] | by_host["fleet-a2"]:
        fail("CONFIG-BOM on a node without a BOM")
    if len(summary["pairs"]) != 1:
        fail(f"{len(summary['pairs'])} pairs inspected, expected 1 (drx_pair_a)")
    pair = summary["pairs"][0]
    pair_hosts = sorted(b["host"]["hostname"] for b in pair["bundles"])
    if pair_hosts != ["fleet-a1", "fleet-a2"]:
        fail(f"the pair inspected is {pair_hosts}")
    if "VERSION-DRX-MISMATCH" not in {f["rule"] for f in pair["findings"]}:
        fail("the pair's different DRX versions (1.2.3 / 1.3.0) were not found")

    with open(os.path.join(run_dir, "SUMMARY.txt")) as f:
        text = f.read()
    for needle in ["1 not collected (down)", "== a1: intact", "== b1: intact",
                   "CONFIG-BOM", "== pair drx_pair_a (a1 + a2): intact", "VERSION-DRX-MISMATCH"]:
        if needle not in text:
            fail(f"SUMMARY.txt lacks '{needle}':\n{text}")
    if "no findings between the two nodes" in text:
        fail(f"SUMMARY.txt says the pair has no findings between the nodes:\n{text}")


main()
