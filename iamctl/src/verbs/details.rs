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
    GroupName, IamArn, IamPath, PolicyName, RoleName, Tag, TagKey, TagValue, UserName,
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
    if want(EntityFilter::LocalManagedPolicy) {
        let policies: Vec<Value> = d
            .policies
            .iter()
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

fn bad(what: &str) -> CliError {
    CliError::new("MalformedInput", format!("authorization details: {what}"))
}

fn str_field<'a>(v: &'a Value, key: &str, ctx: &str) -> Result<&'a str, CliError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(&format!("{ctx}: missing string field {key}")))
}

fn opt_str(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A document field: a JSON object (AWS CLI output) or a URL-encoded string
/// (the raw API), returned as compact JSON text.
fn doc_field(v: &Value, key: &str, ctx: &str) -> Result<String, CliError> {
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
        _ => Err(bad(&format!("{ctx}: missing {key}"))),
    }
}

/// A unique id to keep, if it has the prefix of its kind (`AIDA`, `AGPA`,
/// `AROA`, `ANPA`); otherwise (e.g. AWS documentation's examples) a new one
/// is allocated, with a warning.
fn unique_id(v: &Value, key: &str, prefix: &str) -> Option<String> {
    let id = v.get(key)?.as_str()?;
    let ok = id.len() > prefix.len()
        && id.starts_with(prefix)
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if !ok {
        crate::say!("warning: {key} {id} is not a {prefix}… id; a new one is allocated");
    }
    ok.then(|| id.to_owned())
}

fn date(v: &Value) -> Option<i64> {
    let s = v.get("CreateDate")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp())
}

fn path(v: &Value) -> Result<IamPath, CliError> {
    Ok(IamPath::parse(
        v.get("Path").and_then(Value::as_str).unwrap_or("/"),
    )?)
}

fn tags(v: &Value) -> Result<Vec<Tag>, CliError> {
    list(v, "Tags")
        .iter()
        .map(|t| {
            Ok(Tag {
                key: TagKey::parse(str_field(t, "Key", "Tags")?)?,
                value: TagValue::parse(t.get("Value").and_then(Value::as_str).unwrap_or(""))?,
            })
        })
        .collect()
}

fn inline_list(
    v: &Value,
    key: &str,
    ctx: &str,
    kind: PolicyKind,
) -> Result<Vec<InlinePolicy>, CliError> {
    list(v, key)
        .iter()
        .map(|p| {
            let name = PolicyName::parse(str_field(p, "PolicyName", ctx)?)?;
            let document = doc_field(p, "PolicyDocument", ctx)?;
            check(ctx, name.as_str(), &document, kind)?;
            Ok(InlinePolicy { name, document })
        })
        .collect()
}

/// The engine's validation, with where in the file the document was.
fn check(ctx: &str, name: &str, document: &str, kind: PolicyKind) -> Result<(), CliError> {
    Policy::parse(name, document, kind)
        .map(drop)
        .map_err(|e| CliError::new(e.aws_code(), format!("{ctx}: {e}")))
}

fn attached_arns(v: &Value, ctx: &str) -> Result<Vec<String>, CliError> {
    list(v, "AttachedManagedPolicies")
        .iter()
        .map(|p| str_field(p, "PolicyArn", ctx).map(str::to_owned))
        .collect()
}

/// A boundary ARN from another account, re-pointed at the imported policy.
fn boundary_arn(ctx: &Ctx, v: &Value) -> Result<Option<String>, CliError> {
    let Some(arn) = v
        .get("PermissionsBoundary")
        .and_then(|b| b.get("PermissionsBoundaryArn"))
    else {
        return Ok(None);
    };
    let arn = arn
        .as_str()
        .ok_or_else(|| bad("PermissionsBoundaryArn is not a string"))?;
    let parsed = IamArn::parse("PermissionsBoundaryArn", arn)?;
    let name = PolicyName::parse(&parsed.name)?;
    Ok(Some(iam::names::policy_arn(
        &ctx.account,
        &parsed.path,
        &name,
    )))
}

pub fn parse_details(ctx: &Ctx, text: &str) -> Result<ImportDetails, CliError> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad(&format!("invalid JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad("the file must hold a JSON object"));
    }
    let mut d = ImportDetails::default();
    for p in list(&v, "Policies") {
        let name = str_field(p, "PolicyName", "Policies")?;
        let ctx_name = format!("policy {name}");
        let aws_managed =
            opt_str(p, "Arn").is_some_and(|a| a.starts_with("arn:aws:iam::aws:policy/"));
        let mut versions = Vec::new();
        for ver in list(p, "PolicyVersionList") {
            let document = doc_field(ver, "Document", &ctx_name)?;
            if !aws_managed {
                check(&ctx_name, name, &document, PolicyKind::Managed)?;
            }
            versions.push((
                str_field(ver, "VersionId", &ctx_name)?.to_owned(),
                document,
                ver.get("IsDefaultVersion")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            ));
        }
        d.policies.push(ImportPolicy {
            name: PolicyName::parse(name)?,
            path: path(p)?,
            id: unique_id(p, "PolicyId", "ANPA"),
            description: opt_str(p, "Description"),
            create_date: date(p),
            versions,
            aws_managed,
        });
    }
    for g in list(&v, "GroupDetailList") {
        let name = str_field(g, "GroupName", "GroupDetailList")?;
        let c = format!("group {name}");
        d.groups.push(ImportGroup {
            name: GroupName::parse(name)?,
            path: path(g)?,
            id: unique_id(g, "GroupId", "AGPA"),
            create_date: date(g),
            inline_policies: inline_list(g, "GroupPolicyList", &c, PolicyKind::GroupInline)?,
            attached_policy_arns: attached_arns(g, &c)?,
        });
    }
    for u in list(&v, "UserDetailList") {
        let name = str_field(u, "UserName", "UserDetailList")?;
        let c = format!("user {name}");
        let groups = list(u, "GroupList")
            .iter()
            .map(|g| {
                g.as_str()
                    .ok_or_else(|| bad(&format!("{c}: GroupList holds a non-string")))
                    .and_then(|s| Ok(GroupName::parse(s)?))
            })
            .collect::<Result<Vec<_>, _>>()?;
        d.users.push(ImportUser {
            name: UserName::parse(name)?,
            path: path(u)?,
            id: unique_id(u, "UserId", "AIDA"),
            create_date: date(u),
            tags: tags(u)?,
            permissions_boundary: boundary_arn(ctx, u)?,
            groups,
            inline_policies: inline_list(u, "UserPolicyList", &c, PolicyKind::UserInline)?,
            attached_policy_arns: attached_arns(u, &c)?,
        });
    }
    for r in list(&v, "RoleDetailList") {
        let name = str_field(r, "RoleName", "RoleDetailList")?;
        let c = format!("role {name}");
        let max = r
            .get("MaxSessionDuration")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        let trust = doc_field(r, "AssumeRolePolicyDocument", &c)?;
        check(&c, name, &trust, PolicyKind::Trust)?;
        d.roles.push(ImportRole {
            role: NewRole {
                name: RoleName::parse(name)?,
                path: path(r)?,
                assume_role_policy_document: trust,
                description: opt_str(r, "Description"),
                max_session_duration: max,
                tags: tags(r)?,
                permissions_boundary: boundary_arn(ctx, r)?,
            },
            id: unique_id(r, "RoleId", "AROA"),
            create_date: date(r),
            inline_policies: inline_list(r, "RolePolicyList", &c, PolicyKind::RoleInline)?,
            attached_policy_arns: attached_arns(r, &c)?,
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
    let details = parse_details(ctx, &text)?;
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
