#!/usr/bin/python3
"""Writes the seed corpora (fuzz/seeds/TARGET/) from the test suites:
iam-policy/tests/policy_cases and policy_documents, config/policies, config/iam.toml
and the iam.toml snippets of iam/src/config.rs tests. Re-run after the
suites change; the seeds are committed, the grown corpora (fuzz/corpus) not."""
import glob, hashlib, json, os, re, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "fuzz", "seeds")


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def doc_text(d):
    return d if isinstance(d, str) else json.dumps(d)


policies = []
for path in sorted(glob.glob(os.path.join(root, "iam-policy/tests/policy_cases/*.json"))):
    case_file = json.load(open(path))
    for group in case_file["groups"]:
        docs = [doc_text(p) for p in group.get("policies", [])]
        for k in ("boundary", "resource_policy", "trust"):
            v = group.get(k)
            if isinstance(v, list):
                docs += [doc_text(p) for p in v]
            elif v is not None:
                docs.append(doc_text(v))
        policies += docs
        for case in group["cases"][:3]:
            req = [case.get("action", ""), case.get("resource", ""),
                   case.get("principal", "arn:aws:iam::123456789012:user/alice")]
            for k, v in (case.get("context") or {}).items():
                req += [k, ",".join(v) if isinstance(v, list) else str(v)]
            for doc in docs[:1]:
                put("policy_authorize", "\0".join([doc] + req))
for path in glob.glob(os.path.join(root, "iam-policy/tests/policy_documents/*.json")):
    for d in json.load(open(path)).get("documents", []):
        text = d.get("text") or json.dumps(d.get("document"))
        policies.append(text)
for path in glob.glob(os.path.join(root, "config/policies/*.json")):
    policies.append(open(path).read())
for i, doc in enumerate(policies):
    put("policy_authorize", doc + "\0host:Login\0arn:aws:host::123456789012:host/web-1\0"
        "arn:aws:iam::123456789012:user/alice\0aws:SourceIp\x0010.0.0.1")
    put("cli_documents", bytes([4 * (i % 6)]) + doc.encode())

put("cli_documents", b"\x01" + b'[{"Key":"env","Value":"prod"},{"Key":"team","Value":"ops"}]')
put("cli_documents", b"\x02" + json.dumps([
    {"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.0.0.1"], "ContextKeyType": "ip"},
    {"ContextKeyName": "aws:CurrentTime", "ContextKeyValues": ["2026-11-25T12:00:00Z"], "ContextKeyType": "date"},
    {"ContextKeyName": "n", "ContextKeyValues": ["1", "2"], "ContextKeyType": "numericList"},
    {"ContextKeyName": "b", "ContextKeyValues": ["dGVzdA=="], "ContextKeyType": "binary"},
    {"ContextKeyName": "mfa", "ContextKeyValues": ["true"]}]).encode())
for s in ["alice", "/engineering/", "arn:aws:iam::123456789012:policy/team/Admin",
          "arn:aws:iam::aws:policy/IAMUserChangePassword", "a+b=c,d.e@f-g"]:
    put("cli_documents", b"\x03" + s.encode())

put("host_config", open(os.path.join(root, "config/iam.toml")).read())
src = open(os.path.join(root, "iam/src/config.rs")).read()
for m in re.finditer(r'r#"(.*?)"#', src, re.S):
    if "account_id" in m.group(1) or "[" in m.group(1):
        put("host_config", m.group(1))

for s in [b"\x00correct horse battery staple\x00123456", b"\x10", b"\x30", b"\x50",
          b"\x02nobody\x00pw\x00123456", b"\x05123456", b"\x08pw", b"\x03x\x00y",
          b"\x80", b"\x00" + b"A" * 4096]:
    put("login_answers", s)

for s in [b"alice\0/\0bob\0developers\0/bin/bash\0/home/%u",
          b"Alice.Smith@x\0/a:b/\0carol\0ops\0/bin/sh\0/srv/%u/home",
          b"dave\0/dept/\0dave\0dave\0/usr/bin/zsh\0/home/%u"]:
    put("extrausers_render", s)
