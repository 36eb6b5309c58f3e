#!/usr/bin/env python3
"""Trim botocore's IAM and STS service models to what iam-server serves.

Run with the venv's Python (/opt/iam-venv/bin/python iam-server/model/trim.py);
it rewrites iam.json and sts.json next to this script. The output keeps, for
each listed operation and every shape reachable from it, only what the Query
codec in iam-server/src/query.rs reads: member order, serialization names,
constraints (required, min, max, pattern, enum), sensitivity and paginators.
botocore's data is Apache-2.0; see NOTICE in this folder.
"""

import gzip
import json
import os

import botocore

IAM_OPERATIONS = [
    # users
    "CreateUser", "GetUser", "ListUsers", "DeleteUser", "UpdateUser",
    "TagUser", "UntagUser", "ListUserTags",
    # login profiles and passwords
    "CreateLoginProfile", "UpdateLoginProfile", "GetLoginProfile",
    "DeleteLoginProfile", "ChangePassword",
    "UpdateAccountPasswordPolicy", "GetAccountPasswordPolicy",
    "DeleteAccountPasswordPolicy",
    # groups
    "CreateGroup", "GetGroup", "ListGroups", "DeleteGroup", "UpdateGroup",
    "AddUserToGroup", "RemoveUserFromGroup", "ListGroupsForUser",
    # managed policies
    "CreatePolicy", "GetPolicy", "GetPolicyVersion", "ListPolicies",
    "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion",
    "SetDefaultPolicyVersion", "ListPolicyVersions", "ListEntitiesForPolicy",
    "AttachUserPolicy", "DetachUserPolicy", "ListAttachedUserPolicies",
    "AttachGroupPolicy", "DetachGroupPolicy", "ListAttachedGroupPolicies",
    "AttachRolePolicy", "DetachRolePolicy", "ListAttachedRolePolicies",
    # inline policies
    "PutUserPolicy", "GetUserPolicy", "DeleteUserPolicy", "ListUserPolicies",
    "PutGroupPolicy", "GetGroupPolicy", "DeleteGroupPolicy", "ListGroupPolicies",
    "PutRolePolicy", "GetRolePolicy", "DeleteRolePolicy", "ListRolePolicies",
    # permissions boundaries
    "PutUserPermissionsBoundary", "DeleteUserPermissionsBoundary",
    "PutRolePermissionsBoundary", "DeleteRolePermissionsBoundary",
    # roles
    "CreateRole", "GetRole", "ListRoles", "DeleteRole", "UpdateRole",
    "UpdateAssumeRolePolicy", "TagRole", "UntagRole", "ListRoleTags",
    # instance profiles (a host's role)
    "CreateInstanceProfile", "GetInstanceProfile", "DeleteInstanceProfile",
    "ListInstanceProfiles", "AddRoleToInstanceProfile",
    "RemoveRoleFromInstanceProfile", "ListInstanceProfilesForRole",
    "TagInstanceProfile", "UntagInstanceProfile", "ListInstanceProfileTags",
    # MFA devices
    "CreateVirtualMFADevice", "EnableMFADevice", "DeactivateMFADevice",
    "DeleteVirtualMFADevice", "ListMFADevices", "ListVirtualMFADevices",
    "ResyncMFADevice",
    # reports and simulation
    "GenerateCredentialReport", "GetCredentialReport",
    "GetAccountAuthorizationDetails",
    "SimulatePrincipalPolicy", "SimulateCustomPolicy",
    # access keys
    "CreateAccessKey", "ListAccessKeys", "UpdateAccessKey", "DeleteAccessKey",
    "GetAccessKeyLastUsed",
    # SSH public keys
    "UploadSSHPublicKey", "ListSSHPublicKeys", "GetSSHPublicKey",
    "UpdateSSHPublicKey", "DeleteSSHPublicKey",
]

STS_OPERATIONS = ["GetCallerIdentity", "AssumeRole"]

# MFA codes are secrets botocore does not mark sensitive; marking them keeps
# them out of validation messages (docs/SECURITY.md).
EXTRA_SENSITIVE = {"authenticationCodeType", "tokenCodeType"}

SHAPE_KEYS = ("type", "union", "required", "min", "max", "pattern", "enum",
              "sensitive", "flattened", "timestampFormat")
REF_KEYS = ("locationName", "flattened", "xmlNamespace")


def ref(r):
    out = {"shape": r["shape"]}
    out.update({k: r[k] for k in REF_KEYS if k in r})
    return out


def trim_shape(s):
    out = {k: s[k] for k in SHAPE_KEYS if k in s}
    if "members" in s:
        # A list, not an object: the XML member order is the model's order.
        out["members"] = [dict(name=n, **ref(m)) for n, m in s["members"].items()]
    for k in ("member", "key", "value"):
        if k in s:
            out[k] = ref(s[k])
    return out


def load(path):
    with gzip.open(path) if path.endswith(".gz") else open(path) as f:
        return json.load(f)


def trim(data, service, operations, paginators):
    model = load(os.path.join(data, service, "service-2.json.gz"))
    pages = load(os.path.join(data, service, "paginators-1.json"))["pagination"]
    ops, shapes, todo = {}, {}, []
    for name in operations:
        op = model["operations"][name]
        entry = {}
        if "input" in op:
            entry["input"] = op["input"]["shape"]
            todo.append(op["input"]["shape"])
        if "output" in op:
            entry["output"] = op["output"]["shape"]
            if "resultWrapper" in op["output"]:
                entry["resultWrapper"] = op["output"]["resultWrapper"]
            todo.append(op["output"]["shape"])
        ops[name] = entry
    while todo:
        name = todo.pop()
        if name in shapes:
            continue
        s = model["shapes"][name]
        shapes[name] = trim_shape(s)
        if name in EXTRA_SENSITIVE:
            shapes[name]["sensitive"] = True
        todo.extend(m["shape"] for m in s.get("members", {}).values())
        todo.extend(s[k]["shape"] for k in ("member", "key", "value") if k in s)
    pag = {}
    for name in operations:
        if name in pages and paginators:
            p = dict(pages[name])
            rk = p["result_key"]
            p["result_key"] = rk if isinstance(rk, list) else [rk]
            pag[name] = {k: p[k] for k in
                         ("input_token", "output_token", "more_results",
                          "limit_key", "result_key") if k in p}
    meta = model["metadata"]
    return {
        "botocore": botocore.__version__,
        "apiVersion": meta["apiVersion"],
        "xmlNamespace": meta["xmlNamespace"],
        "operations": ops,
        "paginators": pag,
        "shapes": dict(sorted(shapes.items())),
    }


def main():
    data = os.path.join(os.path.dirname(botocore.__file__), "data")
    here = os.path.dirname(os.path.abspath(__file__))
    for out, service, ops, pag in (
        ("iam.json", "iam/2010-05-08", IAM_OPERATIONS, True),
        ("sts.json", "sts/2011-06-15", STS_OPERATIONS, False),
    ):
        trimmed = trim(data, service, ops, pag)
        with open(os.path.join(here, out), "w") as f:
            json.dump(trimmed, f, indent=0, separators=(",", ":"))
            f.write("\n")
        print(f"{out}: {len(trimmed['operations'])} operations, "
              f"{len(trimmed['shapes'])} shapes, botocore {botocore.__version__}")


if __name__ == "__main__":
    main()
