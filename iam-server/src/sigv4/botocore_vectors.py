"""Writes botocore_vectors.json: requests signed by botocore, the signer the
`aws` CLI and boto3 use, as they go on the wire. sigv4/tests.rs verifies
them. Run with the venv that has boto3:

    /opt/iam-venv/bin/python iam-server/src/sigv4/botocore_vectors.py
"""

import datetime
import json
import os
from unittest import mock

import boto3
import botocore.auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

NOW = datetime.datetime(2026, 3, 14, 15, 9, 26)
KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_KEY = "ASIAIOSFODNN7EXAMPLE"
SESSION_SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLE//////////wEaDExampleSessionToken+/=="
ENDPOINT = "https://iam.example.internal:8443"

vectors = []


def record(name, method, url, headers, body, key, secret, token, region, service):
    split = botocore.compat.urlsplit(url)
    target = split.path or "/"
    if split.query:
        target += "?" + split.query
    hdrs = [[k, v.decode() if isinstance(v, bytes) else v] for k, v in headers.items()]
    if not any(k.lower() == "host" for k, _ in hdrs):
        hdrs.append(["Host", botocore.auth._host_from_url(url)])
    if isinstance(body, str):
        body = body.encode()
    vectors.append({
        "name": name, "method": method, "target": target, "headers": hdrs,
        "body": (body or b"").decode(), "access_key_id": key, "secret": secret,
        "security_token": token, "region": region, "service": service,
        "now": NOW.strftime("%Y%m%dT%H%M%SZ"),
    })


def capture(name, service, operation, params, key, secret, token=None):
    session = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret,
        aws_session_token=token, region_name="us-east-1")
    client = session.client(service, endpoint_url=ENDPOINT)

    def before_send(request, **_):
        record(name, request.method, request.url, request.headers, request.body,
               key, secret, token, "us-east-1", service)
        raise StopIteration  # nothing is sent

    client.meta.events.register("before-send", before_send)
    try:
        getattr(client, operation)(**params)
    except StopIteration:
        pass


def direct(name, method, url, body, service, headers=None):
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    botocore.auth.SigV4Auth(Credentials(KEY, SECRET), service, "eu-west-1").add_auth(request)
    record(name, method, url, request.headers, body, KEY, SECRET, None, "eu-west-1", service)


with mock.patch.object(botocore.auth, "get_current_datetime", lambda: NOW):
    capture("iam-list-users", "iam", "list_users", {"MaxItems": 10}, KEY, SECRET)
    capture("iam-create-policy", "iam", "create_policy", {
        "PolicyName": "read only",
        "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"}]}),
        "Description": "ünïcode & symbols +/=%",
    }, KEY, SECRET)
    capture("sts-get-caller-identity-session", "sts", "get_caller_identity", {},
            SESSION_KEY, SESSION_SECRET, TOKEN)
    direct("get-query-sorted", "GET",
           ENDPOINT + "/?Version=2011-06-15&Action=GetCallerIdentity&empty=&a=%2B%20b", None, "sts")
    direct("get-path-normalized", "GET", ENDPOINT + "/a%20b/./c/../d//e", None, "iam",
           {"X-Custom": "  several   spaces\there  "})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "botocore_vectors.json")
with open(out, "w") as f:
    json.dump(vectors, f, indent=1, ensure_ascii=False)
    f.write("\n")
