#!/usr/bin/env python3
"""Fleet benchmark (issue 14): iam-server on PostgreSQL and N simulated
hosts on this machine, each a temp directory with its own iam.toml, its
store as the replica and a real iam-agent following the server.

Run by bench/fleet/run.sh, which builds the release binaries, starts
PostgreSQL and iam-server and bootstraps its administrator. Measured here:

- propagation: an administrator's write (boto3 CreateUser, as the aws CLI
  sends it) until each host's agent has applied it and republished the
  host's accounts. Arrival is the moment the agent prints "replica at
  change N" on stderr (after the local transaction and the extrausers
  write), read by one thread per agent. Writes are sequential, each after
  every host has the previous one, at random offsets so they fall at every
  phase of the server's change reader. Latency counts from the start of the
  administrator's call (its own commit included).
- idle cost: iam-server's CPU (/proc/PID/stat, all threads) and the
  PostgreSQL cluster's over --idle-seconds with every agent long-polling,
  against the same span with no agent (--baseline-seconds, first).
- snapshot: the directory grown to --snapshot-users users and
  --snapshot-policies managed policies (iam-bench-seed, one transaction,
  straight into PostgreSQL), then a new host's first `iam-agent --once`
  (snapshot call, transfer, one local transaction, extrausers written)
  timed end to end, and the replica's size on disk.
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import ssl
import threading
import time
import urllib.request

import boto3
import botocore.config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from bench import cpu_seconds, db_cpu_seconds, pct  # noqa: E402

ACCOUNT_ID = "123456789012"
EC2_TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})
LINE = re.compile(r"(?:replica at change|snapshot at change) (\d+)")


class Host:
    """One simulated host: iam.toml, agent.toml, its replica, its agent."""

    def __init__(self, args, n):
        self.name = f"bench-host-{n:03d}"
        self.dir = os.path.join(args.work, self.name)
        os.makedirs(os.path.join(self.dir, "extrausers"), mode=0o700)
        os.makedirs(os.path.join(self.dir, "authorized_keys"), mode=0o700)
        self.config = os.path.join(self.dir, "iam.toml")
        write_private(self.config, (
            f'account_id = "{ACCOUNT_ID}"\nhostname = "{self.name}"\n'
            'database = "iam.db"\naudit_log = "audit.log"\n\n'
            '[accounts]\nextrausers_dir = "extrausers"\n'
            f'home = "{self.dir}/home/%u"\nauthorized_keys_dir = "authorized_keys"\n'))
        key = enrol(args, self.name)
        self.agent_config = os.path.join(self.dir, "agent.toml")
        write_private(self.agent_config, (
            f'server = "{args.endpoint}"\nca_fingerprint = "{args.fingerprint}"\n'
            f'hostname = "{self.name}"\naccess_key_id = "{key[0]}"\n'
            f'secret_access_key = "{key[1]}"\n'))
        subprocess.run([args.iamctl, "--config", self.config, "init"], check=True,
                       stdout=subprocess.DEVNULL)
        self.agent_cmd = [args.agent, "--config", self.agent_config,
                          "--iam-config", self.config]
        self.proc = None
        self.lines = []  # (monotonic time, change number)
        self.cond = threading.Condition()

    def start(self):
        self.proc = subprocess.Popen(self.agent_cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            now = time.monotonic()
            m = LINE.search(line)
            if m:
                with self.cond:
                    self.lines.append((now, int(m.group(1))))
                    self.cond.notify_all()
            elif line.strip():
                print(f"{self.name}: {line.rstrip()}", file=sys.stderr)

    def first_after(self, t0, deadline):
        """The first line after t0, waiting until deadline (monotonic)."""
        with self.cond:
            while True:
                for at, n in self.lines:
                    if at > t0:
                        return at, n
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def at(self):
        with self.cond:
            return self.lines[-1][1] if self.lines else None

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()

    def cpu(self):
        return cpu_seconds(self.proc.pid) if self.proc else 0.0


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def admin(args):
    with open(args.admin_key) as f:
        key = json.load(f)["AccessKey"]
    return boto3.client(
        "iam", endpoint_url=args.endpoint, region_name="us-east-1", verify=args.ca_bundle,
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
        config=botocore.config.Config(retries={"max_attempts": 0}))


def host_role(args, iam):
    """Role bench-host (config/policies/IamHostAgent.json) in instance
    profile bench: what every simulated host enrols into."""
    iam.create_role(RoleName="bench-host", AssumeRolePolicyDocument=EC2_TRUST)
    with open(args.host_policy) as f:
        iam.put_role_policy(RoleName="bench-host", PolicyName="IamHostAgent",
                            PolicyDocument=f.read())
    iam.create_instance_profile(InstanceProfileName="bench")
    iam.add_role_to_instance_profile(InstanceProfileName="bench", RoleName="bench-host")


def enrol(args, hostname):
    """A one-time join token from the server, spent by JoinHost as `iamctl
    setup-host --join` spends it: the host's key (id, secret)."""
    token = subprocess.run([args.server, "--config", args.server_toml, "join-token",
                            "--instance-profile-name", "bench"], check=True,
                           capture_output=True, text=True).stdout.strip()
    body = json.dumps({"Token": token, "Hostname": hostname}).encode()
    req = urllib.request.Request(args.endpoint, data=body, headers={
        "X-Amz-Target": "IamHost_20261203.JoinHost",
        "Content-Type": "application/x-amz-json-1.1"})
    ctx = ssl.create_default_context(cafile=args.ca_bundle)
    with urllib.request.urlopen(req, context=ctx) as answer:
        k = json.loads(answer.read())
    return k["AccessKeyId"], k["SecretAccessKey"]


def server_cpu(args):
    return cpu_seconds(args.server_pid) + (db_cpu_seconds(args.db_pid) or 0.0)


def idle(args, hosts, seconds):
    """Server (+ PostgreSQL) and agents' CPU seconds over `seconds`."""
    s0, a0 = server_cpu(args), sum(h.cpu() for h in hosts)
    time.sleep(seconds)
    return server_cpu(args) - s0, sum(h.cpu() for h in hosts) - a0


def propagation(args, iam, hosts):
    per_host, all_hosts, writes = [], [], []
    rng = random.Random(14)
    for i in range(args.writes):
        time.sleep(rng.uniform(0.2, 0.7))
        t0 = time.monotonic()
        iam.create_user(UserName=f"bench-fleet-u{i:04d}")
        writes.append(time.monotonic() - t0)
        deadline = t0 + 30
        arrivals = [h.first_after(t0, deadline) for h in hosts]
        missing = [h.name for h, a in zip(hosts, arrivals) if a is None]
        if missing:
            sys.exit(f"fleet.py: write {i} did not reach {missing} in 30 s")
        # Every host at the same change before the next write.
        while len({h.at() for h in hosts}) > 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        lat = [a[0] - t0 for a in arrivals]
        per_host.extend(lat)
        all_hosts.append(max(lat))
    return per_host, all_hosts, writes


def du(path):
    return sum(os.path.getsize(os.path.join(d, f))
               for d, _, fs in os.walk(path) for f in fs
               if not os.path.islink(os.path.join(d, f)))


def snapshot(args):
    t = time.monotonic()
    seeded = subprocess.run([args.seed, args.server_toml, str(args.snapshot_users),
                             str(args.snapshot_policies)], check=True,
                            capture_output=True, text=True).stdout.strip()
    seed_s = time.monotonic() - t
    runs = []
    for r in range(args.snapshot_runs):
        h = Host(args, 900 + r)
        c0 = server_cpu(args)
        t = time.monotonic()
        out = subprocess.run(h.agent_cmd + ["--once"], capture_output=True, text=True)
        wall = time.monotonic() - t
        if out.returncode != 0:
            sys.exit(f"fleet.py: snapshot: {out.stderr}")
        db = sum(os.path.getsize(os.path.join(h.dir, f)) for f in os.listdir(h.dir)
                 if f.startswith("iam.db"))
        with open(os.path.join(h.dir, "extrausers", "passwd")) as f:
            accounts = sum(1 for _ in f)
        runs.append({
            "seconds": wall, "server_cpu": server_cpu(args) - c0,
            "replica_bytes": db, "extrausers_bytes": du(os.path.join(h.dir, "extrausers")),
            "accounts": accounts,
        })
        shutil.rmtree(h.dir)
    return {"seed": seeded, "seed_seconds": seed_s, "runs": runs}


def machine(started):
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} × {cpu}", "memory_mib": mem,
        "kernel": platform.release(),
        "directory": ("PostgreSQL " + os.environ["IAM_BENCH_POSTGRES_VERSION"]
                      if os.environ.get("IAM_BENCH_POSTGRES_VERSION") else "SQLite"),
        "iam_server": os.environ.get("IAM_SERVER_VERSION", "?"),
    }


def ms(x):
    return f"{x * 1000:.0f}"


def report(r):
    m, p, i, s = r["machine"], r["propagation"], r["idle"], r["snapshot"]
    n = r["hosts"]
    print(f"\nFleet benchmark, {m['date']}: {m['cpu']}, {m['memory_mib']} MiB, "
          f"Linux {m['kernel']}, the directory on {m['directory']}, iam-server {m['iam_server']}; "
          f"load average {r['load_start']} at the start, {r['load_end']} at the end.\n")
    print(f"Propagation, {p['writes']} sequential CreateUser calls to {n} hosts "
          f"(agents long-polling, --wait-seconds 20):\n")
    print("| | p50 | p99 | max |\n|---|---:|---:|---:|")
    for label, xs in (("the administrator's call (commit)", p["write_s"]),
                      ("write → one host's replica", p["per_host_s"]),
                      (f"write → all {n} hosts' replicas", p["all_hosts_s"])):
        print(f"| {label} | {ms(pct(xs, .5))} ms | {ms(pct(xs, .99))} ms | {ms(max(xs))} ms |")
    print(f"\nIdle, {i['seconds']} s, every agent in its long poll: iam-server and its directory "
          f"{i['server_cpu_s']:.2f} CPU-s with {n} agents against {i['baseline_cpu_s']:.2f} CPU-s "
          f"with none ({i['baseline_seconds']} s, scaled): "
          f"**{i['per_host_ms_per_s']:.3f} ms of server CPU per second per idle host** "
          f"({i['per_host_ms_per_s'] / 10:.4f} % of a core); the agents "
          f"{i['agent_cpu_s'] / n * 1000 / i['seconds']:.3f} ms/s each.\n")
    runs = s["runs"]
    med = sorted(runs, key=lambda x: x["seconds"])[len(runs) // 2]
    print(f"Snapshot: {s['seed']} ({s['seed_seconds']:.0f} s with the process start). A new "
          f"host's first `iam-agent --once`, median of {len(runs)}: "
          f"**{med['seconds']:.1f} s** end to end ({med['server_cpu']:.1f} CPU-s of the server "
          f"and its directory), replica **{med['replica_bytes'] / 2**20:.0f} MiB** on disk "
          f"(iam.db with its WAL), extrausers {med['extrausers_bytes'] / 2**20:.1f} MiB "
          f"({med['accounts']} accounts).")


def main():
    ap = argparse.ArgumentParser()
    for a in ("endpoint", "ca-bundle", "fingerprint", "admin-key", "server", "host-policy",
              "agent", "iamctl",
              "seed", "server-toml", "work", "json"):
        ap.add_argument("--" + a, required=True)
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--db-pid", type=int)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--writes", type=int, default=100)
    ap.add_argument("--idle-seconds", type=int, default=60)
    ap.add_argument("--baseline-seconds", type=int, default=30)
    ap.add_argument("--snapshot-users", type=int, default=100000)
    ap.add_argument("--snapshot-policies", type=int, default=10000)
    ap.add_argument("--snapshot-runs", type=int, default=3)
    args = ap.parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = "%.2f %.2f %.2f" % os.getloadavg()
    iam = admin(args)
    host_role(args, iam)

    print(f"idle baseline, no agents: {args.baseline_seconds} s…", file=sys.stderr)
    base, _ = idle(args, [], args.baseline_seconds)
    print(f"{args.hosts} hosts: init, then their agents' first snapshot…", file=sys.stderr)
    hosts = [Host(args, n) for n in range(args.hosts)]
    t0 = time.monotonic()
    for h in hosts:
        h.start()
    for h in hosts:
        if h.first_after(0, t0 + 300) is None:
            sys.exit(f"fleet.py: {h.name} had no snapshot after 300 s")
    first_sync = time.monotonic() - t0
    try:
        time.sleep(2)
        print(f"idle with {args.hosts} agents: {args.idle_seconds} s…", file=sys.stderr)
        server_idle, agents_idle = idle(args, hosts, args.idle_seconds)
        print(f"propagation: {args.writes} writes…", file=sys.stderr)
        per_host, all_hosts, writes = propagation(args, iam, hosts)
    finally:
        for h in hosts:
            h.stop()
    print(f"snapshot at {args.snapshot_users} users / {args.snapshot_policies} policies…",
          file=sys.stderr)
    snap = snapshot(args)

    extra = server_idle - base * args.idle_seconds / args.baseline_seconds
    result = {
        "machine": machine(started), "hosts": args.hosts,
        "load_start": load_start, "load_end": "%.2f %.2f %.2f" % os.getloadavg(),
        "first_sync_all_hosts_s": first_sync,
        "propagation": {"writes": args.writes, "write_s": writes, "per_host_s": per_host,
                        "all_hosts_s": all_hosts},
        "idle": {"seconds": args.idle_seconds, "baseline_seconds": args.baseline_seconds,
                 "baseline_cpu_s": base * args.idle_seconds / args.baseline_seconds,
                 "server_cpu_s": server_idle, "agent_cpu_s": agents_idle,
                 "per_host_ms_per_s": extra / args.hosts / args.idle_seconds * 1000},
        "snapshot": snap,
    }
    fd = os.open(args.json, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(result, f, indent=1)
    report(result)


if __name__ == "__main__":
    main()
