//! `get-account-authorization-details` in AWS's JSON shape, and our
//! `import-authorization-details`, which reads that shape back — from iamctl
//! or from the real `aws iam get-account-authorization-details` (documents
//! as JSON objects, as the AWS CLI prints them, or URL-encoded strings, as
//! the API returns them).

use crate::cli::{self, EntityFilter};
use crate::ctx::Ctx;
use crate::error::CliError;
use crate::{input, shapes};
use iam::names::{
    AWS_MANAGED_ACCOUNT, GroupName, IamArn, IamPath, PolicyName, RoleName, Tag, TagKey, TagValue,
    UserName,
};
use iam::policy::{Policy, PolicyKind};
use iam::store::{
    AttachedPolicy, ImportDetails, ImportGroup, ImportPolicy, ImportRole, ImportUser, InlinePolicy,
    NewRole,
};
use serde_json::{Map, Value, json};

fn attached(list: &[AttachedPolicy]) -> Value {
    Value::Array(
        list.iter()
            .map(|p| json!({"PolicyName": p.name.as_str(), "PolicyArn": p.arn}))
            .collect(),
    )
}

fn inline(list: &[InlinePolicy]) -> Value {
    Value::Array(
        list.iter()
            .map(|p| json!({"PolicyName": p.name.as_str(), "PolicyDocument": shapes::document(&p.document)}))
            .collect(),
    )
}

fn boundary(m: &mut Map<String, Value>, arn: &Option<String>) {
    if let Some(a) = arn {
        m.insert(
            "PermissionsBoundary".into(),
            json!({"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": a}),
        );
    }
}

pub fn export(ctx: &mut Ctx, a: &cli::AuthorizationDetailsArgs) -> Result<Value, CliError> {
    ctx.authorize("*")?;
    let want = |f: EntityFilter| a.filter.is_empty() || a.filter.contains(&f);
    let d = ctx.store.authorization_details()?;
    let mut out = Map::new();
    if want(EntityFilter::User) {
        let users: Vec<Value> = d
            .users
            .iter()
            .map(|u| {
                let mut m = Map::new();
                m.insert("Path".into(), json!(u.user.path.as_str()));
                m.insert("UserName".into(), json!(u.user.name.as_str()));
                m.insert("UserId".into(), json!(u.user.id));
                m.insert("Arn".into(), json!(u.user.arn));
                m.insert("CreateDate".into(), shapes::date(u.user.create_date));
                m.insert("UserPolicyList".into(), inline(&u.inline_policies));
                let groups: Vec<&str> = u.groups.iter().map(|g| g.as_str()).collect();
                m.insert("GroupList".into(), json!(groups));
                m.insert(
                    "AttachedManagedPolicies".into(),
                    attached(&u.attached_policies),
                );
                boundary(&mut m, &u.user.permissions_boundary);
                m.insert("Tags".into(), shapes::tags(&u.user.tags));
                Value::Object(m)
            })
            .collect();
        out.insert("UserDetailList".into(), Value::Array(users));
    }
    if want(EntityFilter::Group) {
        let groups: Vec<Value> = d
            .groups
            .iter()
            .map(|g| {
                json!({
                    "Path": g.group.path.as_str(),
                    "GroupName": g.group.name.as_str(),
                    "GroupId": g.group.id,
                    "Arn": g.group.arn,
                    "CreateDate": shapes::date(g.group.create_date),
                    "GroupPolicyList": inline(&g.inline_policies),
                    "AttachedManagedPolicies": attached(&g.attached_policies),
                })
            })
            .collect();
        out.insert("GroupDetailList".into(), Value::Array(groups));
    }
    if want(EntityFilter::Role) {
        let roles: Vec<Value> = d
            .roles
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("Path".into(), json!(r.role.path.as_str()));
                m.insert("RoleName".into(), json!(r.role.name.as_str()));
                m.insert("RoleId".into(), json!(r.role.id));
                m.insert("Arn".into(), json!(r.role.arn));
                m.insert("CreateDate".into(), shapes::date(r.role.create_date));
                m.insert(
                    "AssumeRolePolicyDocument".into(),
                    shapes::document(&r.role.assume_role_policy_document),
                );
                if let Some(desc) = &r.role.description {
                    m.insert("Description".into(), json!(desc));
                }
                m.insert(
                    "MaxSessionDuration".into(),
                    json!(r.role.max_session_duration),
                );
                m.insert("InstanceProfileList".into(), json!([]));
                m.insert("RolePolicyList".into(), inline(&r.inline_policies));
                m.insert(
                    "AttachedManagedPolicies".into(),
                    attached(&r.attached_policies),
                );
                boundary(&mut m, &r.role.permissions_boundary);
                m.insert("Tags".into(), shapes::tags(&r.role.tags));
                m.insert("RoleLastUsed".into(), json!({}));
                Value::Object(m)
            })
            .collect();
        out.insert("RoleDetailList".into(), Value::Array(roles));
    }
    if want(EntityFilter::LocalManagedPolicy) || want(EntityFilter::AwsManagedPolicy) {
        let policies: Vec<Value> = d
            .policies
            .iter()
            .filter(|p| {
                want(if p.policy.aws_managed {
                    EntityFilter::AwsManagedPolicy
                } else {
                    EntityFilter::LocalManagedPolicy
                })
            })
            .map(|p| {
                let mut v = shapes::policy(&p.policy);
                if let Some(m) = v.as_object_mut() {
                    m.insert(
                        "PolicyVersionList".into(),
                        Value::Array(
                            p.versions
                                .iter()
                                .map(|v| shapes::policy_version(v, true))
                                .collect(),
                        ),
                    );
                }
                v
            })
            .collect();
        out.insert("Policies".into(), Value::Array(policies));
    }
    Ok(Value::Object(out))
}

// ---- import ------------------------------------------------------------------
// The file is GetAccountAuthorizationDetails' response shape (botocore's
// model): a member present with the wrong type is an error naming where it
// is, never read as absent.

fn bad(what: &str) -> CliError {
    CliError::new("MalformedInput", format!("authorization details: {what}"))
}

/// `what` (where the member is, e.g. `UserDetailList[0].UserName`) is not
/// of the type AWS's response has there.
fn wrong_type(what: &str, want: &str, got: &Value) -> CliError {
    bad(&format!("{what} must be {want}, not {got}"))
}

fn str_field<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a str, CliError> {
    opt_str(v, key, at)?.ok_or_else(|| bad(&format!("{at}: missing string field {key}")))
}

fn opt_str<'a>(v: &'a Value, key: &str, at: &str) -> Result<Option<&'a str>, CliError> {
    match v.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(&format!("{at}.{key}"), "a string", other)),
    }
}

/// A list member; absent is empty.
fn list<'a>(v: &'a Value, key: &str, at: &str) -> Result<&'a [Value], CliError> {
    match v.get(key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(wrong_type(&join(at, key), "a list", other)),
    }
}

/// The objects of a list member, each with where it is
/// (`UserDetailList[2]`).
fn objects<'a>(v: &'a Value, key: &str, at: &str) -> Result<Vec<(String, &'a Value)>, CliError> {
    list(v, key, at)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let here = format!("{}[{i}]", join(at, key));
            match item {
                Value::Object(_) => Ok((here, item)),
                other => Err(wrong_type(&here, "an object", other)),
            }
        })
        .collect()
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

/// A document field: a JSON object (AWS CLI output) or a URL-encoded string
/// (the raw API), returned as compact JSON text.
fn doc_field(v: &Value, key: &str, at: &str) -> Result<String, CliError> {
    match v.get(key) {
        Some(Value::String(s)) => {
            let decoded = if s.trim_start().starts_with('{') {
                s.clone()
            } else {
                input::url_decode(s)
            };
            Ok(decoded)
        }
        Some(obj @ Value::Object(_)) => Ok(obj.to_string()),
        None => Err(bad(&format!("{at}: missing {key}"))),
        Some(other) => Err(wrong_type(
            &format!("{at}.{key}"),
            "a policy document",
            other,
        )),
    }
}

/// A unique id to keep, if it has the prefix of its kind (`AIDA`, `AGPA`,
/// `AROA`, `ANPA`); otherwise (e.g. AWS documentation's examples) a new one
/// is allocated, with a warning.
fn unique_id(v: &Value, key: &str, prefix: &str, at: &str) -> Result<Option<String>, CliError> {
    let Some(id) = opt_str(v, key, at)? else {
        return Ok(None);
    };
    let ok = id.len() > prefix.len()
        && id.starts_with(prefix)
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !ok {
        crate::say!("warning: {key} {id} is not a {prefix}… id; a new one is allocated");
    }
    Ok(ok.then(|| id.to_owned()))
}

fn date(v: &Value, at: &str) -> Result<Option<i64>, CliError> {
    let Some(s) = opt_str(v, "CreateDate", at)? else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| Some(d.timestamp()))
        .map_err(|_| bad(&format!("{at}.CreateDate {s:?} is not an ISO 8601 date")))
}

/// `Path`; absent or empty (as real exports have it for some entities)
/// is `/`.
fn path(v: &Value, at: &str) -> Result<IamPath, CliError> {
    Ok(IamPath::parse(
        opt_str(v, "Path", at)?
            .filter(|p| !p.is_empty())
            .unwrap_or("/"),
    )?)
}

fn tags(v: &Value, at: &str) -> Result<Vec<Tag>, CliError> {
    objects(v, "Tags", at)?
        .into_iter()
        .map(|(here, t)| {
            Ok(Tag {
                key: TagKey::parse(str_field(t, "Key", &here)?)?,
                value: TagValue::parse(opt_str(t, "Value", &here)?.unwrap_or(""))?,
            })
        })
        .collect()
}

/// `owner` names the entity for validation messages (`user alice`).
fn inline_list(
    v: &Value,
    key: &str,
    at: &str,
    owner: &str,
    kind: PolicyKind,
) -> Result<Vec<InlinePolicy>, CliError> {
    objects(v, key, at)?
        .into_iter()
        .map(|(here, p)| {
            let name = PolicyName::parse(str_field(p, "PolicyName", &here)?)?;
            let document = doc_field(p, "PolicyDocument", &here)?;
            check(
                &format!("{owner}, inline policy {name} ({here})"),
                name.as_str(),
                &document,
                kind,
            )?;
            Ok(InlinePolicy { name, document })
        })
        .collect()
}

/// The engine's validation, with where in the file the document was.
fn check(at: &str, name: &str, document: &str, kind: PolicyKind) -> Result<(), CliError> {
    Policy::parse(name, document, kind)
        .map(drop)
        .map_err(|e| CliError::new(e.aws_code(), format!("{at}: {e}")))
}

fn attached_arns(v: &Value, at: &str) -> Result<Vec<String>, CliError> {
    objects(v, "AttachedManagedPolicies", at)?
        .into_iter()
        .map(|(here, p)| str_field(p, "PolicyArn", &here).map(str::to_owned))
        .collect()
}

/// The permissions boundary's ARN, as the file has it (the store re-homes
/// a customer managed policy's into this account).
fn boundary_arn(v: &Value, at: &str) -> Result<Option<String>, CliError> {
    let Some(b) = v.get("PermissionsBoundary") else {
        return Ok(None);
    };
    let here = format!("{at}.PermissionsBoundary");
    if !b.is_object() {
        return Err(wrong_type(&here, "an object", b));
    }
    let arn = str_field(b, "PermissionsBoundaryArn", &here)?;
    IamArn::parse("PermissionsBoundaryArn", arn)?;
    Ok(Some(arn.to_owned()))
}

/// The members of GetAccountAuthorizationDetails' response.
const TOP_LEVEL: [&str; 6] = [
    "UserDetailList",
    "GroupDetailList",
    "RoleDetailList",
    "Policies",
    "IsTruncated",
    "Marker",
];

pub fn parse_details(text: &str) -> Result<ImportDetails, CliError> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    let Some(top) = v.as_object() else {
        return Err(bad("the file must hold a JSON object"));
    };
    if let Some(key) = top.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(bad(&format!(
            "unknown member {key:?}; a get-account-authorization-details file has {}",
            TOP_LEVEL.join(", ")
        )));
    }
    match v.get("IsTruncated") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(bad(
                "IsTruncated is true: the file holds one page; export all of it (the AWS CLI pages by itself)",
            ));
        }
        Some(other) => return Err(wrong_type("IsTruncated", "a boolean", other)),
    }
    let mut d = ImportDetails::default();
    for (at, p) in objects(&v, "Policies", "")? {
        let name = str_field(p, "PolicyName", &at)?;
        let aws_managed = match opt_str(p, "Arn", &at)? {
            Some(arn) => IamArn::parse("Arn", arn)?.account == AWS_MANAGED_ACCOUNT,
            None => false,
        };
        let mut versions = Vec::new();
        for (here, ver) in objects(p, "PolicyVersionList", &at)? {
            let document = doc_field(ver, "Document", &here)?;
            if !aws_managed {
                check(
                    &format!("policy {name} ({here})"),
                    name,
                    &document,
                    PolicyKind::Managed,
                )?;
            }
            let is_default = match ver.get("IsDefaultVersion") {
                None => false,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(wrong_type(
                        &format!("{here}.IsDefaultVersion"),
                        "a boolean",
                        other,
                    ));
                }
            };
            versions.push((
                str_field(ver, "VersionId", &here)?.to_owned(),
                document,
                is_default,
            ));
        }
        d.policies.push(ImportPolicy {
            name: PolicyName::parse(name)?,
            path: path(p, &at)?,
            id: unique_id(p, "PolicyId", "ANPA", &at)?,
            description: opt_str(p, "Description", &at)?.map(str::to_owned),
            create_date: date(p, &at)?,
            versions,
            aws_managed,
        });
    }
    for (at, g) in objects(&v, "GroupDetailList", "")? {
        let name = str_field(g, "GroupName", &at)?;
        d.groups.push(ImportGroup {
            name: GroupName::parse(name)?,
            path: path(g, &at)?,
            id: unique_id(g, "GroupId", "AGPA", &at)?,
            create_date: date(g, &at)?,
            inline_policies: inline_list(
                g,
                "GroupPolicyList",
                &at,
                &format!("group {name}"),
                PolicyKind::GroupInline,
            )?,
            attached_policy_arns: attached_arns(g, &at)?,
        });
    }
    for (at, u) in objects(&v, "UserDetailList", "")? {
        let name = str_field(u, "UserName", &at)?;
        let groups = list(u, "GroupList", &at)?
            .iter()
            .enumerate()
            .map(|(i, g)| match g {
                Value::String(s) => Ok(GroupName::parse(s)?),
                other => Err(wrong_type(
                    &format!("{at}.GroupList[{i}]"),
                    "a group name",
                    other,
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        d.users.push(ImportUser {
            name: UserName::parse(name)?,
            path: path(u, &at)?,
            id: unique_id(u, "UserId", "AIDA", &at)?,
            create_date: date(u, &at)?,
            tags: tags(u, &at)?,
            permissions_boundary: boundary_arn(u, &at)?,
            groups,
            inline_policies: inline_list(
                u,
                "UserPolicyList",
                &at,
                &format!("user {name}"),
                PolicyKind::UserInline,
            )?,
            attached_policy_arns: attached_arns(u, &at)?,
        });
    }
    for (at, r) in objects(&v, "RoleDetailList", "")? {
        let name = str_field(r, "RoleName", &at)?;
        let max =
            match r.get("MaxSessionDuration") {
                None => None,
                Some(n) => Some(n.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(
                    || {
                        wrong_type(
                            &format!("{at}.MaxSessionDuration"),
                            "a number of seconds",
                            n,
                        )
                    },
                )?),
            };
        let trust = doc_field(r, "AssumeRolePolicyDocument", &at)?;
        check(
            &format!("role {name} ({at})"),
            name,
            &trust,
            PolicyKind::Trust,
        )?;
        d.roles.push(ImportRole {
            role: NewRole {
                name: RoleName::parse(name)?,
                path: path(r, &at)?,
                assume_role_policy_document: trust,
                description: opt_str(r, "Description", &at)?.map(str::to_owned),
                max_session_duration: max,
                tags: tags(r, &at)?,
                permissions_boundary: boundary_arn(r, &at)?,
            },
            id: unique_id(r, "RoleId", "AROA", &at)?,
            create_date: date(r, &at)?,
            inline_policies: inline_list(
                r,
                "RolePolicyList",
                &at,
                &format!("role {name}"),
                PolicyKind::RoleInline,
            )?,
            attached_policy_arns: attached_arns(r, &at)?,
        });
    }
    Ok(d)
}

pub fn import(ctx: &mut Ctx, a: &cli::ImportArgs) -> Result<Value, CliError> {
    // One call creates users, groups, roles, policies and attachments: a
    // delegated administrator would pass every per-entity Deny it is held
    // to (docs/SECURITY.md, C2).
    ctx.require_root("it writes every kind of entity at once, past per-entity policies")?;
    let path = a
        .file
        .strip_prefix("file://")
        .or_else(|| a.file.strip_prefix("fileb://"))
        .unwrap_or(&a.file);
    let text = input::read_file(path, &a.file)?;
    let details = parse_details(&text)?;
    let summary = ctx.commit(
        |summary: &iam::store::ImportSummary| {
            json!({"file": path, "users": summary.users, "groups": summary.groups,
        "roles": summary.roles, "policies": summary.policies})
        },
        |s| s.import(&details, ctx.now),
    )?;
    ctx.publish_accounts()?;
    Ok(
        json!({"Imported": {"Users": summary.users, "Groups": summary.groups,
        "Roles": summary.roles, "Policies": summary.policies}}),
    )
}
