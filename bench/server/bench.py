#!/usr/bin/env python3
"""iam-server side by side with moto: one boto3 workload, targets interleaved.

Run by bench/server/run.sh, which starts the targets and writes the targets
file (JSON, mode 0600: it holds the iam-server admin's access key):

    [{"label": "iam-server (SQLite, 100,000 users)", "kind": "iam-server",
      "endpoint": "https://localhost:18443", "ca_bundle": ".../cert.pem",
      "key_id": "AKIA...", "secret": "...", "pid": 1234, "users": 100000,
      "seed_via_api": false}, ...]

For each call type, each round runs a batch of --calls calls on every target
in turn (the order alternating between rounds), so load from other processes
on the machine hits all targets alike. A batch is --procs client processes
(processes, not threads: boto3's own CPU cost would otherwise be serialised
by the GIL and cap every target alike), each with its own boto3 client and
keep-alive connection. Reported per target and call type: calls/s (calls over
the batches' wall time), p50/p99 of per-call latency as the client sees it,
and the server process's CPU time per call (/proc/PID/stat, all threads),
which other load on the machine does not inflate. A target with a "db_pid"
(iam-server on PostgreSQL: the postmaster) also counts the database's CPU:
the postmaster's and its children's (backends, checkpointer, ...), live ones
read directly and exited ones through the postmaster's cutime/cstime.

boto3 costs 2–3 ms of CPU per call, as much as the servers, so on a 2-core
machine its calls/s measure the client. With --load (run.sh passes the
release iam-load, bench/src/bin/iam-load.rs), each round then also runs the
Rust load generator on every target for --load-seconds: --load-concurrency
keep-alive connections (enough to saturate the servers: these are the
throughput figures), and for the reads once more at --low-concurrency
connections (p99 at saturation is a queueing number; this is the latency
figure). Same calls, same request bodies, same targets, same alternating
order, the same server CPU count. --no-boto3 leaves the boto3 batches out.
"""

import argparse
import concurrent.futures as cf
import datetime
import json
import os
import platform
import random
import stat
import subprocess
import sys
import time
import uuid

import boto3
import botocore
import botocore.config
import botocore.exceptions

FIXTURE_POLICIES = 3
SIM_USER = "bench-sim"
SIM_GROUP = "bench-sim-group"
SIM_ACTIONS = ["iam:GetUser", "iam:CreateUser", "s3:GetObject", "ec2:RunInstances"]
ACCOUNT_ID_FALLBACK = "123456789012"


def user_name(i):
    return f"bench-u{i:06d}"


def make_client(t):
    cfg = botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=2,
        connect_timeout=10,
        read_timeout=120,
    )
    return boto3.session.Session().client(
        "iam",
        endpoint_url=t["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=t["key_id"],
        aws_secret_access_key=t["secret"],
        verify=t.get("ca_bundle") or False,
        config=cfg,
    )


# ---- worker processes ---------------------------------------------------------

_client = None
_target = None


def _init_worker(t):
    global _client, _target
    _target = t
    _client = make_client(t)


def _one_call(op, rng, ctx):
    c = _client
    if op == "GetUser":
        c.get_user(UserName=user_name(rng.randrange(ctx["users"])))
    elif op == "ListUsers (first page)":
        c.list_users(MaxItems=100)
    elif op == "ListUsers (later page)":
        c.list_users(MaxItems=100, Marker=rng.choice(ctx["markers"]))
    elif op == "CreateUser":
        c.create_user(UserName=f"bench-c{uuid.uuid4().hex[:16]}")
    elif op == "SimulatePrincipalPolicy":
        c.simulate_principal_policy(PolicySourceArn=ctx["sim_arn"], ActionNames=SIM_ACTIONS)
    else:
        raise ValueError(op)


def _batch(op, n, seed, ctx):
    """n calls of op; per-call latencies in seconds and the errors seen."""
    rng = random.Random(seed)
    lat, errors = [], {}
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            _one_call(op, rng, ctx)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "?")
            errors[code] = errors.get(code, 0) + 1
            continue
        except Exception as e:  # noqa: BLE001 - report, don't stop the bench
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
            continue
        lat.append(time.perf_counter() - t0)
    return lat, errors


def _create_users(names):
    for n in names:
        try:
            _client.create_user(UserName=n)
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
    return len(names)


def _warm(_):
    _client.list_users(MaxItems=1)
    return True


# ---- the Rust load generator --------------------------------------------------

READS = ("GetUser", "ListUsers (first page)", "ListUsers (later page)", "SimulatePrincipalPolicy")


def load_files(t, ctx, work):
    """What iam-load reads for a target: its access key (a 0600 file, never
    argv), the seeded user names and the later-page markers, one a line."""
    base = os.path.join(work, "load-" + uuid.uuid4().hex[:8])
    os.mkdir(base, 0o700)
    cred = os.path.join(base, "credentials.json")
    fd = os.open(cred, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as f:
        json.dump({"AccessKeyId": t["key_id"], "SecretAccessKey": t["secret"]}, f)
    names = os.path.join(base, "names.txt")
    with open(names, "w") as f:
        f.writelines(user_name(i) + "\n" for i in range(max(t["users"], 1)))
    markers = os.path.join(base, "markers.txt")
    with open(markers, "w") as f:
        f.writelines(m + "\n" for m in ctx["markers"])
    return {"credentials": cred, "names": names, "markers": markers}


def load_args(op, ctx):
    """iam-load's --action and parameters for a call type: what _one_call
    asks boto3 for, as boto3 encodes it."""
    files = ctx["files"]
    if op == "GetUser":
        return ["--action", "GetUser", "--pick", f"UserName={files['names']}"]
    if op == "ListUsers (first page)":
        return ["--action", "ListUsers", "--param", "MaxItems=100"]
    if op == "ListUsers (later page)":
        return ["--action", "ListUsers", "--param", "MaxItems=100",
                "--pick", f"Marker={files['markers']}"]
    if op == "CreateUser":
        return ["--action", "CreateUser", "--unique", f"UserName=bench-l{uuid.uuid4().hex[:12]}-"]
    if op == "SimulatePrincipalPolicy":
        args = ["--action", "SimulatePrincipalPolicy", "--param", f"PolicySourceArn={ctx['sim_arn']}"]
        for i, a in enumerate(SIM_ACTIONS, 1):
            args += ["--param", f"ActionNames.member.{i}={a}"]
        return args
    raise ValueError(op)


def run_load(args, t, op, ctx, concurrency, seed):
    """One iam-load batch on a target; its JSON report (with every latency)."""
    cmd = [args.load, "--endpoint", t["endpoint"], "--credentials", ctx["files"]["credentials"],
           "--concurrency", str(concurrency), "--duration", str(args.load_seconds),
           "--seed", str(seed), "--warmup", "1", "--raw"] + load_args(op, ctx)
    if t.get("ca_bundle"):
        cmd += ["--ca-bundle", t["ca_bundle"]]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode not in (0, 1):  # 1: the calls ran and some failed
        raise RuntimeError(f"iam-load on {t['label']} ({op}): {p.stderr.strip()}")
    return json.loads(p.stdout)


# ---- setup --------------------------------------------------------------------


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    if not pid:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def db_cpu_seconds(pid):
    """CPU of a PostgreSQL cluster: the postmaster (with its exited,
    reaped children) and its live children, in seconds."""
    if not pid:
        return None
    fields = _stat(pid)
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f = _stat(entry)
        except OSError:
            continue  # exited meanwhile
        if int(f[1]) == pid:
            ticks += sum(int(x) for x in f[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def ignore_exists(f, **kw):
    try:
        return f(**kw)
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        return None


def fixture(t, client):
    """The SimulatePrincipalPolicy subject: a user with an inline policy, 3
    attached managed policies, in a group with one more."""
    try:
        account = boto3.session.Session().client(
            "sts", endpoint_url=t["endpoint"], region_name="us-east-1",
            aws_access_key_id=t["key_id"], aws_secret_access_key=t["secret"],
            verify=t.get("ca_bundle") or False,
        ).get_caller_identity()["Account"]
    except Exception:  # noqa: BLE001 - moto's default account
        account = ACCOUNT_ID_FALLBACK
    doc = lambda i: json.dumps({  # noqa: E731
        "Version": "2012-10-17",
        "Statement": [{"Sid": f"S{i}", "Effect": "Allow",
                       "Action": ["s3:Get*", "ec2:Describe*", "iam:Get*"],
                       "Resource": f"arn:aws:s3:::bucket-{i}/*",
                       "Condition": {"IpAddress": {"aws:SourceIp": f"10.{i}.0.0/16"}}}],
    })
    ignore_exists(client.create_user, UserName=SIM_USER)
    ignore_exists(client.create_group, GroupName=SIM_GROUP)
    client.add_user_to_group(GroupName=SIM_GROUP, UserName=SIM_USER)
    for i in range(FIXTURE_POLICIES + 1):
        arn = f"arn:aws:iam::{account}:policy/bench-p{i}"
        ignore_exists(client.create_policy, PolicyName=f"bench-p{i}", PolicyDocument=doc(i))
        if i < FIXTURE_POLICIES:
            client.attach_user_policy(UserName=SIM_USER, PolicyArn=arn)
        else:
            client.attach_group_policy(GroupName=SIM_GROUP, PolicyArn=arn)
    client.put_user_policy(UserName=SIM_USER, PolicyName="inline", PolicyDocument=doc(9))
    return f"arn:aws:iam::{account}:user/{SIM_USER}"


def markers_of(client, want):
    """Markers of later ListUsers pages, walked with MaxItems=1000 (fewer
    calls), then sampled: any marker the server handed out is a valid start."""
    found, marker = [], None
    while True:
        kw = {"MaxItems": 1000}
        if marker:
            kw["Marker"] = marker
        out = client.list_users(**kw)
        if not out.get("IsTruncated"):
            break
        marker = out["Marker"]
        found.append(marker)
    random.Random(7).shuffle(found)
    return found[:want]


# ---- measuring ----------------------------------------------------------------


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def run(args):
    with open(args.targets) as f:
        targets = json.load(f)
    ops = [o.strip() for o in args.ops.split(",")]
    # iam-load's files go beside the targets file (run.sh's 0700 directory).
    work = os.path.dirname(os.path.abspath(args.targets))
    started = datetime.datetime.now(datetime.timezone.utc)
    load_start = os.getloadavg()
    pools, ctxs = {}, {}
    for t in targets:
        label = t["label"]
        pools[label] = cf.ProcessPoolExecutor(args.procs, initializer=_init_worker, initargs=(t,))
        client = make_client(t)
        if t.get("seed_via_api") and t["users"]:
            t0 = time.perf_counter()
            names = [user_name(i) for i in range(t["users"])]
            chunks = [names[i::args.procs] for i in range(args.procs)]
            sum(pools[label].map(_create_users, chunks))
            t["seed_seconds"] = time.perf_counter() - t0
            print(f"{label}: seeded {t['users']} users through the API in "
                  f"{t['seed_seconds']:.1f} s", file=sys.stderr)
        t0 = time.perf_counter()
        sim_arn = fixture(t, client)
        markers = markers_of(client, 50)
        print(f"{label}: fixture and {len(markers)} markers in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        ctxs[label] = {"users": t["users"], "sim_arn": sim_arn, "markers": markers}
        if args.load:
            ctxs[label]["files"] = load_files(t, ctxs[label], work)
        list(pools[label].map(_warm, range(args.procs * 2)))

    results = {}

    def tally(mode, op, t, ok, lat, errors, wall, cpu, db_cpu, served=None, client_cpu=None):
        """Adds a batch to (mode, op, target); served: the calls the server
        answered in the batch (iam-load's warm-up calls too), for CPU/call."""
        acc = results.setdefault((mode, op, t["label"]), {
            "lat": [], "wall": 0.0, "cpu": 0.0, "db_cpu": None, "errors": {}, "ok": 0,
            "served": 0, "client_cpu": None})
        acc["lat"].extend(lat)
        acc["ok"] += ok
        acc["served"] += ok if served is None else served
        for k, v in errors.items():
            acc["errors"][k] = acc["errors"].get(k, 0) + v
        acc["wall"] += wall
        if cpu is not None:
            acc["cpu"] += cpu
        if db_cpu is not None:
            acc["db_cpu"] = (acc["db_cpu"] or 0.0) + db_cpu
        if client_cpu is not None:
            acc["client_cpu"] = (acc["client_cpu"] or 0.0) + client_cpu

    def measured(t, batch):
        """Runs batch(); its result and the server's (and PostgreSQL's) CPU
        seconds meanwhile."""
        cpu0, db0 = cpu_seconds(t.get("pid")), db_cpu_seconds(t.get("db_pid"))
        out = batch()
        cpu1, db1 = cpu_seconds(t.get("pid")), db_cpu_seconds(t.get("db_pid"))
        return (out, None if cpu0 is None else cpu1 - cpu0,
                None if db0 is None else db1 - db0)

    modes = [] if args.no_boto3 else ["boto3"]
    if args.load:
        modes += ["load", "load-low"]
    for op in ops:
        for mode in modes:
            if mode == "load-low" and op not in READS:
                continue
            for r in range(args.rounds):
                order = targets if r % 2 == 0 else list(reversed(targets))
                for t in order:
                    label = t["label"]
                    ctx = ctxs[label]
                    seed = ops.index(op) * 10_000 + r * 100
                    if op == "ListUsers (later page)" and not ctx["markers"]:
                        results.setdefault((mode, op, label),
                                           {"note": "no later pages: all users in one page"})
                        continue
                    if mode == "boto3":
                        calls = args.list_calls if op.startswith("ListUsers") else args.calls
                        per = [calls // args.procs + (1 if i < calls % args.procs else 0)
                               for i in range(args.procs)]
                        w0 = time.perf_counter()

                        def batch():
                            futs = [pools[label].submit(_batch, op, n, seed + i, ctx)
                                    for i, n in enumerate(per)]
                            return [f.result() for f in futs]

                        outs, cpu, db = measured(t, batch)
                        wall = time.perf_counter() - w0
                        errors = {}
                        for _, errs in outs:
                            for k, v in errs.items():
                                errors[k] = errors.get(k, 0) + v
                        lat = [x for o in outs for x in o[0]]
                        tally(mode, op, t, len(lat), lat, errors, wall, cpu, db)
                        print(f"{op:26s} round {r} boto3 {label}: {len(lat)} ok in {wall:.2f} s",
                              file=sys.stderr)
                    else:
                        conc = args.load_concurrency if mode == "load" else args.low_concurrency
                        out, cpu, db = measured(t, lambda: run_load(args, t, op, ctx, conc, seed))
                        errors = dict(out["errors"])
                        served = out["ok"] + sum(errors.values()) + out["warmup_calls"]
                        client = out.get("client_cpu_ms_per_call")
                        tally(mode, op, t, out["ok"], [us / 1e6 for us in out["latencies_us"]],
                              errors, out["seconds"], cpu, db, served,
                              client * out["ok"] / 1000 if client is not None else None)
                        print(f"{op:26s} round {r} iam-load×{conc} {label}: {out['ok']} ok "
                              f"({out['calls_per_s']:.0f}/s, {out['reconnects']} reconnects) in "
                              f"{out['seconds']:.2f} s" + (f"; errors {errors}" if errors else ""),
                              file=sys.stderr)
    for p in pools.values():
        p.shutdown()

    summary = []
    for (mode, op, label), acc in results.items():
        row = {"mode": mode, "op": op, "target": label}
        if "note" in acc:
            row["note"] = acc["note"]
        elif acc["ok"] == 0:
            row["note"] = "not supported: " + ", ".join(f"{k} ×{v}" for k, v in acc["errors"].items())
            row["errors"] = acc["errors"]
        else:
            row.update({
                "calls": acc["ok"],
                "calls_per_s": acc["ok"] / acc["wall"],
                "p50_ms": pct(acc["lat"], 0.50) * 1000,
                "p99_ms": pct(acc["lat"], 0.99) * 1000,
                "server_cpu_ms_per_call": acc["cpu"] / acc["served"] * 1000 if acc["cpu"] else None,
                # PostgreSQL's share, not in server_cpu_ms_per_call.
                "db_cpu_ms_per_call": (acc["db_cpu"] / acc["served"] * 1000
                                       if acc["db_cpu"] is not None else None),
                "client_cpu_ms_per_call": (acc["client_cpu"] / acc["ok"] * 1000
                                           if acc["client_cpu"] is not None else None),
                "errors": acc["errors"],
            })
        summary.append(row)
    meta = machine(args, targets, started, load_start)
    out = {"meta": meta, "results": summary}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    print(markdown(out, targets, ops))
    failed = [r for r in summary if r["mode"] != "boto3" and r.get("errors")
              and next(t for t in targets if t["label"] == r["target"])["kind"] != "moto"]
    if failed:
        # A refused call (SignatureDoesNotMatch, ...) makes iam-load's
        # figures meaningless; moto's gaps are moto's.
        for r in failed:
            print(f"bench.py: iam-load errors on {r['target']} ({r['op']}, {r['mode']}): "
                  f"{r['errors']}", file=sys.stderr)
        sys.exit(1)


def machine(args, targets, started, load_start):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import moto  # noqa: PLC0415 - only for its version
    return {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} × {cpu}",
        "kernel": platform.release(),
        "load_start": "%.2f %.2f %.2f" % load_start,
        "load_end": "%.2f %.2f %.2f" % os.getloadavg(),
        "python": platform.python_version(),
        "boto3_version": boto3.__version__,
        "botocore": botocore.__version__,
        "moto": moto.__version__,
        "postgres": os.environ.get("IAM_BENCH_POSTGRES_VERSION", ""),
        "iam_server": os.environ.get("IAM_SERVER_VERSION", "?"),
        "procs": args.procs,
        "calls": args.calls,
        "list_calls": args.list_calls,
        "rounds": args.rounds,
        "boto3": not args.no_boto3,
        "load_seconds": args.load_seconds if args.load else None,
        "load_concurrency": args.load_concurrency,
        "low_concurrency": args.low_concurrency,
        "seeding": {t["label"]: t.get("seed_note", "") for t in targets},
    }


def fmt(x, digits=1):
    return "—" if x is None else f"{x:.{digits}f}"


def total_cpu(r):
    """Server CPU per call, PostgreSQL's share included."""
    if r.get("server_cpu_ms_per_call") is None:
        return None
    return r["server_cpu_ms_per_call"] + (r.get("db_cpu_ms_per_call") or 0.0)


MODES = {
    "load": "Throughput: iam-load (Rust, SigV4, keep-alive), {conc} connections",
    "load-low": "Read latency at low load: iam-load, {conc} connections",
    "boto3": "The same boto3 workload: {procs} client processes (boto3's CPU bounds calls/s)",
}


def table(rows, targets, ops, mode):
    base = next((t["label"] for t in targets if t["kind"] == "moto"), None)
    head = ["call"] + [t["label"] for t in targets]
    if base:
        head += [f"{t['label']} ÷ moto" for t in targets if t["kind"] != "moto"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in ops:
        if not any((mode, op, t["label"]) in rows for t in targets):
            continue
        cells = [op]
        for t in targets:
            r = rows.get((mode, op, t["label"]), {})
            if "calls_per_s" in r:
                err = sum(r["errors"].values())
                cells.append(
                    f"{r['calls_per_s']:.0f}/s, p50 {fmt(r['p50_ms'])} ms, p99 {fmt(r['p99_ms'])} ms, "
                    + (f"server CPU {fmt(total_cpu(r), 2)} ms/call (iam-server "
                       f"{fmt(r['server_cpu_ms_per_call'], 2)} + PostgreSQL "
                       f"{fmt(r['db_cpu_ms_per_call'], 2)})"
                       if r.get("db_cpu_ms_per_call") is not None else
                       f"server CPU {fmt(r['server_cpu_ms_per_call'], 2)} ms/call")
                    + (f" ({err} errors: " + ", ".join(f"{k} ×{v}" for k, v in r["errors"].items())
                       + ")" if err else ""))
            else:
                cells.append(r.get("note", "—"))
        if base:
            b = rows.get((mode, op, base), {})
            for t in targets:
                if t["kind"] == "moto":
                    continue
                r = rows.get((mode, op, t["label"]), {})
                if "calls_per_s" in r and "calls_per_s" in b:
                    ratio = f"{r['calls_per_s'] / b['calls_per_s']:.2g}× calls/s"
                    if total_cpu(r) and total_cpu(b):
                        ratio += (f"; moto's server CPU/call ÷ ours: "
                                  f"{total_cpu(b) / total_cpu(r):.2g}×")
                    cells.append(ratio)
                else:
                    cells.append("—")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(out, targets, ops):
    rows = {(r["mode"], r["op"], r["target"]): r for r in out["results"]}
    m = out["meta"]
    lines = []
    for mode in ("load", "load-low", "boto3"):
        if not any(k[0] == mode for k in rows):
            continue
        conc = m["load_concurrency"] if mode == "load" else m["low_concurrency"]
        lines += ["", "#### " + MODES[mode].format(conc=conc, procs=m["procs"]), ""]
        lines += table(rows, targets, ops, mode)
    client = [r["client_cpu_ms_per_call"] for r in out["results"]
              if r.get("client_cpu_ms_per_call") is not None]
    lines.append("")
    lines.append(
        f"Run {m['date']} on {m['cpu']} (kernel {m['kernel']}); load average {m['load_start']} at "
        f"the start, {m['load_end']} at the end; {m['rounds']} rounds per target and call, "
        f"targets interleaved in alternating order: "
        + (f"iam-load for {m['load_seconds']:g} s per batch "
           f"({m['load_concurrency']} connections; {m['low_concurrency']} for the reads' "
           f"low-load latency; its own CPU {min(client):.2f}–{max(client):.2f} ms/call), "
           if client else "")
        + (f"boto3 {m['calls']} calls ({m['list_calls']} for ListUsers) per batch in "
           f"{m['procs']} client processes; " if m["boto3"] else "")
        + f"iam-server {m['iam_server']}, "
        + (f"PostgreSQL {m['postgres']}, " if m.get("postgres") else "")
        + f"moto {m['moto']}, boto3 {m['boto3_version']}, "
        f"botocore {m['botocore']}, Python {m['python']}. Server CPU/call counts iam-load's "
        f"warm-up calls and TLS handshakes in with its timed calls.")
    for label, note in m["seeding"].items():
        if note:
            lines.append(f"- {label}: {note}")
    return "\n".join(lines).lstrip("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", required=True, help="targets JSON (see the module docs)")
    ap.add_argument("--ops", default="GetUser,ListUsers (first page),ListUsers (later page),"
                    "CreateUser,SimulatePrincipalPolicy")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--calls", type=int, default=400, help="calls per batch")
    ap.add_argument("--list-calls", type=int, default=60, help="calls per ListUsers batch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--load", help="the iam-load binary: also run the Rust load generator")
    ap.add_argument("--load-seconds", type=float, default=5.0, help="seconds per iam-load batch")
    ap.add_argument("--load-concurrency", type=int, default=32,
                    help="iam-load connections for the throughput figures")
    ap.add_argument("--low-concurrency", type=int, default=4,
                    help="iam-load connections for the reads' low-load latency")
    ap.add_argument("--no-boto3", action="store_true", help="leave the boto3 batches out")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
