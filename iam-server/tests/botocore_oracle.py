"""botocore as an independent oracle for iam-server's Query codec.

Driven by botocore_oracle.rs: reads one JSON request on stdin, writes one
JSON answer on stdout. Uses botocore's own service models (not the trimmed
copy the server embeds).

  {"mode": "parse", "cases": [{"service", "action", "xml", "status",
    "request_id", "expected"}]}
      parses each response with botocore.parsers.QueryParser (plus the IAM
      policy-document handler botocore runs after every IAM call) and
      compares it with "expected", the JSON the server encoded;
      answers {"failures": [...]}.
  {"mode": "serialize", "cases": [{"service", "action", "params"}]}
      serializes boto3-shaped params with botocore.serialize.QuerySerializer
      into the form body botocore would send; answers {"bodies": [...]}.
"""

import base64
import datetime
import json
import sys
from urllib.parse import urlencode

import botocore.session
from botocore import handlers
from botocore.model import ServiceModel
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer
from botocore.utils import parse_timestamp

_models = {}


def operation(service, action):
    if service not in _models:
        loader = botocore.session.get_session().get_component("data_loader")
        _models[service] = ServiceModel(
            loader.load_service_model(service, "service-2"), service
        )
    return _models[service].operation_model(action)


def canonical(value, shape):
    """One form for both sides: members the model has, timestamps as UTC
    ISO 8601, blobs as base64 text, policy documents decoded."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        return {
            k: canonical(v, shape.members[k])
            for k, v in value.items()
            if k in shape.members and v is not None
        }
    if kind == "list":
        return [canonical(v, shape.member) for v in value]
    if kind == "map":
        return {k: canonical(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, (int, float)):
            value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        elif isinstance(value, str):
            value = parse_timestamp(value)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "blob":
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        return value
    if shape.name == "policyDocumentType" and isinstance(value, str):
        return handlers.decode_quoted_jsondoc(value)
    return value


def parse(case):
    op = operation(case["service"], case["action"])
    response = {
        "body": case["xml"].encode(),
        "headers": {},
        "status_code": case["status"],
    }
    parsed = QueryParser().parse(response, op.output_shape)
    meta = parsed.pop("ResponseMetadata", {})
    if case["status"] >= 300:
        got = parsed
        want = case["expected"]
    else:
        if case["service"] == "iam":
            handlers.json_decode_policies(parsed, op)
        got = canonical(parsed, op.output_shape)
        # Policy documents in "expected" may be text or already decoded.
        want = canonical(case["expected"], op.output_shape)
    problems = []
    if got != want:
        problems.append({"parsed": got, "expected": want})
    if meta.get("RequestId") != case["request_id"]:
        problems.append({"request_id": meta.get("RequestId")})
    return {"action": case["action"], "problems": problems} if problems else None


def serialize(case):
    op = operation(case["service"], case["action"])
    body = QuerySerializer().serialize_to_request(case["params"], op)["body"]
    return urlencode(list(body.items()), doseq=True)


def main():
    request = json.load(sys.stdin)
    if request["mode"] == "parse":
        failures = [f for f in map(parse, request["cases"]) if f]
        json.dump({"failures": failures}, sys.stdout, default=str)
    else:
        json.dump({"bodies": [serialize(c) for c in request["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
