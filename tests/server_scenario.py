"""Drives iam-server with the real `aws` CLI and boto3 (tests/server.rs).

Run with the venv's python (`$IAM_VENV/bin/python`). The server and the
administrator's key come from the environment tests/server.rs sets:
IAM_ENDPOINT, AWS_CA_BUNDLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION, IAM_AWS_CLI (the CLI's path).

Subcommands (one per Rust test): admin, errors, negative, paginate,
concurrency, writes, exists, sign, assume, ssh_keys, hosts, whoami. Each exits non-zero with a
message on the first expectation that fails; `writes`, `sign` and `assume`
print what the Rust side checks.
"""

import argparse
import base64
import contextlib
import csv
import hashlib
import hmac
import http.client
import io
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions

ENDPOINT = os.environ.get("IAM_ENDPOINT", "")
CA = os.environ.get("AWS_CA_BUNDLE", "")
AWS_CLI = os.environ.get("IAM_AWS_CLI", "aws")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
IAM_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}],
}


class Failed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failed(what)


def eq(got, want, what):
    if got != want:
        raise Failed(f"{what}: got {got!r}, want {want!r}")


def admin_creds():
    return os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], None


# --- the aws CLI -------------------------------------------------------------


class CliError(Exception):
    def __init__(self, code, stderr):
        super().__init__(f"{code}: {stderr}")
        self.code = code


def aws(*args, creds=None, raw=False):
    """One `aws` call; its JSON output, or CliError with AWS's error code."""
    env = dict(os.environ)
    if creds is not None:
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], token = creds
        if token:
            env["AWS_SESSION_TOKEN"] = token
        else:
            env.pop("AWS_SESSION_TOKEN", None)
    cmd = [AWS_CLI, "--endpoint-url", ENDPOINT, "--output", "json", *args]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        code = None
        marker = "An error occurred ("
        if marker in out.stderr:
            code = out.stderr.split(marker, 1)[1].split(")", 1)[0]
        raise CliError(code, out.stderr.strip())
    if raw:
        return out.stdout
    return json.loads(out.stdout) if out.stdout.strip() else {}


def aws_fails(code, *args, creds=None):
    try:
        aws(*args, creds=creds)
    except CliError as e:
        eq(e.code, code, f"aws {' '.join(args)}: error code ({e})")
        return
    raise Failed(f"aws {' '.join(args)}: succeeded, want {code}")


# --- boto3 -------------------------------------------------------------------


def client(service, creds=None, retries=True):
    key, secret, token = creds or admin_creds()
    config = botocore.config.Config(
        retries={"max_attempts": 3 if retries else 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.session.Session().client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        verify=CA,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=config,
    )


def code_of(call, *args, **kwargs):
    """The AWS error code `call` fails with (None when it succeeds)."""
    try:
        call(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]
    return None


def snapshot(iam):
    """The whole directory as get-account-authorization-details shows it."""
    details = {}
    for page in iam.get_paginator("get_account_authorization_details").paginate():
        for key, value in page.items():
            if isinstance(value, list):
                details.setdefault(key, []).extend(value)
    return json.loads(json.dumps(details, default=str, sort_keys=True))


@contextlib.contextmanager
def unchanged(iam, what):
    before = snapshot(iam)
    yield
    after = snapshot(iam)
    if before != after:
        raise Failed(f"{what}: the directory changed although the call was refused")


# --- TOTP (RFC 6238, SHA-1, 6 digits, 30 s) ------------------------------------


def totp(seed_base32, at):
    key = base64.b32decode(seed_base32.strip().upper() + "=" * (-len(seed_base32.strip()) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def fresh_step(min_left=4):
    """Waits until the current 30 s step has `min_left` seconds left."""
    left = 30 - time.time() % 30
    if left < min_left:
        time.sleep(left + 0.2)


def enrol_mfa(iam, user, tmpdir):
    """A virtual MFA device for `user`, enabled with two consecutive codes
    (the two steps before the current one). Returns (serial, seed)."""
    seed_file = os.path.join(tmpdir, f"{user}.seed")
    created = aws(
        "iam", "create-virtual-mfa-device", "--virtual-mfa-device-name", f"{user}-phone",
        "--outfile", seed_file, "--bootstrap-method", "Base32StringSeed",
    )
    serial = created["VirtualMFADevice"]["SerialNumber"]
    with open(seed_file) as f:
        seed = f.read().strip()
    fresh_step()
    now = time.time()
    aws(
        "iam", "enable-mfa-device", "--user-name", user, "--serial-number", serial,
        "--authentication-code1", totp(seed, now - 60), "--authentication-code2", totp(seed, now - 30),
    )
    return serial, seed


# --- signing by hand (botocore's signer, our own transport) --------------------


def signed_request(service, params, creds=None, at=None, content_type=None, body=None, target=None):
    """A request signed by botocore's SigV4 signer (dated `at`, unix time,
    when given) as a dict: method, url, host, headers, body."""
    key, secret, token = creds or admin_creds()
    if body is None:
        body = urllib.parse.urlencode(params)
    if isinstance(body, str):
        body = body.encode()
    host = urllib.parse.urlsplit(ENDPOINT).netloc
    headers = {
        "Content-Type": content_type or "application/x-www-form-urlencoded; charset=utf-8",
        "Host": host,
    }
    if target is not None:
        headers["X-Amz-Target"] = target
    request = botocore.awsrequest.AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers=headers)
    signer = botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret, token), service, REGION)
    if at is None:
        signer.add_auth(request)
    else:
        import datetime

        fixed = datetime.datetime.fromtimestamp(at, datetime.timezone.utc).replace(tzinfo=None)
        saved = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda: fixed
        try:
            signer.add_auth(request)
        finally:
            botocore.auth.get_current_datetime = saved
    return {
        "method": "POST",
        "url": ENDPOINT + "/",
        "headers": {k: v for k, v in request.headers.items()},
        "body": body,
    }


def send(request):
    """Sends a signed request over TLS; (status, body text)."""
    parts = urllib.parse.urlsplit(request["url"])
    context = ssl.create_default_context(cafile=CA)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=30)
    try:
        conn.request("POST", "/", body=request["body"], headers=request["headers"])
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


def xml_code(body):
    if "<Code>" not in body:
        return None
    return body.split("<Code>", 1)[1].split("</Code>", 1)[0]


# --- scenarios -----------------------------------------------------------------


def scenario_admin(args):
    """The administrator scenario of issue 13, CLI and boto3 side by side."""
    iam = client("iam")
    sts = client("sts")
    account = "123456789012"
    me = aws("sts", "get-caller-identity")
    eq(me["Account"], account, "get-caller-identity Account")
    eq(me["Arn"], f"arn:aws:iam::{account}:user/iam-admin", "get-caller-identity Arn")
    eq(sts.get_caller_identity()["Arn"], me["Arn"], "boto3 get_caller_identity")

    # Users and tags.
    alice = aws("iam", "create-user", "--user-name", "alice", "--path", "/staff/",
                "--tags", "Key=team,Value=ops")["User"]
    eq(alice["Arn"], f"arn:aws:iam::{account}:user/staff/alice", "alice's ARN")
    check(alice["UserId"].startswith("AIDA"), "user ids start with AIDA")
    iam.create_user(UserName="bob")
    aws("iam", "tag-user", "--user-name", "bob", "--tags", "Key=cost,Value=42", "Key=env,Value=dev")
    tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName="bob")["Tags"]}
    eq(tags, {"cost": "42", "env": "dev"}, "bob's tags")
    iam.untag_user(UserName="bob", TagKeys=["env"])
    eq([t["Key"] for t in aws("iam", "list-user-tags", "--user-name", "bob")["Tags"]], ["cost"], "untag")
    eq(iam.get_user(UserName="alice")["User"]["Tags"], [{"Key": "team", "Value": "ops"}], "get-user tags")
    names = sorted(u["UserName"] for u in aws("iam", "list-users", "--path-prefix", "/staff/")["Users"])
    eq(names, ["alice"], "list-users --path-prefix")

    # Groups, inline and managed group policies.
    aws("iam", "create-group", "--group-name", "ops")
    iam.add_user_to_group(GroupName="ops", UserName="alice")
    iam.add_user_to_group(GroupName="ops", UserName="bob")
    members = sorted(u["UserName"] for u in aws("iam", "get-group", "--group-name", "ops")["Users"])
    eq(members, ["alice", "bob"], "get-group members")
    eq([g["GroupName"] for g in iam.list_groups_for_user(UserName="bob")["Groups"]], ["ops"], "groups for bob")
    iam.put_group_policy(GroupName="ops", PolicyName="read", PolicyDocument=json.dumps(IAM_READ))
    got = iam.get_group_policy(GroupName="ops", PolicyName="read")["PolicyDocument"]
    eq(got["Statement"][0]["Sid"], "Read", "get-group-policy document")
    iam.remove_user_from_group(GroupName="ops", UserName="bob")

    # Managed policies and versions.
    policy = aws("iam", "create-policy", "--policy-name", "read-iam",
                 "--policy-document", json.dumps(IAM_READ), "--description", "read only")["Policy"]
    arn = policy["Arn"]
    eq(arn, f"arn:aws:iam::{account}:policy/read-iam", "policy ARN")
    eq(policy["DefaultVersionId"], "v1", "first version")
    for n in range(2, 6):
        doc = dict(IAM_READ, Statement=[dict(IAM_READ["Statement"][0], Sid=f"V{n}")])
        v = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(doc), SetAsDefault=True)
        eq(v["PolicyVersion"]["VersionId"], f"v{n}", "version id")
    eq(len(aws("iam", "list-policy-versions", "--policy-arn", arn)["Versions"]), 5, "five versions")
    eq(code_of(iam.create_policy_version, PolicyArn=arn, PolicyDocument=json.dumps(IAM_READ)),
       "LimitExceeded", "a sixth version")
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v5")["PolicyVersion"]
    check(got["IsDefaultVersion"], "v5 is the default")
    eq(got["Document"]["Statement"][0]["Sid"], "V5", "v5's document")
    eq(code_of(iam.delete_policy_version, PolicyArn=arn, VersionId="v5"), "DeleteConflict",
       "deleting the default version")
    aws("iam", "set-default-policy-version", "--policy-arn", arn, "--version-id", "v2")
    iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    eq(iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"], "v2", "default after set-default")

    # Attachments.
    aws("iam", "attach-user-policy", "--user-name", "alice", "--policy-arn", arn)
    iam.attach_group_policy(GroupName="ops", PolicyArn=arn)
    attached = aws("iam", "list-attached-user-policies", "--user-name", "alice")["AttachedPolicies"]
    eq([p["PolicyArn"] for p in attached], [arn], "attached user policies")
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    eq([u["UserName"] for u in entities["PolicyUsers"]], ["alice"], "entities: users")
    eq([g["GroupName"] for g in entities["PolicyGroups"]], ["ops"], "entities: groups")
    eq(iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"], 2, "AttachmentCount")
    eq(code_of(iam.delete_policy, PolicyArn=arn), "DeleteConflict", "deleting an attached policy")

    # Inline user policies.
    aws("iam", "put-user-policy", "--user-name", "bob", "--policy-name", "all",
        "--policy-document", json.dumps(ALLOW_ALL))
    eq(iam.list_user_policies(UserName="bob")["PolicyNames"], ["all"], "inline user policies")

    # Permission boundaries: bob may do anything his inline policy allows,
    # within a boundary that allows reading IAM only.
    aws("iam", "put-user-permissions-boundary", "--user-name", "bob", "--permissions-boundary", arn)
    eq(iam.get_user(UserName="bob")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"], arn, "boundary")

    # Access keys (at most two per user), last used.
    key1 = iam.create_access_key(UserName="bob")["AccessKey"]
    check(key1["AccessKeyId"].startswith("AKIA"), "access key ids start with AKIA")
    bob = (key1["AccessKeyId"], key1["SecretAccessKey"], None)
    eq(aws("sts", "get-caller-identity", creds=bob)["Arn"], f"arn:aws:iam::{account}:user/bob", "bob's identity")
    aws("iam", "list-users", creds=bob)  # allowed by both
    aws_fails("AccessDenied", "iam", "create-user", "--user-name", "mallory", creds=bob)  # outside the boundary
    last = iam.get_access_key_last_used(AccessKeyId=key1["AccessKeyId"])
    eq(last["UserName"], "bob", "last used: user")
    # Recorded at most once a minute (a write per call would be a write per
    # read): the first use, by STS, unless a minute passed since.
    check(last["AccessKeyLastUsed"]["ServiceName"] in ("sts", "iam"), f"last used: {last}")
    eq(last["AccessKeyLastUsed"]["Region"], REGION, "last used: region")
    key2 = aws("iam", "create-access-key", "--user-name", "bob")["AccessKey"]
    aws_fails("LimitExceeded", "iam", "create-access-key", "--user-name", "bob")
    keys = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]}
    eq(keys, {key1["AccessKeyId"]: "Active", key2["AccessKeyId"]: "Active"}, "list-access-keys")
    aws("iam", "update-access-key", "--user-name", "bob", "--access-key-id", key1["AccessKeyId"], "--status", "Inactive")
    aws_fails("InvalidClientTokenId", "sts", "get-caller-identity", creds=bob)
    iam.delete_access_key(UserName="bob", AccessKeyId=key2["AccessKeyId"])
    eq(len(iam.list_access_keys(UserName="bob")["AccessKeyMetadata"]), 1, "one key left")
    aws("iam", "delete-user-permissions-boundary", "--user-name", "bob")
    check("PermissionsBoundary" not in iam.get_user(UserName="bob")["User"], "boundary removed")

    # Account password policy and login profiles (the password in the request).
    aws("iam", "update-account-password-policy", "--minimum-password-length", "14",
        "--require-symbols", "--require-numbers", "--max-password-age", "90")
    pp = iam.get_account_password_policy()["PasswordPolicy"]
    eq((pp["MinimumPasswordLength"], pp["RequireSymbols"], pp["MaxPasswordAge"]), (14, True, 90), "password policy")
    eq(code_of(iam.create_login_profile, UserName="alice", Password="short1!"),
       "PasswordPolicyViolation", "a password the policy refuses")
    aws("iam", "create-login-profile", "--user-name", "alice", "--password", "Correct-Horse-42-Battery",
        "--password-reset-required")
    lp = iam.get_login_profile(UserName="alice")["LoginProfile"]
    check(lp["PasswordResetRequired"], "password reset required")
    iam.update_login_profile(UserName="alice", Password="Another-Horse-43-Battery", PasswordResetRequired=False)
    check(not iam.get_login_profile(UserName="alice")["LoginProfile"]["PasswordResetRequired"], "reset cleared")

    # Virtual MFA devices.
    serial, seed = enrol_mfa(iam, "alice", args.tmp)
    devices = aws("iam", "list-mfa-devices", "--user-name", "alice")["MFADevices"]
    eq([d["SerialNumber"] for d in devices], [serial], "alice's MFA devices")
    virtual = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    eq([d["SerialNumber"] for d in virtual], [serial], "assigned virtual devices")

    # Roles and trust policies; assume-role with MFA.
    admin_serial, admin_seed = enrol_mfa(iam, "iam-admin", args.tmp)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:user/iam-admin"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }],
    }
    role = aws("iam", "create-role", "--role-name", "auditor", "--assume-role-policy-document",
               json.dumps(trust), "--max-session-duration", "3600")["Role"]
    role_arn = role["Arn"]
    eq(role_arn, f"arn:aws:iam::{account}:role/auditor", "role ARN")
    check(role["RoleId"].startswith("AROA"), "role ids start with AROA")
    iam.attach_role_policy(RoleName="auditor", PolicyArn=arn)
    iam.tag_role(RoleName="auditor", Tags=[{"Key": "team", "Value": "audit"}])
    eq(iam.list_role_tags(RoleName="auditor")["Tags"], [{"Key": "team", "Value": "audit"}], "role tags")
    got = iam.get_role(RoleName="auditor")["Role"]["AssumeRolePolicyDocument"]
    eq(got["Statement"][0]["Principal"], trust["Statement"][0]["Principal"], "trust policy")
    aws_fails("AccessDenied", "sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "nomfa")
    fresh_step()
    creds = aws("sts", "assume-role", "--role-arn", role_arn, "--role-session-name", "audit-1",
                "--serial-number", admin_serial, "--token-code", totp(admin_seed, time.time()))["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA"), "session key ids start with ASIA")
    session = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    who = aws("sts", "get-caller-identity", creds=session)
    eq(who["Arn"], f"arn:aws:sts::{account}:assumed-role/auditor/audit-1", "the session's identity")
    eq(aws("iam", "get-user", "--user-name", "alice", creds=session)["User"]["UserName"], "alice", "read as role")
    aws_fails("AccessDenied", "iam", "create-user", "--user-name", "eve", creds=session)
    roles = [r["RoleName"] for r in client("iam", creds=session).list_roles()["Roles"]]
    eq(roles, ["auditor"], "list-roles with session credentials (boto3)")
    bad_token = (creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"][:-4] + "AAAA")
    aws_fails("InvalidClientTokenId", "sts", "get-caller-identity", creds=bad_token)

    # Trust policies are bound to the principal's unique id when saved (AWS
    # User Guide, Principal element): a user re-created under the trusted
    # name does not inherit the role, and GetRole then shows the old id; a
    # principal that does not exist is refused.
    aws_fails("MalformedPolicyDocument", "iam", "create-role", "--role-name", "nobodys",
              "--assume-role-policy-document", json.dumps({"Version": "2012-10-17", "Statement": [{
                  "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:user/nobody"},
                  "Action": "sts:AssumeRole"}]}))
    first = iam.create_user(UserName="temp")["User"]
    temp_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": f"arn:aws:iam::{account}:user/temp"}, "Action": "sts:AssumeRole"}]}
    temp_role = iam.create_role(RoleName="temp-role", AssumeRolePolicyDocument=json.dumps(temp_trust))["Role"]["Arn"]

    def temp_creds():
        key = iam.create_access_key(UserName="temp")["AccessKey"]
        return key["AccessKeyId"], (key["AccessKeyId"], key["SecretAccessKey"], None)

    key_id, creds = temp_creds()
    aws("sts", "assume-role", "--role-arn", temp_role, "--role-session-name", "t1", creds=creds)
    iam.delete_access_key(UserName="temp", AccessKeyId=key_id)
    iam.delete_user(UserName="temp")
    iam.create_user(UserName="temp")
    key_id, creds = temp_creds()
    aws_fails("AccessDenied", "sts", "assume-role", "--role-arn", temp_role, "--role-session-name", "t2", creds=creds)
    got = iam.get_role(RoleName="temp-role")["Role"]["AssumeRolePolicyDocument"]
    eq(got["Statement"][0]["Principal"], {"AWS": first["UserId"]}, "a deleted principal shows as its unique id")
    iam.delete_access_key(UserName="temp", AccessKeyId=key_id)
    iam.delete_user(UserName="temp")
    iam.delete_role(RoleName="temp-role")

    # Simulation.
    sim = aws("iam", "simulate-principal-policy", "--policy-source-arn", f"arn:aws:iam::{account}:user/staff/alice",
              "--action-names", "iam:GetUser", "iam:CreateUser")["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in sim}
    eq(decisions, {"iam:GetUser": "allowed", "iam:CreateUser": "implicitDeny"}, "simulate-principal-policy")
    sim = iam.simulate_custom_policy(PolicyInputList=[json.dumps(IAM_READ)],
                                     ActionNames=["iam:ListUsers", "iam:DeleteUser"])["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in sim}
    eq(decisions, {"iam:ListUsers": "allowed", "iam:DeleteUser": "implicitDeny"}, "simulate-custom-policy")

    # Credential report.
    for _ in range(20):
        if aws("iam", "generate-credential-report")["State"] == "COMPLETE":
            break
        time.sleep(0.5)
    report = aws("iam", "get-credential-report")
    eq(report["ReportFormat"], "text/csv", "report format")
    rows = list(csv.DictReader(io.StringIO(base64.b64decode(report["Content"]).decode())))
    by_user = {r["user"]: r for r in rows}
    check({"iam-admin", "alice", "bob"} <= set(by_user), f"report users: {sorted(by_user)}")
    eq(by_user["alice"]["password_enabled"], "true", "alice's password in the report")
    eq(by_user["alice"]["mfa_active"], "true", "alice's MFA in the report")
    eq(by_user["bob"]["access_key_1_active"], "false", "bob's inactive key in the report")
    boto_report = iam.get_credential_report()["Content"]
    check(boto_report.startswith(b"user,arn,"), "boto3 decodes the report")

    # The whole directory.
    details = snapshot(iam)
    users = {u["UserName"]: u for u in details["UserDetailList"]}
    eq(sorted(users), ["alice", "bob", "iam-admin"], "authorization details: users")
    eq(users["alice"]["GroupList"], ["ops"], "authorization details: alice's groups")
    eq([p["PolicyArn"] for p in users["alice"]["AttachedManagedPolicies"]], [arn], "details: alice's policies")
    eq([p["PolicyName"] for p in users["bob"]["UserPolicyList"]], ["all"], "details: bob's inline policy")
    eq([r["RoleName"] for r in details["RoleDetailList"]], ["auditor"], "details: roles")
    eq([g["GroupName"] for g in details["GroupDetailList"]], ["ops"], "details: groups")
    check(arn in [p["Arn"] for p in details["Policies"]], "details: managed policies")

    # Tear down in AWS's order; DeleteConflict while something hangs on.
    aws_fails("DeleteConflict", "iam", "delete-user", "--user-name", "alice")
    aws_fails("DeleteConflict", "iam", "delete-group", "--group-name", "ops")
    iam.detach_user_policy(UserName="alice", PolicyArn=arn)
    iam.detach_group_policy(GroupName="ops", PolicyArn=arn)
    iam.detach_role_policy(RoleName="auditor", PolicyArn=arn)
    iam.remove_user_from_group(GroupName="ops", UserName="alice")
    iam.delete_group_policy(GroupName="ops", PolicyName="read")
    aws("iam", "delete-group", "--group-name", "ops")
    iam.deactivate_mfa_device(UserName="alice", SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    iam.delete_login_profile(UserName="alice")
    aws("iam", "delete-user", "--user-name", "alice")
    iam.delete_user_policy(UserName="bob", PolicyName="all")
    iam.delete_access_key(UserName="bob", AccessKeyId=key1["AccessKeyId"])
    iam.delete_user(UserName="bob")
    iam.delete_role(RoleName="auditor")
    for v in ("v1", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    aws("iam", "delete-policy", "--policy-arn", arn)
    iam.delete_account_password_policy()
    eq(code_of(iam.get_account_password_policy), "NoSuchEntity", "password policy deleted")
    eq([u["UserName"] for u in iam.list_users()["Users"]], ["iam-admin"], "only the administrator left")


def scenario_errors(args):
    """Each mistake answered with the error code AWS gives for it; a refused
    call writes nothing."""
    iam = client("iam")
    iam.create_user(UserName="carol")
    iam.create_group(GroupName="devs")
    iam.add_user_to_group(GroupName="devs", UserName="carol")
    policy = iam.create_policy(PolicyName="p", PolicyDocument=json.dumps(IAM_READ))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="carol", PolicyArn=policy)
    key = iam.create_access_key(UserName="carol")["AccessKey"]
    carol = (key["AccessKeyId"], key["SecretAccessKey"], None)
    iam.create_access_key(UserName="carol")
    bad_doc = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": '
    unknown_key = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", None)
    wrong_secret = (key["AccessKeyId"], key["SecretAccessKey"][:-1] + ("A" if key["SecretAccessKey"][-1] != "A" else "B"), None)
    cases = [
        ("NoSuchEntity", ["iam", "get-user", "--user-name", "nobody"], None),
        ("NoSuchEntity", ["iam", "attach-user-policy", "--user-name", "carol", "--policy-arn",
                          "arn:aws:iam::123456789012:policy/missing"], None),
        ("EntityAlreadyExists", ["iam", "create-user", "--user-name", "carol"], None),
        ("EntityAlreadyExists", ["iam", "create-user", "--user-name", "CAROL"], None),
        ("DeleteConflict", ["iam", "delete-user", "--user-name", "carol"], None),
        ("DeleteConflict", ["iam", "delete-policy", "--policy-arn", policy], None),
        ("LimitExceeded", ["iam", "create-access-key", "--user-name", "carol"], None),
        ("MalformedPolicyDocument", ["iam", "put-user-policy", "--user-name", "carol", "--policy-name", "x",
                                     "--policy-document", bad_doc], None),
        ("MalformedPolicyDocument", ["iam", "create-policy", "--policy-name", "q", "--policy-document",
                                     '{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}'], None),
        ("ValidationError", ["iam", "create-user", "--user-name", "bad name"], None),
        ("ValidationError", ["iam", "list-users", "--max-items", "5", "--page-size", "1001"], None),
        ("AccessDenied", ["iam", "create-user", "--user-name", "dave"], carol),
        ("AccessDenied", ["iam", "delete-user", "--user-name", "carol"], carol),
        ("InvalidClientTokenId", ["iam", "list-users"], unknown_key),
        ("SignatureDoesNotMatch", ["iam", "list-users"], wrong_secret),
        ("SignatureDoesNotMatch", ["sts", "get-caller-identity"], wrong_secret),
    ]
    for code, argv, creds in cases:
        with unchanged(iam, " ".join(argv)):
            aws_fails(code, *argv, creds=creds)
    with unchanged(iam, "boto3 create_user carol"):
        eq(code_of(iam.create_user, UserName="carol"), "EntityAlreadyExists", "boto3 sees the same code")
    aws("iam", "list-users", creds=carol)  # the policy allows reading


def scenario_negative(args):
    """Hand-made requests: tampered bodies, plain HTTP, oversized and
    malformed bodies; each refused with nothing written."""
    iam = client("iam")
    host = urllib.parse.urlsplit(ENDPOINT)
    params = {"Action": "CreateUser", "Version": "2010-05-08", "UserName": "tampered"}

    # Unchanged, the hand-signed request works (the control).
    status, body = send(signed_request("iam", {"Action": "GetUser", "Version": "2010-05-08"}))
    eq(status, 200, f"a hand-signed request ({body})")

    # One byte of the body changed after signing.
    request = signed_request("iam", params)
    request["body"] = request["body"].replace(b"tampered", b"tamperex")
    with unchanged(iam, "tampered body"):
        status, body = send(request)
        eq((status, xml_code(body)), (403, "SignatureDoesNotMatch"), "a tampered body")

    # A signed header changed after signing.
    request = signed_request("iam", params)
    request["headers"]["X-Amz-Date"] = request["headers"]["X-Amz-Date"][:-3] + "00Z"
    with unchanged(iam, "tampered date"):
        status, body = send(request)
        eq((status, xml_code(body)), (403, "SignatureDoesNotMatch"), "a tampered X-Amz-Date")

    # Signed for IAM, sent with a session token that was never issued.
    request = signed_request("iam", params, creds=admin_creds()[:2] + ("FwoGZXIvYXdzEBogus",))
    with unchanged(iam, "a token with a long-term key"):
        status, body = send(request)
        eq((status, xml_code(body)), (403, "InvalidClientTokenId"), "a token with a long-term key")

    # No signature at all.
    context = ssl.create_default_context(cafile=CA)
    conn = http.client.HTTPSConnection(host.hostname, host.port, context=context, timeout=30)
    conn.request("POST", "/", body=urllib.parse.urlencode(params),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    check(response.status in (400, 403) and xml_code(text) is not None, f"an unsigned request: {response.status} {text}")

    # Malformed form input and an XML body, properly signed.
    for what, body, content_type in [
        ("bad percent-encoding", "Action=CreateUser&Version=2010-05-08&UserName=%ZZx", None),
        ("no Action", "Version=2010-05-08&UserName=x", None),
        ("an unknown Action", "Action=CreateBucket&Version=2010-05-08", None),
        ("a wrong Version", "Action=ListUsers&Version=2006-03-01", None),
        ("a missing required parameter", "Action=CreateUser&Version=2010-05-08", None),
        ("an XML body", "<CreateUserRequest><UserName>x</UserName></CreateUserRequest>", "text/xml"),
        ("a malformed list", "Action=AddUserToGroup&Version=2010-05-08&UserName.member.x=1", None),
    ]:
        with unchanged(iam, what):
            status, text = send(signed_request("iam", {}, body=body, content_type=content_type))
            check(400 <= status < 500 and "<ErrorResponse" in text and xml_code(text),
                  f"{what}: want an AWS error, got {status} {text}")

    # Oversized body: refused with 413 before it is read whole. The server
    # answers and closes while the client is still sending, so the answer
    # can be lost to a connection reset: try a few times, never accept a
    # 2xx.
    big = "Action=ListUsers&Version=2010-05-08&Pad=" + "x" * (2 * 1024 * 1024)
    answers = []
    for _ in range(5):
        try:
            status, _ = send(signed_request("iam", {}, body=big))
        except (OSError, http.client.HTTPException) as e:
            answers.append(type(e).__name__)
            continue
        answers.append(status)
        if status == 413:
            break
    check(413 in answers and not any(isinstance(a, int) and a < 300 for a in answers),
          f"an oversized body: {answers}")

    # Plain HTTP to the TLS port: no HTTP answer.
    with socket.create_connection((host.hostname, host.port), timeout=10) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        received = b""
        try:
            while len(received) < 64:
                chunk = s.recv(64)
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        check(not received.startswith(b"HTTP/"), f"plain HTTP got an HTTP answer: {received[:40]!r}")
    # And the CLI pointed at http:// fails without reaching an IAM verb.
    try:
        env_endpoint = ENDPOINT.replace("https://", "http://")
        subprocess.run([AWS_CLI, "--endpoint-url", env_endpoint, "--cli-read-timeout", "5",
                        "--cli-connect-timeout", "5", "iam", "list-users"],
                       capture_output=True, timeout=60, check=True,
                       env=dict(os.environ, AWS_MAX_ATTEMPTS="1", AWS_RETRY_MODE="standard"))
        raise Failed("aws over plain HTTP succeeded")
    except subprocess.CalledProcessError:
        pass
    except subprocess.TimeoutExpired:
        raise Failed("aws over plain HTTP: no answer within 60 s")

    # Nothing above created the user.
    eq(code_of(iam.get_user, UserName="tampered"), "NoSuchEntity", "no tampered user")


def scenario_paginate(args):
    """1,000 users through the CLI's own paginator and --query."""
    iam = client("iam")
    names = [f"u-{i}" for i in range(1000)]

    def create(chunk):
        c = client("iam")
        for name in chunk:
            c.create_user(UserName=name)

    threads = [threading.Thread(target=create, args=(names[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everyone = aws("iam", "list-users")["Users"]
    eq(len(everyone), 1001, "aws iam list-users (auto-paginated)")
    eq(len({u["UserName"] for u in everyone}), 1001, "no user listed twice")
    first = aws("iam", "list-users", "--max-items", "250")
    eq(len(first["Users"]), 250, "--max-items 250")
    check("NextToken" in first, "--max-items gives a NextToken")
    rest = aws("iam", "list-users", "--starting-token", first["NextToken"])
    eq(len(rest["Users"]), 751, "--starting-token gives the rest")
    eq({u["UserName"] for u in first["Users"]} | {u["UserName"] for u in rest["Users"]},
       {u["UserName"] for u in everyone}, "the two parts are the whole")
    paged = aws("iam", "list-users", "--page-size", "37")["Users"]
    eq(len(paged), 1001, "--page-size 37")
    picked = aws("iam", "list-users", "--query", "Users[?starts_with(UserName, `u-1`)].UserName")
    eq(sorted(picked), sorted(n for n in names if n.startswith("u-1")), "--query starts_with u-1")
    eq(len(picked), 111, "u-1, u-10..u-19, u-100..u-199")
    page = iam.list_users(MaxItems=100)
    check(page["IsTruncated"] and page["Marker"], "boto3: IsTruncated and Marker")
    eq(len(page["Users"]), 100, "boto3: a page of 100")
    count = sum(len(p["Users"]) for p in iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 400}))
    eq(count, 1001, "boto3's paginator")


def scenario_concurrency(args):
    """50 clients at once creating users and attaching policies: no write
    lost, none duplicated; a contended name created exactly once."""
    iam = client("iam")
    policy = iam.create_policy(PolicyName="shared", PolicyDocument=json.dumps(IAM_READ))["Policy"]["Arn"]
    iam.create_group(GroupName="crowd")
    per_client, clients, contended = 4, 50, 5
    wins = {k: [] for k in range(contended)}
    errors = []
    start = threading.Barrier(clients)

    def work(n):
        try:
            c = client("iam", retries=False)
            start.wait()
            for k in range(contended):
                code = code_of(c.create_user, UserName=f"contended-{k}")
                if code is None:
                    wins[k].append(n)
                elif code != "EntityAlreadyExists":
                    errors.append(f"client {n}: contended-{k}: {code}")
            for i in range(per_client):
                name = f"c{n}-{i}"
                c.create_user(UserName=name)
                c.attach_user_policy(UserName=name, PolicyArn=policy)
                c.add_user_to_group(GroupName="crowd", UserName=name)
        except Exception as e:  # reported below, with the client's number
            errors.append(f"client {n}: {e!r}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"{len(errors)} failed calls: {errors[:5]}")
    for k, winners in wins.items():
        eq(len(winners), 1, f"contended-{k}: clients that created it")
    expected = {f"c{n}-{i}" for n in range(clients) for i in range(per_client)}
    listed = [u["UserName"] for p in iam.get_paginator("list_users").paginate() for u in p["Users"]]
    eq(len(listed), len(set(listed)), "no user listed twice")
    eq(set(listed), expected | {f"contended-{k}" for k in range(contended)} | {"iam-admin"}, "every user created")
    entities = [u["UserName"] for p in iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=policy)
                for u in p["PolicyUsers"]]
    eq(sorted(entities), sorted(expected), "every attachment, once")
    eq(iam.get_policy(PolicyArn=policy)["Policy"]["AttachmentCount"], len(expected), "AttachmentCount")
    members = [u["UserName"] for p in iam.get_paginator("get_group").paginate(GroupName="crowd") for u in p["Users"]]
    eq(sorted(members), sorted(expected), "every membership, once")


def scenario_writes(args):
    """Creates users until the server goes away, printing each one whose
    CreateUser was acknowledged (one name a line, flushed)."""
    iam = client("iam", retries=False)
    n = 0
    while True:
        name = f"w-{n}"
        try:
            iam.create_user(UserName=name)
        except Exception as e:  # the server was killed: stop
            print(f"# stopped: {type(e).__name__}", file=sys.stderr)
            return
        print(name, flush=True)
        n += 1


def scenario_exists(args):
    """Every name on stdin is a user."""
    iam = client("iam")
    listed = {u["UserName"] for p in iam.get_paginator("list_users").paginate() for u in p["Users"]}
    wanted = [line.strip() for line in sys.stdin if line.strip()]
    missing = [n for n in wanted if n not in listed]
    check(not missing, f"{len(missing)} acknowledged users lost: {missing[:10]}")
    print(json.dumps({"checked": len(wanted), "listed": len(listed)}))


def scenario_sign(args):
    """Prints one request signed by botocore (dated --at, unix seconds) as
    JSON for the Rust side to hand to App::call."""
    creds = admin_creds()
    if args.session:
        s = json.loads(args.session)
        creds = (s["AccessKeyId"], s["SecretAccessKey"], s["SessionToken"])
    params = dict(urllib.parse.parse_qsl(args.params))
    request = signed_request(args.service, params, creds=creds, at=args.at)
    request["body"] = request["body"].decode()
    print(json.dumps(request))


def scenario_assume(args):
    """A role the administrator may assume without MFA; prints the
    credentials of a 900 s session."""
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
        "AWS": "arn:aws:iam::123456789012:user/iam-admin"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="short", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="short", PolicyName="read", PolicyDocument=json.dumps(IAM_READ))
    creds = aws("sts", "assume-role", "--role-arn", "arn:aws:iam::123456789012:role/short",
                "--role-session-name", "brief", "--duration-seconds", "900")["Credentials"]
    print(json.dumps(creds))


def ssh_keygen(tmpdir, name, *args):
    """A fresh key pair made by the real ssh-keygen; returns (public line,
    its MD5 fingerprint as `ssh-keygen -l -E md5` prints it, path)."""
    path = os.path.join(tmpdir, name)
    subprocess.run(["ssh-keygen", "-q", "-N", "", "-C", name, *args, "-f", path], check=True)
    with open(path + ".pub") as f:
        line = f.read().strip()
    listed = subprocess.run(["ssh-keygen", "-l", "-E", "md5", "-f", path + ".pub"],
                            check=True, capture_output=True, text=True).stdout
    return line, listed.split()[1].removeprefix("MD5:"), path


def scenario_ssh_keys(args):
    """Issue 15: the five SSH public key operations through boto3 (botocore's
    own parameter names and response shapes) and the aws CLI, AWS's limits
    and errors, a refused call changing nothing, and self-service by policy
    (iam:*SSHPublicKey* on user/${aws:username})."""
    import tempfile

    iam = client("iam")
    iam.create_user(UserName="kim")
    iam.create_user(UserName="lee")
    tmp = tempfile.mkdtemp(prefix="ssh-keys-")
    ed, ed_md5, _ = ssh_keygen(tmp, "ed", "-t", "ed25519")
    rsa, rsa_md5, rsa_path = ssh_keygen(tmp, "rsa", "-t", "rsa", "-b", "2048")

    # Upload: AWS's SSHPublicKey shape, every member botocore knows.
    up = iam.upload_ssh_public_key(UserName="kim", SSHPublicKeyBody=ed)["SSHPublicKey"]
    eq(sorted(up), ["Fingerprint", "SSHPublicKeyBody", "SSHPublicKeyId", "Status", "UploadDate", "UserName"],
       "UploadSSHPublicKey members")
    check(up["SSHPublicKeyId"].startswith("APKA") and len(up["SSHPublicKeyId"]) == 20,
          f"SSHPublicKeyId APKA + 16: {up['SSHPublicKeyId']}")
    eq(up["Fingerprint"], ed_md5, "Fingerprint is the key's MD5 (ssh-keygen -l -E md5)")
    eq(up["Status"], "Active", "a new key is Active")
    eq(up["UserName"], "kim", "UserName")
    eq(up["SSHPublicKeyBody"], " ".join(ed.split()[:2]), "body in OpenSSH form")
    check(hasattr(up["UploadDate"], "year"), "UploadDate parses as a timestamp")

    # The same key as PEM (ssh-keygen -e -m PKCS8), through the aws CLI.
    pem = subprocess.run(["ssh-keygen", "-e", "-m", "PKCS8", "-f", rsa_path + ".pub"],
                         check=True, capture_output=True, text=True).stdout
    cli = aws("iam", "upload-ssh-public-key", "--user-name", "kim", "--ssh-public-key-body", pem)["SSHPublicKey"]
    eq(cli["Fingerprint"], rsa_md5, "a PEM upload has the key's MD5 fingerprint")
    eq(cli["SSHPublicKeyBody"], " ".join(rsa.split()[:2]), "a PEM upload is stored as the same key")

    # List: SSHPublicKeyMetadata, the caller's keys by default (none: admin).
    listed = iam.list_ssh_public_keys(UserName="kim")
    eq(sorted(listed["SSHPublicKeys"][0]), ["SSHPublicKeyId", "Status", "UploadDate", "UserName"],
       "SSHPublicKeyMetadata members")
    eq([k["SSHPublicKeyId"] for k in listed["SSHPublicKeys"]], [up["SSHPublicKeyId"], cli["SSHPublicKeyId"]],
       "ListSSHPublicKeys, oldest first")
    eq(listed["IsTruncated"], False, "IsTruncated")
    eq(iam.list_ssh_public_keys()["SSHPublicKeys"], [], "the caller's own keys")
    paged = aws("iam", "list-ssh-public-keys", "--user-name", "kim", "--max-items", "1")
    eq(len(paged["SSHPublicKeys"]), 1, "--max-items 1")
    check("NextToken" in paged, "the CLI paginator gets a NextToken")

    # Get, in both encodings.
    got = iam.get_ssh_public_key(UserName="kim", SSHPublicKeyId=cli["SSHPublicKeyId"], Encoding="SSH")
    eq(got["SSHPublicKey"]["SSHPublicKeyBody"], " ".join(rsa.split()[:2]), "Encoding=SSH")
    got = aws("iam", "get-ssh-public-key", "--user-name", "kim", "--ssh-public-key-id", cli["SSHPublicKeyId"],
              "--encoding", "PEM")["SSHPublicKey"]
    check(got["SSHPublicKeyBody"].startswith("-----BEGIN PUBLIC KEY-----"), f"Encoding=PEM: {got}")
    pem_file = os.path.join(tmp, "got.pem")
    with open(pem_file, "w") as f:
        f.write(got["SSHPublicKeyBody"])
    back = subprocess.run(["ssh-keygen", "-i", "-m", "PKCS8", "-f", pem_file],
                          check=True, capture_output=True, text=True).stdout.strip()
    eq(back, " ".join(rsa.split()[:2]), "ssh-keygen reads the PEM back as the same key")
    eq(got["Fingerprint"], rsa_md5, "the same fingerprint in PEM")

    # Update and delete.
    iam.update_ssh_public_key(UserName="kim", SSHPublicKeyId=up["SSHPublicKeyId"], Status="Inactive")
    eq(iam.get_ssh_public_key(UserName="kim", SSHPublicKeyId=up["SSHPublicKeyId"], Encoding="SSH")
       ["SSHPublicKey"]["Status"], "Inactive", "UpdateSSHPublicKey")
    aws("iam", "update-ssh-public-key", "--user-name", "kim", "--ssh-public-key-id", up["SSHPublicKeyId"],
        "--status", "Active")
    aws("iam", "delete-ssh-public-key", "--user-name", "kim", "--ssh-public-key-id", cli["SSHPublicKeyId"])
    eq(len(iam.list_ssh_public_keys(UserName="kim")["SSHPublicKeys"]), 1, "DeleteSSHPublicKey")

    # Bad input: AWS's code, and nothing changed.
    def keys(user):
        return iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"]

    weak, _, _ = ssh_keygen(tmp, "weak", "-t", "rsa", "-b", "1024")
    kind, data = rsa.split()[:2]
    truncated = f"{kind} {data[: len(data) // 2 // 4 * 4]}"
    bad = [
        ("InvalidPublicKey", {"UserName": "kim", "SSHPublicKeyBody": truncated}),
        ("InvalidPublicKey", {"UserName": "kim", "SSHPublicKeyBody": weak}),
        ("UnrecognizedPublicKeyEncoding", {"UserName": "kim", "SSHPublicKeyBody": "not a key"}),
        ("DuplicateSSHPublicKey", {"UserName": "kim", "SSHPublicKeyBody": ed}),
        ("NoSuchEntity", {"UserName": "nobody", "SSHPublicKeyBody": rsa}),
    ]
    for code, params in bad:
        before = keys("kim")
        eq(code_of(iam.upload_ssh_public_key, **params), code, f"upload {code}")
        eq(keys("kim"), before, f"{code}: nothing changed")
    for n in range(4):
        line, _, _ = ssh_keygen(tmp, f"k{n}", "-t", "ed25519")
        iam.upload_ssh_public_key(UserName="kim", SSHPublicKeyBody=line)
    sixth, _, _ = ssh_keygen(tmp, "sixth", "-t", "ecdsa")
    before = keys("kim")
    eq(len(before), 5, "five keys")
    eq(code_of(iam.upload_ssh_public_key, UserName="kim", SSHPublicKeyBody=sixth), "LimitExceeded", "a sixth key")
    eq(keys("kim"), before, "LimitExceeded: nothing changed")
    aws_fails("NoSuchEntity", "iam", "get-ssh-public-key", "--user-name", "lee", "--ssh-public-key-id",
              up["SSHPublicKeyId"], "--encoding", "SSH")
    aws_fails("NoSuchEntity", "iam", "delete-ssh-public-key", "--user-name", "lee", "--ssh-public-key-id",
              up["SSHPublicKeyId"])
    eq(code_of(iam.delete_user, UserName="kim"), "DeleteConflict", "a user with keys")

    # Self-service: AWS's example policy, keys of one's own user only.
    self_service = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["iam:UploadSSHPublicKey", "iam:ListSSHPublicKeys", "iam:GetSSHPublicKey",
                   "iam:UpdateSSHPublicKey", "iam:DeleteSSHPublicKey"],
        "Resource": "arn:aws:iam::*:user/${aws:username}"}]}
    iam.put_user_policy(UserName="lee", PolicyName="own-keys", PolicyDocument=json.dumps(self_service))
    key = iam.create_access_key(UserName="lee")["AccessKey"]
    lee = client("iam", creds=(key["AccessKeyId"], key["SecretAccessKey"], None))
    mine = lee.upload_ssh_public_key(UserName="lee", SSHPublicKeyBody=sixth)["SSHPublicKey"]
    eq([k["SSHPublicKeyId"] for k in lee.list_ssh_public_keys()["SSHPublicKeys"]], [mine["SSHPublicKeyId"]],
       "lee lists its own keys without naming itself")
    before = keys("kim")
    eq(code_of(lee.upload_ssh_public_key, UserName="kim", SSHPublicKeyBody=rsa), "AccessDenied",
       "another user's keys")
    eq(code_of(lee.update_ssh_public_key, UserName="kim", SSHPublicKeyId=up["SSHPublicKeyId"],
               Status="Inactive"), "AccessDenied", "another user's key status")
    eq(keys("kim"), before, "AccessDenied: nothing changed")
    lee.delete_ssh_public_key(UserName="lee", SSHPublicKeyId=mine["SSHPublicKeyId"])


HOST_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
HOST_TARGET = "IamHost_20261203."
JSON_11 = "application/x-amz-json-1.1"


def join_token(args, profile, expires_in="1h"):
    """`iam-server join-token` on the server's own directory: the token."""
    out = subprocess.run(
        [args.iam_server, "--config", args.server_config, "join-token",
         "--instance-profile-name", profile, "--expires-in", expires_in],
        capture_output=True, text=True, timeout=60)
    eq(out.returncode, 0, f"join-token: {out.stderr}")
    token = out.stdout.strip()
    check(len(token) == 52 and token not in out.stderr, "a 52-character token, on stdout only")
    return token


def revoke_host(args, hostname):
    out = subprocess.run(
        [args.iam_server, "--config", args.server_config, "revoke-host", hostname],
        capture_output=True, text=True, timeout=60)
    eq(out.returncode, 0, f"revoke-host: {out.stderr}")


def join_host(token, hostname):
    """JoinHost, unsigned: (status, JSON answer)."""
    body = json.dumps({"Token": token, "Hostname": hostname})
    request = {
        "url": ENDPOINT + "/",
        "headers": {"Content-Type": JSON_11, "X-Amz-Target": HOST_TARGET + "JoinHost",
                    "Host": urllib.parse.urlsplit(ENDPOINT).netloc},
        "body": body.encode(),
    }
    status, text = send(request)
    return status, json.loads(text)


def host_creds(joined):
    return joined["AccessKeyId"], joined["SecretAccessKey"], None


def caller_code(creds):
    """What GetCallerIdentity answers these credentials: the ARN or the error code."""
    try:
        return client("sts", creds, retries=False).get_caller_identity()["Arn"]
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def scenario_hosts(args):
    """Issue 14, host identity: instance profiles with AWS's verbs and
    rules, one-time expiring join tokens, host credentials that are the
    profile's role session, what a stolen one cannot do, and revocation."""
    iam = client("iam")
    acct = "123456789012"
    policy = open(args.host_policy).read()
    for role in ("web-host", "db-host"):
        aws("iam", "create-role", "--role-name", role, "--assume-role-policy-document", json.dumps(HOST_TRUST))
        aws("iam", "put-role-policy", "--role-name", role, "--policy-name", "IamHostAgent",
            "--policy-document", policy)

    # Instance profiles: AWS's shapes, ids and rules.
    made = aws("iam", "create-instance-profile", "--instance-profile-name", "web", "--path", "/fleet/",
               "--tags", "Key=env,Value=prod")["InstanceProfile"]
    eq(made["Arn"], f"arn:aws:iam::{acct}:instance-profile/fleet/web", "profile ARN")
    check(made["InstanceProfileId"].startswith("AIPA") and len(made["InstanceProfileId"]) == 21, "AIPA id")
    eq(made["Roles"], [], "a new profile holds no role")
    aws_fails("EntityAlreadyExists", "iam", "create-instance-profile", "--instance-profile-name", "WEB")
    aws_fails("ValidationError", "iam", "create-instance-profile", "--instance-profile-name", "bad name")
    aws_fails("NoSuchEntity", "iam", "get-instance-profile", "--instance-profile-name", "nope")
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "web", "--role-name", "web-host")
    aws_fails("LimitExceeded", "iam", "add-role-to-instance-profile", "--instance-profile-name", "web",
              "--role-name", "db-host")
    aws_fails("DeleteConflict", "iam", "delete-role", "--role-name", "web-host")
    aws_fails("DeleteConflict", "iam", "delete-instance-profile", "--instance-profile-name", "web")
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    eq([r["RoleName"] for r in got["Roles"]], ["web-host"], "the profile's role")
    eq(got["Tags"], [{"Key": "env", "Value": "prod"}], "the profile's tags")
    listed = iam.list_instance_profiles_for_role(RoleName="web-host")["InstanceProfiles"]
    eq([p["InstanceProfileName"] for p in listed], ["web"], "profiles for the role")
    eq(iam.list_instance_profiles_for_role(RoleName="db-host")["InstanceProfiles"], [], "none for db-host")
    eq(len(iam.list_instance_profiles(PathPrefix="/fleet/")["InstanceProfiles"]), 1, "by path")
    iam.tag_instance_profile(InstanceProfileName="web", Tags=[{"Key": "tier", "Value": "web"}])
    iam.untag_instance_profile(InstanceProfileName="web", TagKeys=["tier"])
    eq(aws("iam", "list-instance-profile-tags", "--instance-profile-name", "web")["Tags"],
       [{"Key": "env", "Value": "prod"}], "tags after tag and untag")

    # A token enrols one host, once.
    token = join_token(args, "web")
    status, joined = join_host(token, "web-1")
    eq(status, 200, f"JoinHost: {joined}")
    check(joined["AccessKeyId"].startswith("ACCA") and len(joined["SecretAccessKey"]) == 40, "a host key")
    eq(joined["AccountId"], acct, "the account")
    eq(joined["Arn"], f"arn:aws:sts::{acct}:assumed-role/web-host/web-1", "the host's principal")
    status, again = join_host(token, "web-9")
    eq((status, again.get("__type")), (403, "InvalidJoinToken"), "a used token")
    status, bad = join_host("A" * 52, "web-9")
    eq((status, bad.get("__type")), (403, "InvalidJoinToken"), "an unknown token")
    short = join_token(args, "web", "1s")
    time.sleep(2.1)
    status, late = join_host(short, "web-9")
    eq((status, late.get("__type")), (403, "InvalidJoinToken"), "an expired token")

    # The host is the role session of the profile's role, with its tags.
    web1 = host_creds(joined)
    eq(caller_code(web1), f"arn:aws:sts::{acct}:assumed-role/web-host/web-1", "GetCallerIdentity")
    status, text = send(signed_request("iam", {}, creds=web1, content_type=JSON_11, body="{}",
                                       target=HOST_TARGET + "DescribeHost"))
    eq(status, 200, f"DescribeHost: {text}")
    described = json.loads(text)
    eq(described["HostArn"], f"arn:aws:host::{acct}:host/web-1", "host ARN")
    eq(described["InstanceProfile"]["Tags"], [{"Key": "env", "Value": "prod"}], "the host's tags")
    status, text = send(signed_request("iam", {}, content_type=JSON_11, body="{}",
                                       target=HOST_TARGET + "DescribeHost"))
    eq(status, 403, f"DescribeHost by a user: {text}")

    # A stolen host credential: only what the host role's policies allow.
    before = snapshot(iam)
    aws_fails("AccessDenied", "iam", "create-user", "--user-name", "mallory", creds=web1)
    aws_fails("AccessDenied", "iam", "put-user-policy", "--user-name", "iam-admin", "--policy-name", "x",
              "--policy-document", json.dumps(ALLOW_ALL), creds=web1)
    aws_fails("AccessDenied", "iam", "list-access-keys", "--user-name", "iam-admin", creds=web1)
    aws_fails("AccessDenied", "iam", "create-access-key", "--user-name", "iam-admin", creds=web1)
    aws_fails("AccessDenied", "iam", "add-role-to-instance-profile", "--instance-profile-name", "web",
              "--role-name", "db-host", creds=web1)
    aws_fails("AccessDenied", "iam", "put-role-policy", "--role-name", "web-host", "--policy-name", "x",
              "--policy-document", json.dumps(ALLOW_ALL), creds=web1)
    aws_fails("AccessDenied", "sts", "assume-role", "--role-arn", f"arn:aws:iam::{acct}:role/db-host",
              "--role-session-name", "stolen", creds=web1)
    eq(snapshot(iam), before, "a stolen host key changed nothing")
    # Its secret with a session token, or a wrong secret: refused.
    eq(caller_code((web1[0], web1[1], "AQoDYXdzEJr")), "InvalidClientTokenId", "a host key with a token")
    eq(caller_code((web1[0], "x" * 40, None)), "SignatureDoesNotMatch", "a wrong secret")

    # Revocation, three ways; each refuses the next call.
    aws("iam", "remove-role-from-instance-profile", "--instance-profile-name", "web", "--role-name", "web-host")
    eq(caller_code(web1), "InvalidClientTokenId", "the role removed from the profile")
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "web", "--role-name", "db-host")
    eq(caller_code(web1), f"arn:aws:sts::{acct}:assumed-role/db-host/web-1", "the profile's role now")
    revoke_host(args, "web-1")
    eq(caller_code(web1), "InvalidClientTokenId", "revoke-host")
    status, joined2 = join_host(join_token(args, "web"), "web-2")
    eq(status, 200, f"JoinHost web-2: {joined2}")
    web2 = host_creds(joined2)
    eq(caller_code(web2), f"arn:aws:sts::{acct}:assumed-role/db-host/web-2", "web-2")
    aws("iam", "remove-role-from-instance-profile", "--instance-profile-name", "web", "--role-name", "db-host")
    aws("iam", "delete-instance-profile", "--instance-profile-name", "web")
    aws("iam", "create-instance-profile", "--instance-profile-name", "web")
    aws("iam", "add-role-to-instance-profile", "--instance-profile-name", "web", "--role-name", "db-host")
    eq(caller_code(web2), "InvalidClientTokenId", "the profile deleted (and made again)")
    # The trail shows the enrolments, as the hosts.
    events = client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "JoinHost"}])["Events"]
    eq(sorted(json.loads(e["CloudTrailEvent"])["userIdentity"]["arn"] for e in events),
       [f"arn:aws:sts::{acct}:assumed-role/db-host/web-2", f"arn:aws:sts::{acct}:assumed-role/web-host/web-1"],
       "JoinHost events")
    for e in events:
        check(token not in e["CloudTrailEvent"], "no token in an event")



def scenario_whoami(args):
    """Prints the ARN the environment's credentials are (GetCallerIdentity)."""
    print(client("sts", retries=False).get_caller_identity()["Arn"])


def scenario_mfa_devices(args):
    """Issue 15: several virtual MFA devices per user through boto3 and the
    aws CLI: AWS's limit of eight (a ninth is LimitExceeded and changes
    nothing), ListMFADevices shows them all, ResyncMFADevice (botocore's
    parameters) finds a drifted device, wrong codes are
    InvalidAuthenticationCode and change nothing."""
    import tempfile

    iam = client("iam")
    iam.create_user(UserName="mia")
    tmp = tempfile.mkdtemp(prefix="mfa-")

    def create(name):
        out = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
        return out["SerialNumber"], out["Base32StringSeed"].decode()

    def enable(serial, seed):
        fresh_step()
        now = time.time()
        iam.enable_mfa_device(UserName="mia", SerialNumber=serial,
                              AuthenticationCode1=totp(seed, now - 30), AuthenticationCode2=totp(seed, now))

    def devices():
        listed = iam.list_mfa_devices(UserName="mia")["MFADevices"]
        for d in listed:
            eq(sorted(d), ["EnableDate", "SerialNumber", "UserName"], "MFADevice members")
        return sorted(d["SerialNumber"] for d in listed)

    enrolled = {}
    for i in range(1, 9):
        serial, seed = create(f"mia-{i}")
        enable(serial, seed)
        enrolled[serial] = seed
    eq(devices(), sorted(enrolled), "ListMFADevices shows all eight")
    shown = aws("iam", "list-mfa-devices", "--user-name", "mia")["MFADevices"]
    eq(len(shown), 8, "the aws CLI lists eight")

    ninth, ninth_seed = create("mia-9")
    before = (devices(), iam.list_virtual_mfa_devices()["VirtualMFADevices"])
    fresh_step()
    now = time.time()
    aws_fails("LimitExceeded", "iam", "enable-mfa-device", "--user-name", "mia", "--serial-number", ninth,
              "--authentication-code1", totp(ninth_seed, now - 30),
              "--authentication-code2", totp(ninth_seed, now))
    eq((devices(), iam.list_virtual_mfa_devices()["VirtualMFADevices"]), before,
       "a refused ninth device changed nothing")

    # A device whose clock runs five minutes slow, resynchronised.
    serial, seed = next(iter(enrolled.items()))
    fresh_step(min_left=8)
    now = time.time()
    slow1, slow2 = totp(seed, now - 330), totp(seed, now - 300)
    eq(code_of(iam.resync_mfa_device, UserName="mia", SerialNumber=serial,
               AuthenticationCode1=slow2, AuthenticationCode2=slow1),
       "InvalidAuthenticationCode", "reversed resync codes")
    aws_fails("InvalidAuthenticationCode", "iam", "resync-mfa-device", "--user-name", "mia",
              "--serial-number", serial, "--authentication-code1", "123456",
              "--authentication-code2", "654321")
    eq(code_of(iam.resync_mfa_device, UserName="mia", SerialNumber=ninth,
               AuthenticationCode1=slow1, AuthenticationCode2=slow2),
       "NoSuchEntity", "resync of a device that is not the user's")
    eq(devices(), before[0], "refused resyncs changed nothing")
    iam.resync_mfa_device(UserName="mia", SerialNumber=serial,
                          AuthenticationCode1=slow1, AuthenticationCode2=slow2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--tmp", default="/tmp")
    ap.add_argument("--service", default="iam")
    ap.add_argument("--params", default="Action=ListUsers&Version=2010-05-08")
    ap.add_argument("--at", type=int)
    ap.add_argument("--session")
    ap.add_argument("--iam-server")
    ap.add_argument("--server-config")
    ap.add_argument("--host-policy")
    args = ap.parse_args()
    scenarios = {
        "admin": scenario_admin,
        "errors": scenario_errors,
        "negative": scenario_negative,
        "paginate": scenario_paginate,
        "concurrency": scenario_concurrency,
        "writes": scenario_writes,
        "exists": scenario_exists,
        "sign": scenario_sign,
        "assume": scenario_assume,
        "ssh_keys": scenario_ssh_keys,
        "hosts": scenario_hosts,
        "whoami": scenario_whoami,
        "mfa_devices": scenario_mfa_devices,
    }
    try:
        scenarios[args.scenario](args)
    except Failed as e:
        print(f"FAILED {args.scenario}: {e}", file=sys.stderr)
        sys.exit(1)
    except CliError as e:
        print(f"FAILED {args.scenario}: unexpected aws CLI error {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
