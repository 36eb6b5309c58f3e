//! Who can become root where (`iamctl access-report`): for every user, the
//! hosts it may log in to (`host:Login`), the roles it may then assume
//! there (`sts:AssumeRole`) and the run-as user each role reaches on that
//! host (`host:RunAs`), each step with the MFA it needs, the conditions of
//! the statements that grant it, and those statements.
//!
//! Nothing here decides by reading statements: every step is a question to
//! the engine, built as the real request is built (`crate::request`) and
//! decided by the code that decides it at login and at assume-role
//! (`crate::principal`, `crate::elevation`). What the directory cannot know
//! in advance — the client's address, the TTY, the authentication method,
//! another host's tags — is tried with the values the policies' own
//! conditions name (`policy::condition_witnesses`); MFA is tried absent
//! first, then present. See docs/ARCHITECTURE.md, "Who can become root".

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::elevation::{self, AssumeRolePolicies, DurationBounds, RunAs};
use crate::names::{AccountId, RoleSessionName, UserName};
use crate::policy::{
    Context, Decision, MatchedStatement, Policy, PolicySet, PolicySource, Request, Response,
    condition_witnesses, missing_context_keys,
};
use crate::principal::{Compiled, Principal, PrincipalError};
use crate::request::{self, LoginRequest, RequestFacts};
use crate::store::{PrincipalPolicies, Role, Store, StoreError, User, UserStatus};

/// Why no report could be made.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Principal(#[from] PrincipalError),
    /// A stored trust policy no longer parses: failing closed beats a
    /// report that leaves the role out.
    #[error("the stored trust policy of role {role} is invalid: {message}")]
    InvalidTrustPolicy { role: String, message: String },
}

/// This host, as iam.toml describes it.
#[derive(Debug, Clone, Copy)]
pub struct LocalHost<'a> {
    pub hostname: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    /// `[login] require_mfa`.
    pub require_mfa: bool,
}

/// What to report on (`--user`, `--host`, `--role`); `None`: everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Scope<'a> {
    pub user: Option<&'a str>,
    pub host: Option<&'a str>,
    pub role: Option<&'a str>,
}

/// The report: stable (sorted, no map with unordered keys) so two runs
/// diff line by line.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessReport {
    pub generated_time: String,
    pub account_id: String,
    pub hosts: Vec<HostEntry>,
    pub roles: Vec<RoleEntry>,
    pub users: Vec<UserAccess>,
    pub summary: Summary,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostEntry {
    pub hostname: String,
    pub host_arn: String,
    /// `Local`: this host (its tags known); `Policy`: named in a policy's
    /// Resource (its tags unknown, so conditions on them are tried).
    pub source: HostSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HostSource {
    Local,
    Policy,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleEntry {
    pub role_name: String,
    pub role_arn: String,
    /// The run-as user (role tag `host:RunAs`, default root); `None` when
    /// the tag is invalid, which makes assume-role refuse the role.
    pub run_as_user: Option<String>,
    pub run_as_groups: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserAccess {
    pub user_name: String,
    pub user_arn: String,
    pub status: String,
    /// An enabled MFA device: a step that requires MFA is open to this
    /// user only with one.
    pub has_mfa_device: bool,
    pub logins: Vec<Login>,
    pub elevations: Vec<Elevation>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Login {
    pub hostname: String,
    pub host_arn: String,
    #[serde(flatten)]
    pub gate: Gate,
}

/// One path: log in to `hostname`, assume `role_name` there, run as
/// `run_as_user`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Elevation {
    pub hostname: String,
    pub role_name: String,
    pub role_arn: String,
    pub run_as_user: String,
    /// The path needs MFA when any of its three steps does.
    pub mfa: Mfa,
    /// Reaches root without any MFA: what an auditor looks at first.
    pub root_without_mfa: bool,
    pub assume_role: Gate,
    pub run_as: Gate,
}

/// Whether a step needs a second factor, as the engine decided it: allowed
/// with `aws:MultiFactorAuthPresent` false, or only with it true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Mfa {
    NotRequired,
    Required,
}

/// How one step is allowed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Gate {
    pub mfa: Mfa,
    /// What the granting statements' conditions test: `MFA`,
    /// `SourceNetwork`, `Time`, `Tags`, `Other`.
    pub conditions: Vec<&'static str>,
    /// Values of keys the directory cannot know that the engine was shown
    /// to allow the step (empty: allowed without any of them).
    pub when: Vec<KeyValue>,
    pub granted_by: Vec<Grant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// A statement that allowed a step.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Grant {
    pub policy_name: String,
    /// `user`, `group NAME`, `role`, `permissions boundary`, `trust policy`.
    pub attached_via: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub statement_index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Value>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    pub users: usize,
    pub hosts: usize,
    pub roles: usize,
    pub logins: usize,
    pub elevations: usize,
    pub paths_to_root: usize,
    pub paths_to_root_without_mfa: usize,
}

/// Builds the report from the directory as of `now`.
pub fn report(
    store: &Store,
    local: &LocalHost<'_>,
    scope: &Scope<'_>,
    now: DateTime<Utc>,
) -> Result<AccessReport, AccessError> {
    let account = store.account_id().clone();
    // One snapshot of the directory, then no more reads.
    let (users, roles) = store.snapshot(|s| {
        let mut users = Vec::new();
        for user in s.list_users(None)? {
            if scope.user.is_none_or(|u| u == user.name.as_str()) {
                let policies = s.policies_for_user(&user.name)?;
                let mfa = s
                    .list_mfa_devices(&user.name)?
                    .iter()
                    .any(|d| d.enable_date.is_some());
                users.push((user, policies, mfa));
            }
        }
        let mut roles = Vec::new();
        for role in s.list_roles(None)? {
            if scope.role.is_none_or(|r| r == role.name.as_str()) {
                let policies = s.policies_for_role(&role.name)?;
                roles.push((role, policies));
            }
        }
        Ok((users, roles))
    })?;
    let mut roles = roles
        .into_iter()
        .map(|(role, policies)| LoadedRole::load(&account, role, policies))
        .collect::<Result<Vec<_>, _>>()?;
    let mut classes: Vec<(i64, Vec<(String, String)>)> = Vec::new();
    for role in &mut roles {
        let class = (
            role.duration,
            role.tags()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        role.class = match classes.iter().position(|c| *c == class) {
            Some(i) => i,
            None => {
                classes.push(class);
                classes.len() - 1
            }
        };
    }
    let hosts = hosts(&account, local, scope, &users, &roles);
    let mut documents = Documents::default();
    let mut compiled = Compiled::default();
    let mut out = Vec::with_capacity(users.len());
    for (user, policies, has_mfa) in users {
        out.push(user_access(
            &account,
            local,
            &hosts,
            &roles,
            user,
            &policies,
            has_mfa,
            now,
            &mut documents,
            &mut compiled,
        )?);
    }
    let mut summary = Summary {
        users: out.len(),
        hosts: hosts.len(),
        roles: roles.len(),
        ..Summary::default()
    };
    for u in &out {
        summary.logins += u.logins.len();
        summary.elevations += u.elevations.len();
        summary.paths_to_root += u
            .elevations
            .iter()
            .filter(|e| e.run_as_user == "root")
            .count();
        summary.paths_to_root_without_mfa +=
            u.elevations.iter().filter(|e| e.root_without_mfa).count();
    }
    Ok(AccessReport {
        generated_time: elevation::iso8601(now),
        account_id: account.to_string(),
        hosts,
        roles: roles.iter().map(LoadedRole::entry).collect(),
        users: out,
        summary,
    })
}

/// A role with what every question about it needs, compiled once.
struct LoadedRole {
    role: Role,
    trust: Policy,
    principal: Principal,
    sources: PrincipalPolicies,
    run_as: Option<RunAs>,
    duration: i64,
    /// Roles of one class (same duration and tags) share their request
    /// contexts.
    class: usize,
    trust_tested: Tested,
    run_as_tested: Tested,
}

impl LoadedRole {
    fn load(
        account: &AccountId,
        role: Role,
        sources: PrincipalPolicies,
    ) -> Result<Self, AccessError> {
        let trust = role
            .trust_policy()
            .map_err(|e| AccessError::InvalidTrustPolicy {
                role: role.name.to_string(),
                message: e.to_string(),
            })?;
        let principal = Principal::of_role(role.clone(), account, &sources)?;
        let run_as =
            RunAs::from_tags(role.tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))).ok();
        let duration = DurationBounds::for_role(Some(i64::from(role.max_session_duration)), None)
            .duration(None)
            .unwrap_or(elevation::DEFAULT_DURATION_SECONDS);
        let trust_tested = Tested::of(
            "sts:AssumeRole",
            &PolicySet {
                resource: vec![trust.clone()],
                ..PolicySet::default()
            },
        );
        let run_as_tested = Tested::of("host:RunAs", &principal.policies);
        Ok(Self {
            role,
            trust,
            principal,
            sources,
            run_as,
            duration,
            class: 0,
            trust_tested,
            run_as_tested,
        })
    }

    fn entry(&self) -> RoleEntry {
        RoleEntry {
            role_name: self.role.name.to_string(),
            role_arn: self.role.arn.clone(),
            run_as_user: self.run_as.as_ref().map(|r| r.user.clone()),
            run_as_groups: self
                .run_as
                .as_ref()
                .map(|r| r.groups.clone())
                .unwrap_or_default(),
        }
    }

    fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.role
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
    }
}

/// This host, then every host a policy names in a `host` Resource (a name
/// with wildcards stands for the hosts it matches), by name.
fn hosts(
    account: &AccountId,
    local: &LocalHost<'_>,
    scope: &Scope<'_>,
    users: &[(User, PrincipalPolicies, bool)],
    roles: &[LoadedRole],
) -> Vec<HostEntry> {
    let mut named = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let documents = users
        .iter()
        .flat_map(|(_, p, _)| p.identity.iter().chain(&p.boundary))
        .chain(
            roles
                .iter()
                .flat_map(|r| r.sources.identity.iter().chain(&r.sources.boundary)),
        );
    for doc in documents {
        if seen.insert(doc.document.as_str()) {
            named.extend(hosts_named(&doc.document));
        }
    }
    named.remove(local.hostname);
    let mut hosts = vec![(local.hostname.to_owned(), HostSource::Local)];
    hosts.extend(named.into_iter().map(|h| (h, HostSource::Policy)));
    hosts
        .into_iter()
        .filter(|(h, _)| scope.host.is_none_or(|s| s == h))
        .map(|(hostname, source)| HostEntry {
            host_arn: crate::names::host_arn(account, &hostname),
            hostname,
            source,
        })
        .collect()
}

/// The host names in a policy's `Resource` ARNs (`arn:aws:host::ACCOUNT:host/NAME`),
/// but not `*` (every host: this one stands for them) nor one holding a
/// policy variable (a different host for each caller).
fn hosts_named(document: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(document) else {
        return Vec::new();
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let mut names = Vec::new();
    for st in statements {
        let resources = match st.get("Resource") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for r in resources {
            let parts: Vec<&str> = r.splitn(6, ':').collect();
            let ["arn", _, "host", _, _, resource] = parts[..] else {
                continue;
            };
            if let Some(name) = resource.strip_prefix("host/")
                && !name.is_empty()
                && name != "*"
                && !name.contains("${")
            {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// Keys a request carries that the directory cannot know in advance: tried
/// with the values the policies name. A remote host's tags too; this host's
/// are in iam.toml.
fn unknown_key(key: &str, remote: bool) -> bool {
    let k = key.to_ascii_lowercase();
    k == "aws:sourceip"
        || k == "host:tty"
        || k == "host:authmethod"
        || (remote && k.starts_with("aws:resourcetag/"))
}

/// The parsed documents of granting statements, parsed once per report.
#[derive(Default)]
struct Documents {
    parsed: HashMap<String, Value>,
}

impl Documents {
    /// The Condition element of statement `index` of `document`.
    fn condition(&mut self, document: &str, index: usize) -> Option<Value> {
        let doc = self
            .parsed
            .entry(document.to_owned())
            .or_insert_with(|| serde_json::from_str(document).unwrap_or(Value::Null));
        let st = match doc.get("Statement")? {
            Value::Array(list) => list.get(index)?,
            one if index == 0 => one,
            _ => return None,
        };
        st.get("Condition").cloned()
    }
}

/// One step as the engine decided it: allowed, with which MFA and under
/// which values of the unknown keys.
#[derive(Clone)]
struct Decided {
    mfa: Mfa,
    when: Vec<(String, String)>,
    response: Response,
}

/// What the statements that could decide a question test (their condition
/// keys, from the engine's `missing_context_keys` of an empty request): a
/// variant of the request that changes none of them cannot change the
/// answer, so it is not asked.
#[derive(Debug, Clone, Copy, Default)]
struct Tested {
    /// `aws:MultiFactorAuth*`: the answer may differ with MFA.
    mfa: bool,
    /// `host:Hostname`: the answer may differ from host to host.
    host: bool,
    /// A key the directory cannot know (`unknown_key`): witnesses to try.
    unknown: bool,
}

impl Tested {
    fn of(action: &str, policies: &PolicySet) -> Self {
        let empty = Context::new();
        let request = Request {
            principal: "",
            action,
            resource: "",
            context: &empty,
        };
        let mut tested = Self::default();
        for key in missing_context_keys(&request, policies) {
            let k = key.to_ascii_lowercase();
            tested.mfa |= k.starts_with("aws:multifactorauth");
            tested.host |= k == "host:hostname";
            tested.unknown |= unknown_key(&k, true);
        }
        tested
    }

    fn or(self, other: Self) -> Self {
        Self {
            mfa: self.mfa || other.mfa,
            host: self.host || other.host,
            unknown: self.unknown || other.unknown,
        }
    }
}

/// Decides one step: without MFA, then (when a statement tests MFA) with
/// MFA proved just now; each as the request is, then (when a statement
/// tests a key the directory cannot know) under each witness of the
/// policies' conditions.
fn decide_step(
    tested: Tested,
    no_mfa: &Context,
    with_mfa: &Context,
    decide: impl Fn(&Context) -> Option<Response>,
    witnesses: impl Fn(&Context) -> Vec<Vec<(String, String)>>,
) -> Option<Decided> {
    let under_witnesses = |mfa: Mfa, ctx: &Context| {
        if let Some(response) = decide(ctx) {
            return Some(Decided {
                mfa,
                when: Vec::new(),
                response,
            });
        }
        if !tested.unknown {
            return None;
        }
        witnesses(ctx).into_iter().find_map(|when| {
            let mut tried = ctx.clone();
            for (k, v) in &when {
                tried.set(k, v.clone());
            }
            decide(&tried).map(|response| Decided {
                mfa,
                when,
                response,
            })
        })
    };
    under_witnesses(Mfa::NotRequired, no_mfa).or_else(|| {
        tested
            .mfa
            .then(|| under_witnesses(Mfa::Required, with_mfa))
            .flatten()
    })
}

fn allowed(response: Response) -> Option<Response> {
    (response.decision == Decision::Allowed).then_some(response)
}

/// Where the statements of one question come from: the caller's (or the
/// role's) documents and, for `sts:AssumeRole`, the trust policy.
struct Sources<'a> {
    own: &'a PrincipalPolicies,
    own_name: &'a str,
    trust: Option<&'a Policy>,
}

impl Sources<'_> {
    fn gate(&self, decided: Decided, documents: &mut Documents) -> Gate {
        let mut conditions = BTreeSet::new();
        let granted_by = decided
            .response
            .matched
            .iter()
            .map(|m| {
                let (document, via) = self.document_of(m);
                let condition = document.and_then(|d| documents.condition(d, m.index));
                if let Some(Value::Object(ops)) = &condition {
                    for keys in ops.values().filter_map(Value::as_object) {
                        conditions.extend(keys.keys().map(|k| condition_kind(k)));
                    }
                }
                Grant {
                    policy_name: m.policy.clone(),
                    attached_via: via,
                    sid: m.sid.clone(),
                    statement_index: m.index,
                    condition,
                }
            })
            .collect();
        Gate {
            mfa: decided.mfa,
            conditions: conditions.into_iter().collect(),
            when: decided
                .when
                .into_iter()
                .map(|(key, value)| KeyValue { key, value })
                .collect(),
            granted_by,
        }
    }

    /// The document a matched statement is in, and how it applies.
    fn document_of(&self, m: &MatchedStatement) -> (Option<&str>, String) {
        use crate::store::PolicySource as Attached;
        match m.source {
            PolicySource::Resource => (self.trust.map(Policy::document), "trust policy".to_owned()),
            PolicySource::Boundary => (
                self.own.boundary.as_ref().map(|d| d.document.as_str()),
                "permissions boundary".to_owned(),
            ),
            PolicySource::Identity => {
                let Some(doc) = self.own.identity.iter().find(|d| d.name == m.policy) else {
                    return (None, self.own_name.to_owned());
                };
                let via = match &doc.source {
                    Attached::GroupInline { group }
                    | Attached::Managed {
                        group: Some(group), ..
                    } => format!("group {group}"),
                    Attached::UserInline | Attached::RoleInline | Attached::Managed { .. } => {
                        self.own_name.to_owned()
                    }
                };
                (Some(doc.document.as_str()), via)
            }
        }
    }
}

/// What a condition key is about, for the summary column.
fn condition_kind(key: &str) -> &'static str {
    let k = key.to_ascii_lowercase();
    if k.starts_with("aws:multifactorauth") {
        "MFA"
    } else if matches!(
        k.as_str(),
        "aws:sourceip" | "aws:sourcevpc" | "aws:sourcevpce" | "aws:vpcsourceip"
    ) {
        "SourceNetwork"
    } else if k == "aws:currenttime" || k == "aws:epochtime" {
        "Time"
    } else if k.contains("tag/") || k == "aws:tagkeys" {
        "Tags"
    } else {
        "Other"
    }
}

/// One user's questions, and what it has learnt so far.
struct Asker<'a> {
    local: &'a LocalHost<'a>,
    roles: &'a [LoadedRole],
    caller: Principal,
    /// The caller's keys ([`request::principal_context`]), made once.
    base: Context,
    sources: &'a PrincipalPolicies,
    now: DateTime<Utc>,
    session_name: RoleSessionName,
    /// `sts:AssumeRole` as this user's policies test it.
    assume_tested: Tested,
    /// The policies of this user's `sts:AssumeRole`, reused for each role.
    assume_policies: RefCell<AssumeRolePolicies>,
    /// Each role's `sts:AssumeRole` answer, kept when no statement tests
    /// the host (then it is the same on every host).
    assumed: Vec<Option<Option<Decided>>>,
}

#[allow(clippy::too_many_arguments)]
fn user_access(
    account: &AccountId,
    local: &LocalHost<'_>,
    hosts: &[HostEntry],
    roles: &[LoadedRole],
    user: User,
    policies: &PrincipalPolicies,
    has_mfa_device: bool,
    now: DateTime<Utc>,
    documents: &mut Documents,
    compiled: &mut Compiled,
) -> Result<UserAccess, AccessError> {
    let status = user.status;
    let name: UserName = user.name.clone();
    let caller = Principal::of_user(user, account, policies, compiled)?;
    let mut access = UserAccess {
        user_name: caller.name.clone(),
        user_arn: caller.arn.clone(),
        status: status.as_str().to_owned(),
        has_mfa_device,
        logins: Vec::new(),
        elevations: Vec::new(),
    };
    // A disabled user logs in nowhere (PAM's account stage refuses it first).
    let Ok(session_name) = elevation::default_session_name(name.as_str(), now) else {
        return Ok(access);
    };
    if status == UserStatus::Disabled {
        return Ok(access);
    }
    let user_sources = Sources {
        own: policies,
        own_name: "user",
        trust: None,
    };
    let login_tested = Tested::of("host:Login", &caller.policies);
    let mut asker = Asker {
        local,
        roles,
        assume_tested: Tested::of("sts:AssumeRole", &caller.policies),
        assume_policies: RefCell::new(AssumeRolePolicies::new(&caller.policies)),
        base: request::principal_context(&caller, now),
        caller,
        sources: policies,
        now,
        session_name,
        assumed: vec![None; roles.len()],
    };
    let mut remote_contexts = None;
    for host in hosts {
        let Some(login) = asker.login(host, login_tested, &mut remote_contexts) else {
            continue;
        };
        let login_mfa = login.mfa;
        access.logins.push(Login {
            hostname: host.hostname.clone(),
            host_arn: host.host_arn.clone(),
            gate: user_sources.gate(login, documents),
        });
        access
            .elevations
            .extend(asker.elevations(host, login_mfa, documents));
    }
    Ok(access)
}

/// Every policy of a set, for the witnesses.
fn all(set: &PolicySet) -> impl Iterator<Item = &Policy> {
    set.identity
        .iter()
        .chain(set.boundary.iter().flatten())
        .chain(&set.resource)
}

impl Asker<'_> {
    /// `host:Login` on `host`, as PAM's account stage asks it of an SSH
    /// login (`[login] require_mfa` refuses one without MFA here).
    fn login(
        &self,
        host: &HostEntry,
        tested: Tested,
        remote_contexts: &mut Option<[Context; 2]>,
    ) -> Option<Decided> {
        let remote = host.source == HostSource::Policy;
        let no_tags = BTreeMap::new();
        let host_tags = if remote { &no_tags } else { self.local.tags };
        let context = |mfa_at| {
            request::login_context_from(
                &self.base,
                &LoginRequest {
                    now: self.now,
                    mfa_at,
                    source_ip: None,
                    secure_transport: true,
                    service: "sshd",
                    tty: None,
                    auth_method: None,
                    hostname: &host.hostname,
                    host_tags,
                },
            )
        };
        let local_contexts;
        let [no_mfa, with_mfa] = if remote {
            // Hosts named by policies differ only by name (their tags are
            // unknown): made once, then renamed.
            match remote_contexts {
                Some(contexts) => {
                    for ctx in contexts.iter_mut() {
                        request::set_host_keys(ctx, &host.hostname, &no_tags);
                    }
                    &*contexts
                }
                None => {
                    remote_contexts.insert([context(None), context(Some(self.now.timestamp()))])
                }
            }
        } else {
            local_contexts = [context(None), context(Some(self.now.timestamp()))];
            &local_contexts
        };
        let require_mfa = !remote && self.local.require_mfa;
        let tested = Tested {
            mfa: tested.mfa || require_mfa,
            ..tested
        };
        decide_step(
            tested,
            no_mfa,
            with_mfa,
            |ctx| {
                let mfa = ctx
                    .get("aws:MultiFactorAuthPresent")
                    .is_some_and(|v| v.iter().any(|v| v == "true"));
                if require_mfa && !mfa {
                    return None;
                }
                allowed(self.caller.authorize("host:Login", &host.host_arn, ctx))
            },
            |ctx| {
                let request = Request {
                    principal: &self.caller.arn,
                    action: "host:Login",
                    resource: &host.host_arn,
                    context: ctx,
                };
                condition_witnesses(&request, all(&self.caller.policies), |k| {
                    unknown_key(k, remote)
                })
            },
        )
    }

    /// The roles this user may assume on `host` once logged in there, and
    /// the run-as user each reaches.
    fn elevations(
        &mut self,
        host: &HostEntry,
        login_mfa: Mfa,
        documents: &mut Documents,
    ) -> Vec<Elevation> {
        let remote = host.source == HostSource::Policy;
        let no_tags = BTreeMap::new();
        let host_tags = if remote { &no_tags } else { self.local.tags };
        let base = &self.base;
        // Contexts by role class (same duration and tags: same context).
        let mut contexts: HashMap<usize, [Context; 2]> = HashMap::new();
        let mut out = Vec::new();
        for (i, role) in self.roles.iter().enumerate() {
            let Some(run_as_user) = &role.run_as else {
                continue;
            };
            let tested = self.assume_tested.or(role.trust_tested);
            let assume = match &self.assumed[i] {
                Some(known) if !tested.host => known.clone(),
                _ => {
                    let [no_mfa, with_mfa] = contexts.entry(role.class).or_insert_with(|| {
                        let facts = |mfa_at| RequestFacts {
                            now: self.now,
                            mfa_at,
                            source_ip: None,
                            hostname: &host.hostname,
                            duration_seconds: role.duration,
                            session_name: &self.session_name,
                        };
                        [None, Some(self.now.timestamp())].map(|mfa_at| {
                            request::assume_role_context(base, &facts(mfa_at), role.tags())
                        })
                    });
                    let decided = self.assume(role, tested, no_mfa, with_mfa);
                    self.assumed[i] = Some(decided.clone());
                    decided
                }
            };
            let Some(assume) = assume else { continue };
            let Some(run_as) = self.run_as(role, host, host_tags) else {
                continue;
            };
            let mfa = login_mfa.max(assume.mfa).max(run_as.mfa);
            let caller_view = Sources {
                own: self.sources,
                own_name: "user",
                trust: Some(&role.trust),
            };
            let role_view = Sources {
                own: &role.sources,
                own_name: "role",
                trust: None,
            };
            out.push(Elevation {
                hostname: host.hostname.clone(),
                role_name: role.role.name.to_string(),
                role_arn: role.role.arn.clone(),
                run_as_user: run_as_user.user.clone(),
                mfa,
                root_without_mfa: mfa == Mfa::NotRequired && run_as_user.user == "root",
                assume_role: caller_view.gate(assume, documents),
                run_as: role_view.gate(run_as, documents),
            });
        }
        out
    }

    /// `sts:AssumeRole` of `role`, as `assume-role` decides it.
    fn assume(
        &self,
        role: &LoadedRole,
        tested: Tested,
        no_mfa: &Context,
        with_mfa: &Context,
    ) -> Option<Decided> {
        decide_step(
            tested,
            no_mfa,
            with_mfa,
            |ctx| {
                allowed(self.assume_policies.borrow_mut().response(
                    &self.caller.arn,
                    &role.role.arn,
                    &role.trust,
                    ctx,
                ))
            },
            |ctx| {
                let request = Request {
                    principal: &self.caller.arn,
                    action: "sts:AssumeRole",
                    resource: &role.role.arn,
                    context: ctx,
                };
                condition_witnesses(
                    &request,
                    all(&self.caller.policies).chain(std::iter::once(&role.trust)),
                    |k| unknown_key(k, false),
                )
            },
        )
    }

    /// `host:RunAs` on `host` by this user's session of `role`.
    fn run_as(
        &self,
        role: &LoadedRole,
        host: &HostEntry,
        host_tags: &BTreeMap<String, String>,
    ) -> Option<Decided> {
        let remote = host.source == HostSource::Policy;
        let session = role
            .principal
            .clone()
            .session(&role.role.name, &self.session_name);
        let session_base = request::principal_context(&session, self.now);
        let context = |mfa_at| {
            let facts = RequestFacts {
                now: self.now,
                mfa_at,
                source_ip: None,
                hostname: &host.hostname,
                duration_seconds: role.duration,
                session_name: &self.session_name,
            };
            request::run_as_context(
                &session_base,
                &facts,
                host_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            )
        };
        decide_step(
            role.run_as_tested,
            &context(None),
            &context(Some(self.now.timestamp())),
            |ctx| allowed(session.authorize("host:RunAs", &host.host_arn, ctx)),
            |ctx| {
                let request = Request {
                    principal: &session.arn,
                    action: "host:RunAs",
                    resource: &host.host_arn,
                    context: ctx,
                };
                condition_witnesses(&request, all(&session.policies), |k| unknown_key(k, remote))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_named_in_resources() {
        let doc = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"host:Login","Resource":["arn:aws:host::123456789012:host/db-1","arn:aws:host::*:host/web-*"]},
            {"Effect":"Allow","Action":"host:RunAs","Resource":"arn:aws:host::123456789012:host/*"},
            {"Effect":"Allow","Action":"host:Login","Resource":"arn:aws:host::123456789012:host/${aws:username}"},
            {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::host/x"}]}"#;
        assert_eq!(hosts_named(doc), ["db-1", "web-*"]);
    }

    #[test]
    fn condition_kinds() {
        assert_eq!(condition_kind("aws:MultiFactorAuthAge"), "MFA");
        assert_eq!(condition_kind("aws:SourceIp"), "SourceNetwork");
        assert_eq!(condition_kind("aws:CurrentTime"), "Time");
        assert_eq!(condition_kind("aws:ResourceTag/env"), "Tags");
        assert_eq!(condition_kind("host:Service"), "Other");
    }
}
