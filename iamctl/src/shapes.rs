//! The store's model in AWS's JSON shapes (field names, nesting, dates), so
//! tooling written against `aws iam` reads iamctl's output unchanged.

use chrono::{DateTime, Utc};
use iam::names::Tag;
use iam::store::{
    Group, InstanceProfile, LoginProfile, ManagedPolicy, MfaDevice, PolicyVersion, Role,
    SshPublicKey, User,
};
use serde_json::{Map, Value, json};

/// Unix seconds as AWS prints dates: `2026-11-25T12:00:00+00:00`.
pub fn date(ts: i64) -> Value {
    Value::String(date_str(ts))
}

pub fn date_str(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
        .unwrap_or_default()
}

/// A policy document as the AWS CLI prints it: the decoded JSON object
/// (the API's URL-encoded string, decoded), or the text if it is not JSON.
pub fn document(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

pub fn tags(tags: &[Tag]) -> Value {
    Value::Array(
        tags.iter()
            .map(|t| json!({"Key": t.key.as_str(), "Value": t.value.as_str()}))
            .collect(),
    )
}

fn boundary(arn: &Option<String>) -> Option<Value> {
    arn.as_ref().map(|a| {
        json!({"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": a})
    })
}

/// AWS's `SSHPublicKey` (UploadSSHPublicKey, GetSSHPublicKey), with the
/// body in the encoding asked for.
pub fn ssh_public_key(k: &SshPublicKey, body: &str) -> Value {
    json!({
        "UserName": k.user.as_str(),
        "SSHPublicKeyId": k.id,
        "Fingerprint": k.fingerprint,
        "SSHPublicKeyBody": body,
        "Status": k.status.as_str(),
        "UploadDate": date(k.upload_date),
    })
}

/// AWS's `SSHPublicKeyMetadata` (ListSSHPublicKeys).
pub fn ssh_public_key_metadata(k: &SshPublicKey) -> Value {
    json!({
        "UserName": k.user.as_str(),
        "SSHPublicKeyId": k.id,
        "Status": k.status.as_str(),
        "UploadDate": date(k.upload_date),
    })
}

/// A `User` as ListUsers prints it; `full` adds boundary and tags (GetUser).
pub fn user(u: &User, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("Path".into(), json!(u.path.as_str()));
    m.insert("UserName".into(), json!(u.name.as_str()));
    m.insert("UserId".into(), json!(u.id));
    m.insert("Arn".into(), json!(u.arn));
    m.insert("CreateDate".into(), date(u.create_date));
    if let Some(t) = u.password_last_used {
        m.insert("PasswordLastUsed".into(), date(t));
    }
    if full {
        if let Some(b) = boundary(&u.permissions_boundary) {
            m.insert("PermissionsBoundary".into(), b);
        }
        if !u.tags.is_empty() {
            m.insert("Tags".into(), tags(&u.tags));
        }
    }
    Value::Object(m)
}

pub fn group(g: &Group) -> Value {
    json!({
        "Path": g.path.as_str(),
        "GroupName": g.name.as_str(),
        "GroupId": g.id,
        "Arn": g.arn,
        "CreateDate": date(g.create_date),
    })
}

/// A `Role`; `full` adds boundary, tags and RoleLastUsed (GetRole).
pub fn role(r: &Role, full: bool) -> Value {
    let mut m = Map::new();
    m.insert("Path".into(), json!(r.path.as_str()));
    m.insert("RoleName".into(), json!(r.name.as_str()));
    m.insert("RoleId".into(), json!(r.id));
    m.insert("Arn".into(), json!(r.arn));
    m.insert("CreateDate".into(), date(r.create_date));
    m.insert(
        "AssumeRolePolicyDocument".into(),
        document(&r.assume_role_policy_document),
    );
    if let Some(d) = &r.description {
        m.insert("Description".into(), json!(d));
    }
    m.insert("MaxSessionDuration".into(), json!(r.max_session_duration));
    if full {
        if let Some(b) = boundary(&r.permissions_boundary) {
            m.insert("PermissionsBoundary".into(), b);
        }
        if !r.tags.is_empty() {
            m.insert("Tags".into(), tags(&r.tags));
        }
        m.insert("RoleLastUsed".into(), json!({}));
    }
    Value::Object(m)
}

/// An `InstanceProfile`, with its role (AWS's Role shape) and tags.
pub fn instance_profile(p: &InstanceProfile) -> Value {
    let mut m = Map::new();
    m.insert("Path".into(), json!(p.path.as_str()));
    m.insert("InstanceProfileName".into(), json!(p.name.as_str()));
    m.insert("InstanceProfileId".into(), json!(p.id));
    m.insert("Arn".into(), json!(p.arn));
    m.insert("CreateDate".into(), date(p.create_date));
    m.insert(
        "Roles".into(),
        Value::Array(p.roles.iter().map(|r| role(r, false)).collect()),
    );
    if !p.tags.is_empty() {
        m.insert("Tags".into(), tags(&p.tags));
    }
    Value::Object(m)
}

pub fn policy(p: &ManagedPolicy) -> Value {
    let mut m = Map::new();
    m.insert("PolicyName".into(), json!(p.name.as_str()));
    m.insert("PolicyId".into(), json!(p.id));
    m.insert("Arn".into(), json!(p.arn));
    m.insert("Path".into(), json!(p.path.as_str()));
    m.insert("DefaultVersionId".into(), json!(p.default_version_id));
    m.insert("AttachmentCount".into(), json!(p.attachment_count));
    m.insert(
        "PermissionsBoundaryUsageCount".into(),
        json!(p.permissions_boundary_usage_count),
    );
    m.insert("IsAttachable".into(), json!(true));
    if let Some(d) = &p.description {
        m.insert("Description".into(), json!(d));
    }
    m.insert("CreateDate".into(), date(p.create_date));
    m.insert("UpdateDate".into(), date(p.update_date));
    Value::Object(m)
}

/// A policy version; `with_document` for GetPolicyVersion and exports.
pub fn policy_version(v: &PolicyVersion, with_document: bool) -> Value {
    let mut m = Map::new();
    if with_document {
        m.insert("Document".into(), document(&v.document));
    }
    m.insert("VersionId".into(), json!(v.version_id));
    m.insert("IsDefaultVersion".into(), json!(v.is_default_version));
    m.insert("CreateDate".into(), date(v.create_date));
    Value::Object(m)
}

pub fn login_profile(p: &LoginProfile) -> Value {
    json!({
        "UserName": p.user.as_str(),
        "CreateDate": date(p.create_date),
        "PasswordResetRequired": p.password_reset_required,
    })
}

/// A virtual MFA device as ListVirtualMFADevices prints it (no seed).
pub fn virtual_mfa_device(d: &MfaDevice, user: Option<&User>) -> Value {
    let mut m = Map::new();
    m.insert("SerialNumber".into(), json!(d.serial_number));
    if let Some(u) = user {
        m.insert("User".into(), self::user(u, false));
    }
    if let Some(t) = d.enable_date {
        m.insert("EnableDate".into(), date(t));
    }
    Value::Object(m)
}

/// An assigned MFA device as ListMFADevices prints it.
pub fn mfa_device(d: &MfaDevice) -> Value {
    json!({
        "UserName": d.user.as_ref().map(|u| u.as_str()).unwrap_or_default(),
        "SerialNumber": d.serial_number,
        "EnableDate": date(d.enable_date.unwrap_or(d.create_date)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_aws_iso8601() {
        assert_eq!(date_str(1_795_000_000), "2026-11-18T11:06:40+00:00");
        assert_eq!(date_str(0), "1970-01-01T00:00:00+00:00");
    }
}
