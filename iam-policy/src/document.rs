//! Policy documents: parsing and validation into a compiled [`Policy`].

use super::arn::{ArnPattern, PrincipalBinding, PrincipalEntry, PrincipalSpec};
use super::condition::{self, Condition};
use super::index::ActionIndex;
use super::json;
use super::position::Position;
use super::wildcard::{Glob, compile};
use serde_json::{Map, Value as Json};
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// What a policy document is attached as; decides the size limit and which
/// elements are required or forbidden (a trust policy needs `Principal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    UserInline,
    GroupInline,
    RoleInline,
    Managed,
    /// A role's trust policy (`AssumeRolePolicyDocument`).
    Trust,
    /// Any other resource-based policy (`--resource-policy` of the simulator).
    Resource,
}

impl PolicyKind {
    /// AWS's size limit in characters, whitespace not counted.
    pub fn max_chars(self) -> usize {
        match self {
            Self::UserInline => 2048,
            Self::GroupInline => 5120,
            Self::RoleInline => 10240,
            Self::Managed => 6144,
            Self::Trust => 2048,
            Self::Resource => 20480,
        }
    }

    /// Identity-based policies must not name a principal; resource-based
    /// ones must.
    pub fn is_resource_based(self) -> bool {
        matches!(self, Self::Trust | Self::Resource)
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UserInline => "user inline policy",
            Self::GroupInline => "group inline policy",
            Self::RoleInline => "role inline policy",
            Self::Managed => "managed policy",
            Self::Trust => "trust policy",
            Self::Resource => "resource policy",
        })
    }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        })
    }
}

/// Why a document is not a valid policy. Statement errors name the
/// statement (index from 0, and Sid when it has one) and the element.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy document is not valid JSON: {0}")]
    Json(String),
    #[error(
        "policy document is {chars} characters long without whitespace; a {kind} may have at most {limit}"
    )]
    TooLarge {
        kind: PolicyKind,
        chars: usize,
        limit: usize,
    },
    #[error(
        "policy document is {bytes} bytes long with whitespace; AWS's PolicyDocument parameter takes at most {limit}"
    )]
    TooLong { bytes: usize, limit: usize },
    #[error("{field}: {message}")]
    Document {
        field: String,
        fault: Fault,
        message: String,
    },
    #[error("Statement[{index}]{}, {field}: {message}", sid_suffix(.sid))]
    Statement {
        index: usize,
        sid: Option<String>,
        field: String,
        fault: Fault,
        message: String,
    },
}

/// What is wrong with the element a [`PolicyError`] names. The message
/// says it in words; this says it as a kind, so a caller that must classify
/// the error (Access Analyzer's issue codes, `validate.rs`) matches a
/// variant instead of reading the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A required element is absent.
    Missing,
    /// An array or object that must hold something is empty.
    Empty,
    /// A value of the right JSON type that the grammar refuses.
    Invalid,
    /// A value of the wrong JSON type (a number where a string belongs).
    Mistyped,
    /// An element the grammar does not know.
    Unknown,
    /// An element this kind of policy may not have (a Principal in an
    /// identity policy, a Resource in a trust policy).
    NotAllowed,
    /// A region in the ARN of a global service's resource.
    Regional,
    /// `X` and `NotX` together.
    Combination,
    /// A key or Sid written twice.
    Duplicate,
    /// An unknown condition operator.
    Operator,
    /// A condition value that is not of its operator's type.
    ValueType,
    /// A malformed policy variable.
    Variable,
}

impl PolicyError {
    /// The error code AWS answers with: `LimitExceeded` for a document over
    /// a size limit, `MalformedPolicyDocument` for anything else.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } | Self::TooLong { .. } => "LimitExceeded",
            Self::Json(_) | Self::Document { .. } | Self::Statement { .. } => {
                "MalformedPolicyDocument"
            }
        }
    }
}

fn sid_suffix(sid: &Option<String>) -> String {
    match sid {
        Some(sid) => format!(" (Sid \"{sid}\")"),
        None => String::new(),
    }
}

/// A parsed, validated and compiled policy document. Cloning one is a few
/// reference counts: a decision's policy set (a trust policy with the
/// caller's policies, a role's for each session) is assembled per request.
#[derive(Debug, Clone)]
pub struct Policy {
    name: Arc<str>,
    document: Arc<str>,
    kind: PolicyKind,
    /// `Version` is 2012-10-17 (policy variables are live).
    version_2012: bool,
    /// The document has a `Version` element at all.
    version_given: bool,
    pub(crate) statements: Arc<Vec<Statement>>,
    pub(crate) index: Arc<ActionIndex>,
}

/// A compiled statement: everything a decision needs, nothing re-parsed.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<PrincipalSpec>,
    /// Lowercased action patterns, matched case-insensitively.
    pub(crate) actions: Vec<Glob>,
    pub(crate) not_action: bool,
    /// `None` when the statement has no Resource element (trust policies).
    pub(crate) resources: Option<Vec<ArnPattern>>,
    pub(crate) not_resource: bool,
    pub(crate) conditions: Vec<Condition>,
}

const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";
const STATEMENT_FIELDS: [&str; 9] = [
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// AWS's bound on the `PolicyDocument` request parameter (131,072
/// characters, whitespace included); counted here in bytes, which is never
/// fewer.
pub const MAX_DOCUMENT_BYTES: usize = 131_072;

impl Policy {
    /// Parses and validates `document` as a policy of `kind` being written:
    /// AWS's size limit for that kind, the characters AWS's API takes, and
    /// (for a managed policy) a `Version` of 2012-10-17.
    pub fn parse(name: &str, document: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        // Whitespace does not count towards the kind's limit, so without
        // this a few hundred bytes of policy padded with megabytes of
        // spaces would be stored and parsed on every login.
        if document.len() <= MAX_DOCUMENT_BYTES {
            let chars = policy_chars(document);
            if chars > kind.max_chars() {
                return Err(PolicyError::TooLarge {
                    kind,
                    chars,
                    limit: kind.max_chars(),
                });
            }
        }
        check_characters(document)?;
        let policy = Self::parse_stored(name, document, kind)?;
        if kind == PolicyKind::Managed && !policy.version_2012 {
            // AWS: "Policy document must be version 2012-10-17 or greater."
            return Err(PolicyError::Document {
                field: "Version".into(),
                fault: if policy.version_given {
                    Fault::Invalid
                } else {
                    Fault::Missing
                },
                message: format!(
                    "a managed policy must have a Version of \"{VERSION_2012}\" (policy document must be version 2012-10-17 or greater)"
                ),
            });
        }
        Ok(policy)
    }

    /// Parses a document already validated on write (or an AWS managed
    /// policy, which has no customer size limit): the kind's character
    /// limit, character range and managed `Version` are write-time rules,
    /// so a stored document is not refused for them later; the
    /// whole-document bound and the grammar still hold.
    pub fn parse_stored(name: &str, document: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        if document.len() > MAX_DOCUMENT_BYTES {
            return Err(PolicyError::TooLong {
                bytes: document.len(),
                limit: MAX_DOCUMENT_BYTES,
            });
        }
        Self::compile(name, document, kind)
    }

    /// Like [`Policy::parse`] without the size limit: `simulate-custom-policy`
    /// takes documents of any size (and without `Version`), as AWS's does;
    /// its policy parameters take the same characters.
    pub fn parse_unlimited(
        name: &str,
        document: &str,
        kind: PolicyKind,
    ) -> Result<Self, PolicyError> {
        check_characters(document)?;
        Self::compile(name, document, kind)
    }

    fn compile(name: &str, document: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let json = json::parse(document).map_err(|e| match e {
            json::Error::Syntax(m) => PolicyError::Json(m),
            json::Error::DuplicateKey { path, key } => PolicyError::Document {
                field: if path.is_empty() {
                    "Policy".into()
                } else {
                    path
                },
                fault: Fault::Duplicate,
                message: format!("duplicate key {key:?}: AWS refuses a policy that repeats a key"),
            },
        })?;
        let top = json.as_object().ok_or_else(|| PolicyError::Document {
            field: "Policy".into(),
            fault: Fault::Mistyped,
            message: "the document must be a JSON object".into(),
        })?;
        let doc_err = |field: &str, fault: Fault, message: String| PolicyError::Document {
            field: field.into(),
            fault,
            message,
        };
        if let Some(field) = top
            .keys()
            .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
        {
            return Err(doc_err(
                field,
                Fault::Unknown,
                "unknown policy element".into(),
            ));
        }
        let vars = match top.get("Version") {
            None => false,
            Some(Json::String(v)) if v == VERSION_2012 => true,
            Some(Json::String(v)) if v == VERSION_2008 => false,
            Some(v) => {
                return Err(doc_err(
                    "Version",
                    Fault::Invalid,
                    format!("{v} is not a valid policy version; use \"{VERSION_2012}\""),
                ));
            }
        };
        if let Some(id) = top.get("Id")
            && !id.is_string()
        {
            return Err(doc_err("Id", Fault::Mistyped, "must be a string".into()));
        }
        let raw: Vec<&Json> = match top.get("Statement") {
            None => {
                return Err(doc_err(
                    "Statement",
                    Fault::Missing,
                    "missing required element".into(),
                ));
            }
            Some(Json::Array(items)) if items.is_empty() => {
                return Err(doc_err(
                    "Statement",
                    Fault::Empty,
                    "must hold at least one statement".into(),
                ));
            }
            Some(Json::Array(items)) => items.iter().collect(),
            Some(one @ Json::Object(_)) => vec![one],
            Some(_) => {
                return Err(doc_err(
                    "Statement",
                    Fault::Mistyped,
                    "must be a statement object or an array of them".into(),
                ));
            }
        };
        let mut statements = Vec::with_capacity(raw.len());
        let mut sids = HashSet::new();
        for (index, value) in raw.into_iter().enumerate() {
            let statement = parse_statement(index, value, kind, vars)?;
            if let Some(sid) = &statement.sid
                && !sids.insert(sid.clone())
            {
                return Err(PolicyError::Statement {
                    index,
                    sid: Some(sid.clone()),
                    field: "Sid".into(),
                    fault: Fault::Duplicate,
                    message: "statement IDs (SID) in a single policy must be unique".into(),
                });
            }
            statements.push(statement);
        }
        let mut action_index = ActionIndex::default();
        for (i, st) in statements.iter().enumerate() {
            action_index.add(i, &st.actions, st.not_action);
        }
        Ok(Self {
            name: name.into(),
            document: document.into(),
            kind,
            version_2012: vars,
            version_given: top.contains_key("Version"),
            statements: Arc::new(statements),
            index: Arc::new(action_index),
        })
    }

    /// Binds the user and role ARNs of the `Principal` elements of a stored
    /// resource policy to what the store bound them to when it was saved
    /// (AWS binds them to unique IDs, so a principal deleted and re-created
    /// under the same name is not the one the policy trusts). `bind` gets
    /// each such ARN and returns `None` to leave it as written (another
    /// account's principal, a role session). `NotPrincipal` is left alone:
    /// it names whom a statement excludes, and an unmatched binding there
    /// would widen it.
    pub fn bind_principals(&mut self, bind: impl Fn(&str) -> Option<PrincipalBinding>) {
        for statement in Arc::make_mut(&mut self.statements) {
            if let Some(spec) = statement.principal.as_mut().filter(|s| !s.negated) {
                for entry in &mut spec.entries {
                    entry.bind(&bind);
                }
            }
        }
    }

    /// The name this policy was parsed under (used in decisions and audit).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The original JSON text, for export.
    pub fn document(&self) -> &str {
        &self.document
    }

    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// Start and end of statement `index` in [`Policy::document`], as AWS's
    /// simulator reports them.
    pub fn statement_position(&self, index: usize) -> Option<(Position, Position)> {
        super::position::statement_positions(&self.document)
            .get(index)
            .copied()
    }
}

/// A policy's size as AWS's quotas count it: characters, whitespace not
/// counted (IAM User Guide, "IAM and AWS STS quotas"). The aggregate
/// inline-policy quota of a user, group or role sums this over its inline
/// policies.
pub fn policy_chars(document: &str) -> usize {
    document.chars().filter(|c| !c.is_whitespace()).count()
}

/// AWS's `PolicyDocument` parameter pattern (IAM API Reference):
/// `[\u0009\u000A\u000D\u0020-\u00FF]+`. Anything else (a control
/// character, a character beyond Latin-1) is refused, naming it; JSON
/// escapes such as `\u00e9` are plain ASCII and pass.
fn check_characters(document: &str) -> Result<(), PolicyError> {
    let allowed = |c: char| matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{ff}');
    match document.char_indices().find(|(_, c)| !allowed(*c)) {
        None => Ok(()),
        Some((at, c)) => Err(PolicyError::Document {
            field: "Policy".into(),
            fault: Fault::Invalid,
            message: format!(
                "character U+{:04X} at byte {at} is outside the range AWS accepts in a policy document (tab, line feed, carriage return and U+0020 to U+00FF)",
                u32::from(c)
            ),
        }),
    }
}

/// A string or an array of strings, as Action, Resource and Principal
/// values are written.
fn strings<'a>(value: &'a Json, what: &str) -> Result<Vec<&'a str>, (Fault, String)> {
    let list = match value {
        Json::String(s) => vec![s.as_str()],
        Json::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .ok_or_else(|| (Fault::Mistyped, format!("{what} entries must be strings")))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err((
                Fault::Mistyped,
                format!("{what} must be a string or an array of strings"),
            ));
        }
    };
    if list.is_empty() {
        return Err((Fault::Empty, format!("{what} must not be empty")));
    }
    Ok(list)
}

/// The element found by [`either`]: its value, whether it is the `NotX`
/// form, and its name.
type Element<'a> = Option<(&'a Json, bool, String)>;

/// Picks `X` or `NotX`: exactly one may be present (when `required`).
/// Errors are (field, fault, message).
fn either<'a>(
    obj: &'a Map<String, Json>,
    field: &str,
    required: bool,
) -> Result<Element<'a>, (String, Fault, String)> {
    let not_field = format!("Not{field}");
    match (obj.get(field), obj.get(&not_field)) {
        (Some(_), Some(_)) => Err((
            field.to_owned(),
            Fault::Combination,
            format!("a statement must not have both {field} and {not_field}"),
        )),
        (Some(v), None) => Ok(Some((v, false, field.to_owned()))),
        (None, Some(v)) => Ok(Some((v, true, not_field))),
        (None, None) if required => Err((
            field.to_owned(),
            Fault::Missing,
            format!("a statement must have {field} or {not_field}"),
        )),
        (None, None) => Ok(None),
    }
}

fn parse_statement(
    index: usize,
    value: &Json,
    kind: PolicyKind,
    vars: bool,
) -> Result<Statement, PolicyError> {
    let sid = value.get("Sid").and_then(Json::as_str).map(str::to_owned);
    let err = |field: &str, fault: Fault, message: String| PolicyError::Statement {
        index,
        sid: sid.clone(),
        field: field.to_owned(),
        fault,
        message,
    };
    let obj = value
        .as_object()
        .ok_or_else(|| err("Statement", Fault::Mistyped, "must be a JSON object".into()))?;
    if let Some(field) = obj.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
        return Err(err(
            field,
            Fault::Unknown,
            "unknown statement element".into(),
        ));
    }
    if let Some(s) = obj.get("Sid") {
        let s = s
            .as_str()
            .ok_or_else(|| err("Sid", Fault::Mistyped, "must be a string".into()))?;
        // IAM allows only ASCII letters and digits; other services' resource
        // policies are laxer.
        if kind != PolicyKind::Resource && !s.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(err(
                "Sid",
                Fault::Invalid,
                format!("{s:?} is not alphanumeric"),
            ));
        }
    }
    let effect = match obj.get("Effect") {
        Some(Json::String(e)) if e == "Allow" => Effect::Allow,
        Some(Json::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(err(
                "Effect",
                if other.is_string() {
                    Fault::Invalid
                } else {
                    Fault::Mistyped
                },
                format!("invalid effect {other}; must be \"Allow\" or \"Deny\""),
            ));
        }
        None => {
            return Err(err(
                "Effect",
                Fault::Missing,
                "missing required element".into(),
            ));
        }
    };

    let principal = match either(obj, "Principal", false).map_err(|(f, c, m)| err(&f, c, m))? {
        Some((_, _, field)) if !kind.is_resource_based() => {
            return Err(err(
                &field,
                Fault::NotAllowed,
                format!("a {kind} must not specify a principal"),
            ));
        }
        Some((_, true, field)) if kind == PolicyKind::Trust => {
            return Err(err(
                &field,
                Fault::NotAllowed,
                "NotPrincipal is not allowed in a role trust policy (IAM User Guide, NotPrincipal); name the principals in Principal".into(),
            ));
        }
        Some((v, negated, field)) => Some(PrincipalSpec {
            negated,
            entries: parse_principal(v, kind).map_err(|(c, m)| err(&field, c, m))?,
        }),
        None if kind.is_resource_based() => {
            return Err(err(
                "Principal",
                Fault::Missing,
                format!("a {kind} must have Principal or NotPrincipal"),
            ));
        }
        None => None,
    };

    let (actions, not_action, field) = either(obj, "Action", true)
        .map_err(|(f, c, m)| err(&f, c, m))?
        .ok_or_else(|| err("Action", Fault::Missing, "missing".into()))?;
    let actions = strings(actions, &field)
        .map_err(|(c, m)| err(&field, c, m))?
        .into_iter()
        .map(|a| parse_action(a).map_err(|m| err(&field, Fault::Invalid, m)))
        .collect::<Result<Vec<_>, _>>()?;

    let resources_required = !kind.is_resource_based();
    let resources =
        match either(obj, "Resource", resources_required).map_err(|(f, c, m)| err(&f, c, m))? {
            Some((_, _, field)) if kind == PolicyKind::Trust => {
                return Err(err(
                    &field,
                    Fault::NotAllowed,
                    "a trust policy must not specify a resource".into(),
                ));
            }
            Some((v, negated, field)) => {
                let patterns = strings(v, &field)
                    .map_err(|(c, m)| err(&field, c, m))?
                    .into_iter()
                    .map(|r| {
                        check_global_resource(r).map_err(|m| err(&field, Fault::Regional, m))?;
                        ArnPattern::resource(r, vars).map_err(|m| err(&field, Fault::Invalid, m))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Some((patterns, negated))
            }
            None => None,
        };
    let (resources, not_resource) = match resources {
        Some((p, n)) => (Some(p), n),
        None => (None, false),
    };

    let conditions = match obj.get("Condition") {
        Some(c) => condition::parse_block(c, vars).map_err(|(c, m)| err("Condition", c, m))?,
        None => Vec::new(),
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    })
}

/// IAM resources, S3 buckets and S3 objects are global: AWS refuses their
/// ARNs with a region (`arn:aws:iam:us-east-1:…`, `arn:aws:s3:us-east-1::b`),
/// where a region wildcard is accepted. An S3 access point carries region
/// and account, and keeps them.
fn check_global_resource(resource: &str) -> Result<(), String> {
    let mut parts = resource.splitn(6, ':');
    let (Some("arn"), Some(_), Some(service), Some(region), Some(account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Ok(());
    };
    let literal_region = !region.is_empty() && !region.contains(['*', '?']);
    let global = match service {
        "iam" => true,
        "s3" => account.is_empty(),
        _ => false,
    };
    if global && literal_region {
        return Err(format!(
            "Resource {resource} can not contain region information: {service} resources are global"
        ));
    }
    Ok(())
}

/// `*` or `service:Action` with wildcards; compiled lowercased.
fn parse_action(action: &str) -> Result<Glob, String> {
    let valid = action == "*"
        || action.split_once(':').is_some_and(|(service, name)| {
            !service.is_empty()
                && !name.is_empty()
                && service
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-*?".contains(c))
                && !name.contains(':')
        });
    if !valid {
        return Err(format!(
            "invalid action {action:?}: actions must be \"*\" or prefixed by a service, e.g. \"host:Login\""
        ));
    }
    let mut toks = Vec::with_capacity(action.len());
    compile(action, true, true, &mut toks);
    Ok(Glob::new(&toks))
}

/// A Principal value: `"*"` or an object of `AWS`, `Service`, `Federated`
/// (and, in other services' resource policies, `CanonicalUser`) to a string
/// or a list of strings. The kinds of `AWS` principal are in
/// `PrincipalEntry::aws`.
fn parse_principal(value: &Json, kind: PolicyKind) -> Result<Vec<PrincipalEntry>, (Fault, String)> {
    match value {
        Json::String(s) if s == "*" => Ok(vec![PrincipalEntry::Any]),
        Json::Object(map) if !map.is_empty() => {
            let mut entries = Vec::new();
            for (key, v) in map {
                let list = strings(v, key)?;
                for item in list {
                    entries.push(match key.as_str() {
                        "AWS" => PrincipalEntry::aws(item).map_err(|m| (Fault::Invalid, m))?,
                        "CanonicalUser" if kind == PolicyKind::Trust => {
                            return Err((Fault::NotAllowed, format!(
                                "Invalid principal in policy: \"{key}\":\"{item}\": a role trust policy names AWS, Service or Federated principals"
                            )));
                        }
                        "Service" | "Federated" | "CanonicalUser" => {
                            if item.is_empty() || item.contains(['*', '?']) {
                                return Err((
                                    Fault::Invalid,
                                    format!("Invalid principal in policy: \"{key}\":\"{item}\""),
                                ));
                            }
                            PrincipalEntry::Exact(item.to_owned())
                        }
                        _ => {
                            return Err((Fault::Unknown, format!("unknown principal type {key:?}")));
                        }
                    });
                }
            }
            Ok(entries)
        }
        other => Err((
            if matches!(other, Json::Object(_)) {
                Fault::Empty
            } else {
                Fault::Invalid
            },
            format!(
                "Invalid principal in policy: {other}; use \"*\" or an object such as {{\"AWS\": \"arn:aws:iam::123456789012:root\"}}"
            ),
        )),
    }
}
