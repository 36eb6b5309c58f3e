//! Access Analyzer's policy checks (`ValidatePolicy`) for host policies:
//! findings of type ERROR, SECURITY_WARNING, WARNING and SUGGESTION, each
//! with AWS's issue code, a sentence, a link and where in the document it
//! is (a path of keys and indexes, and a span of line, column, offset).
//!
//! Errors are [`Policy::parse`]'s refusals and nothing else: a document
//! the store would take yields no ERROR, and one it refuses yields exactly
//! one (the parser stops at the first fault), its issue code read from the
//! error's [`Fault`] and element. The other findings look at a document
//! that parsed: AWS's general checks where they apply here (redundant
//! actions and resources, empty condition arrays and objects, wildcards
//! without a Like operator, variables where AWS substitutes none,
//! `ForAllValues` on a single-valued key, a missing `Version`), and the
//! host checks (an Allow of `host:Login`, `host:RunAs` or `sts:AssumeRole`
//! with no MFA condition; Allow with `NotAction`, `NotResource` or
//! `NotPrincipal`; a trust policy open to everyone or to a whole account
//! without a condition; `host:RunAs` that may reach root with no bound on
//! the session's duration).
//!
//! Where AWS's reference names the check, its issue code is used; the
//! host checks have codes of their own in the same style. Three AWS
//! checks are ERRORs here because this engine refuses what AWS only
//! flags: an empty `Action`/`Resource`/`Principal` (AWS: suggestions
//! EMPTY_ARRAY_*), a condition value of the wrong type (AWS: warnings
//! TYPE_MISMATCH*), and a statement in a managed policy without
//! `Version` 2012-10-17 (AWS: warning MISSING_VERSION).

use super::arn::PrincipalEntry;
use super::context::Context;
use super::document::{Effect, Fault, Policy, PolicyError, PolicyKind, Statement};
use super::position::{PathStep, Span, TextPosition, key_span, span_of};
use super::wildcard::{Glob, compile};
use serde_json::Value as Json;

/// How much a finding matters, as Access Analyzer ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingType {
    /// A part of the policy does not work (here: the store refuses it).
    Error,
    /// The policy allows more than is safe.
    SecurityWarning,
    /// The policy does not follow good practice.
    Warning,
    /// A change of style that does not change access.
    Suggestion,
}

impl FindingType {
    /// AWS's spelling: `ERROR`, `SECURITY_WARNING`, `WARNING`, `SUGGESTION`.
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Self::Error => "ERROR",
            Self::SecurityWarning => "SECURITY_WARNING",
            Self::Warning => "WARNING",
            Self::Suggestion => "SUGGESTION",
        }
    }

    /// The anchor part of AWS's policy check reference for this type.
    fn anchor(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::SecurityWarning => "security-warning",
            Self::Warning => "general-warning",
            Self::Suggestion => "suggestion",
        }
    }
}

/// Where a finding is: the path into the document and its text span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: Vec<PathStep>,
    pub span: Span,
}

/// One finding of [`validate_policy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub finding_type: FindingType,
    pub issue_code: &'static str,
    pub finding_details: String,
    pub learn_more_link: String,
    pub locations: Vec<Location>,
}

const REFERENCE: &str =
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html";

/// AWS's longest role session (12 hours): a `host:RunAs` statement whose
/// conditions refuse a session this long bounds the session's duration.
const LONGEST_SESSION_SECONDS: &str = "43200";

/// Validates `document` as a policy of `kind` being written, and lists
/// the findings, errors first.
pub fn validate_policy(document: &str, kind: PolicyKind) -> Vec<Finding> {
    let policy = match Policy::parse("", document, kind) {
        Ok(policy) => policy,
        Err(e) => return vec![error_finding(document, &e)],
    };
    let Ok(json) = serde_json::from_str::<Json>(document) else {
        return Vec::new();
    };
    let mut checks = Checks {
        document,
        findings: Vec::new(),
    };
    checks.version(&json, kind);
    let raw: Vec<&Json> = match json.get("Statement") {
        Some(Json::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    let array = matches!(json.get("Statement"), Some(Json::Array(_)));
    for (i, (statement, raw)) in policy.statements.iter().zip(raw).enumerate() {
        let mut base = vec![PathStep::Key("Statement".into())];
        if array {
            base.push(PathStep::Index(i));
        }
        checks.statement(&base, statement, raw, kind);
    }
    checks.findings.sort_by_key(|f| f.finding_type);
    checks.findings
}

struct Checks<'a> {
    document: &'a str,
    findings: Vec<Finding>,
}

fn key(k: &str) -> PathStep {
    PathStep::Key(k.to_owned())
}

fn with(base: &[PathStep], more: impl IntoIterator<Item = PathStep>) -> Vec<PathStep> {
    base.iter().cloned().chain(more).collect()
}

impl Checks<'_> {
    fn push(
        &mut self,
        finding_type: FindingType,
        issue_code: &'static str,
        details: String,
        link: Option<&str>,
        path: Vec<PathStep>,
    ) {
        let span = span_of(self.document, &path).unwrap_or_default();
        self.findings.push(Finding {
            finding_type,
            issue_code,
            finding_details: details,
            learn_more_link: link.map_or_else(|| aws_link(finding_type, issue_code), str::to_owned),
            locations: vec![Location { path, span }],
        });
    }

    fn version(&mut self, json: &Json, kind: PolicyKind) {
        if json.get("Version").is_none() && kind != PolicyKind::Managed {
            self.push(
                FindingType::Warning,
                "MISSING_VERSION",
                "We recommend that you specify the Version element to help you with debugging permission issues: without \"Version\": \"2012-10-17\", policy variables are literal text.".into(),
                None,
                Vec::new(),
            );
        }
    }

    fn statement(&mut self, base: &[PathStep], st: &Statement, raw: &Json, kind: PolicyKind) {
        let action_field = if st.not_action { "NotAction" } else { "Action" };
        if st.effect == Effect::Allow {
            self.allow(base, st, action_field, kind);
        }
        self.redundant(base, raw, action_field, true);
        for field in ["Resource", "NotResource"] {
            self.redundant(base, raw, field, false);
        }
        if let Some(block) = raw.get("Condition") {
            self.conditions(&with(base, [key("Condition")]), block);
        }
        if st.effect == Effect::Allow {
            for c in &st.conditions {
                if c.is_for_all_values() && single_valued(&c.key) {
                    self.push(
                        FindingType::SecurityWarning,
                        "FORALLVALUES_WITH_SINGLE_VALUED_KEY",
                        format!(
                            "Using ForAllValues qualifier with the single-valued condition key {} can be overly permissive: ForAllValues also holds when the key is absent. Remove ForAllValues.",
                            c.key
                        ),
                        None,
                        with(base, [key("Condition")]),
                    );
                }
            }
        }
    }

    /// The checks of an Allow statement: what it lets through.
    fn allow(&mut self, base: &[PathStep], st: &Statement, action_field: &str, kind: PolicyKind) {
        if st.not_action {
            self.push(
                FindingType::SecurityWarning,
                "ALLOW_WITH_NOT_ACTION",
                "Using Allow with NotAction allows every action not listed, including host:Login, host:RunAs and sts:AssumeRole and any added later. List the actions to allow in Action instead.".into(),
                Some("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html"),
                with(base, [key("NotAction")]),
            );
        }
        if st.not_resource {
            self.push(
                FindingType::SecurityWarning,
                "ALLOW_WITH_NOT_RESOURCE",
                "Using Allow with NotResource allows the actions on every resource not listed, including hosts and roles created later. List the resources in Resource instead.".into(),
                Some("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html"),
                with(base, [key("NotResource")]),
            );
        }
        if st.principal.as_ref().is_some_and(|p| p.negated) {
            self.push(
                FindingType::SecurityWarning,
                "ALLOW_WITH_NOT_PRINCIPAL",
                "Using Allow with NotPrincipal can be overly permissive: it allows every principal not listed, anonymous ones included. Name the principals in Principal instead.".into(),
                None,
                with(base, [key("NotPrincipal")]),
            );
        }
        // The actions a login or an elevation asks: an MFA condition
        // should gate each.
        let elevating: Vec<&str> = super::access::HOST_ACTIONS
            .into_iter()
            .filter(|a| allows_action(st, a))
            .collect();
        if !elevating.is_empty() && !st.conditions.iter().any(demands_mfa) {
            self.push(
                FindingType::SecurityWarning,
                "ALLOW_WITHOUT_MFA_CONDITION",
                format!(
                    "The statement allows {} without an MFA condition: a stolen password (or key) is enough. Add \"Bool\": {{\"aws:MultiFactorAuthPresent\": \"true\"}} or \"NumericLessThan\": {{\"aws:MultiFactorAuthAge\": …}}.",
                    elevating.join(", ")
                ),
                Some("https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_mfa_configure-api-require.html"),
                with(base, [key(action_field)]),
            );
        }
        if allows_action(st, "host:RunAs")
            && may_run_as_root(st)
            && !st.conditions.iter().any(bounds_duration)
        {
            self.push(
                FindingType::SecurityWarning,
                "RUN_AS_ROOT_WITHOUT_DURATION_BOUND",
                "The statement allows host:RunAs as root (the run-as user of a role without a host:RunAs tag) with no bound on the session's duration. Add \"NumericLessThanEquals\": {\"sts:DurationSeconds\": \"3600\"}, or a condition on aws:PrincipalTag/host:RunAs that excludes root.".into(),
                Some("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_durationseconds"),
                with(base, [key(action_field)]),
            );
        }
        let trust = kind == PolicyKind::Trust || allows_action(st, "sts:AssumeRole");
        if let Some(principal) = st.principal.as_ref().filter(|p| !p.negated && trust)
            && st.conditions.is_empty()
        {
            if principal.entries.contains(&PrincipalEntry::Any) {
                self.push(
                    FindingType::SecurityWarning,
                    "TRUST_POLICY_OPEN_TO_ALL_PRINCIPALS",
                    "The trust policy lets any principal assume the role (Principal \"*\") without a condition. Name the principals, or add a condition.".into(),
                    Some("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"),
                    with(base, [key("Principal")]),
                );
            } else if principal
                .entries
                .iter()
                .any(|e| matches!(e, PrincipalEntry::Account(_)))
            {
                self.push(
                    FindingType::SecurityWarning,
                    "TRUST_POLICY_OPEN_TO_ACCOUNT",
                    "The trust policy lets every principal of a whole account whose identity policies allow sts:AssumeRole assume the role, without a condition. Name the users or roles, or add a condition (MFA, a principal tag).".into(),
                    Some("https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"),
                    with(base, [key("Principal")]),
                );
            }
        }
    }

    /// REDUNDANT_ACTION / REDUNDANT_RESOURCE: an entry another entry of
    /// the same list already covers.
    fn redundant(&mut self, base: &[PathStep], raw: &Json, field: &str, action: bool) {
        let Some(Json::Array(items)) = raw.get(field) else {
            return;
        };
        let texts: Vec<&str> = items.iter().filter_map(Json::as_str).collect();
        for (j, text) in texts.iter().enumerate() {
            let covered = texts.iter().enumerate().any(|(k, other)| {
                k != j && {
                    let (a, b) = if action {
                        (other.to_ascii_lowercase(), text.to_ascii_lowercase())
                    } else {
                        ((*other).to_owned(), (*text).to_owned())
                    };
                    // Equal entries: the later one is the redundant one.
                    if a == b {
                        k < j
                    } else {
                        pattern_covers(&a, &b)
                    }
                }
            });
            if covered {
                let (code, what) = if action {
                    ("REDUNDANT_ACTION", "action")
                } else {
                    ("REDUNDANT_RESOURCE", "resource")
                };
                self.push(
                    FindingType::Suggestion,
                    code,
                    format!(
                        "The {what} {text} is redundant because another {what} of the statement already includes it. Remove it."
                    ),
                    None,
                    with(base, [key(field), PathStep::Index(j)]),
                );
            }
        }
    }

    /// The checks of a Condition element on its JSON: empty objects and
    /// arrays, wildcards a String operator compares literally, and
    /// variables where AWS substitutes none.
    fn conditions(&mut self, base: &[PathStep], block: &Json) {
        let Some(ops) = block.as_object() else {
            return;
        };
        if ops.is_empty() {
            self.push(
                FindingType::Suggestion,
                "EMPTY_OBJECT_CONDITION",
                "This condition block is empty and does not affect the policy. Remove it, or add a condition.".into(),
                None,
                base.to_vec(),
            );
        }
        for (op, keys) in ops {
            let Some(keys) = keys.as_object() else {
                continue;
            };
            let at_op = with(base, [key(op)]);
            if keys.is_empty() {
                self.push(
                    FindingType::Suggestion,
                    "EMPTY_OBJECT_CONDITION",
                    format!("The condition operator {op} names no keys and does not affect the policy. Remove it."),
                    None,
                    at_op.clone(),
                );
            }
            let base_op = op
                .trim_start_matches("ForAllValues:")
                .trim_start_matches("ForAnyValue:")
                .trim_end_matches("IfExists");
            for (k, values) in keys {
                let at_key = with(&at_op, [key(k)]);
                let list: Vec<&Json> = match values {
                    Json::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                if list.is_empty() {
                    self.push(
                        FindingType::Suggestion,
                        "EMPTY_ARRAY_CONDITION",
                        format!("There are no values for the condition key {k}: the condition matches nothing (or, negated, everything). Add values or remove it."),
                        None,
                        at_key.clone(),
                    );
                }
                for (i, v) in list.iter().enumerate() {
                    let Some(text) = v.as_str() else { continue };
                    let at_value = if matches!(values, Json::Array(_)) {
                        with(&at_key, [PathStep::Index(i)])
                    } else {
                        at_key.clone()
                    };
                    let string_equality = matches!(
                        base_op,
                        "StringEquals"
                            | "StringNotEquals"
                            | "StringEqualsIgnoreCase"
                            | "StringNotEqualsIgnoreCase"
                    );
                    if string_equality && has_wildcard(text) {
                        self.push(
                            FindingType::Warning,
                            "WILDCARD_WITHOUT_LIKE_OPERATOR",
                            format!("The value {text} of {k} holds a wildcard, which {op} compares literally. Use StringLike (or StringNotLike) to match a pattern."),
                            None,
                            at_value.clone(),
                        );
                    }
                    let substitutes = base_op.starts_with("String") || base_op.starts_with("Arn");
                    if !substitutes && text.contains("${") {
                        self.push(
                            FindingType::Warning,
                            "INVALID_VARIABLE_FOR_OPERATOR",
                            format!("Policy variables are substituted only with String and ARN operators: {op} compares {text} literally, so the condition matches nothing."),
                            None,
                            at_value,
                        );
                    }
                }
            }
        }
    }
}

/// A `*` or `?` outside `${…}` (where `${*}` and `${?}` are literal).
fn has_wildcard(text: &str) -> bool {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if rest[..start].contains(['*', '?']) {
            return true;
        }
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => return false,
        }
    }
    rest.contains(['*', '?'])
}

/// Keys that hold one value per request (IAM User Guide, "AWS global
/// condition context keys", and the host keys of docs/ARCHITECTURE.md).
fn single_valued(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    const ONE: [&str; 13] = [
        "aws:username",
        "aws:userid",
        "aws:principalarn",
        "aws:principalaccount",
        "aws:sourceip",
        "aws:currenttime",
        "aws:epochtime",
        "aws:multifactorauthpresent",
        "aws:multifactorauthage",
        "aws:securetransport",
        "sts:durationseconds",
        "sts:rolesessionname",
        "iam:policyarn",
    ];
    ONE.contains(&k.as_str())
        || k.starts_with("aws:principaltag/")
        || k.starts_with("aws:resourcetag/")
        || k.starts_with("host:")
}

/// Whether the statement's Action (or NotAction) lets `action` through.
pub(crate) fn allows_action(st: &Statement, action: &str) -> bool {
    st.actions.iter().any(|g| g.matches(action, true)) != st.not_action
}

/// A condition that a caller without a second factor fails: it tests
/// `aws:MultiFactorAuthPresent` or `aws:MultiFactorAuthAge` and does not
/// hold when the key says "no MFA" (false) or is absent.
fn demands_mfa(c: &super::condition::Condition) -> bool {
    let keys = ["aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge"];
    if !keys.iter().any(|k| c.tests_key(k)) {
        return false;
    }
    let mut without = Context::new();
    without.set("aws:MultiFactorAuthPresent", "false");
    !c.holds(&without) && !c.holds(&Context::new())
}

/// A condition that refuses the longest role session.
fn bounds_duration(c: &super::condition::Condition) -> bool {
    if !c.tests_key("sts:DurationSeconds") {
        return false;
    }
    let mut long = Context::new();
    long.set("sts:DurationSeconds", LONGEST_SESSION_SECONDS);
    !c.holds(&long)
}

/// Whether a role this statement allows `host:RunAs` for may run as root:
/// no condition refuses both a `host:RunAs` tag of `root` and no tag (the
/// default run-as user is root).
fn may_run_as_root(st: &Statement) -> bool {
    const TAG: &str = "aws:PrincipalTag/host:RunAs";
    let mut root = Context::new();
    root.set(TAG, "root");
    !st.conditions
        .iter()
        .any(|c| c.tests_key(TAG) && !c.holds(&root) && !c.holds(&Context::new()))
}

/// Whether every text `inner` matches also matches `outer` (both patterns
/// with `*`/`?`, compared as they are given: lowercase them first for
/// actions). Exact for a wildcard-free `inner`; for a wildcard `inner`,
/// only `*`, equal text, or an `outer` of a literal prefix and one
/// trailing `*` that `inner` starts with are recognized: a conservative
/// answer (never "covers" when it does not).
pub(crate) fn pattern_covers(outer: &str, inner: &str) -> bool {
    if outer == "*" || outer == inner {
        return true;
    }
    let mut toks = Vec::new();
    compile(outer, true, false, &mut toks);
    let outer_glob = Glob::new(&toks);
    if !has_wildcard_raw(inner) {
        return outer_glob.matches(inner, false);
    }
    match outer.strip_suffix('*') {
        Some(prefix) if !has_wildcard_raw(prefix) => inner.starts_with(prefix),
        _ => false,
    }
}

fn has_wildcard_raw(text: &str) -> bool {
    text.contains(['*', '?'])
}

/// AWS's reference anchor for an issue code of its own.
fn aws_link(t: FindingType, code: &str) -> String {
    format!(
        "{REFERENCE}#access-analyzer-reference-policy-checks-{}-{}",
        t.anchor(),
        code.to_ascii_lowercase().replace('_', "-")
    )
}

/// The ERROR finding of a document [`Policy::parse`] refuses.
fn error_finding(document: &str, e: &PolicyError) -> Finding {
    let code = issue_code(e);
    let (path, span) = error_location(document, e);
    Finding {
        finding_type: FindingType::Error,
        issue_code: code,
        finding_details: e.to_string(),
        learn_more_link: aws_link(FindingType::Error, code),
        locations: vec![Location { path, span }],
    }
}

/// AWS's issue code for a refusal, from its element and [`Fault`].
fn issue_code(e: &PolicyError) -> &'static str {
    let (field, fault) = match e {
        PolicyError::Json(_) => return "JSON_SYNTAX_ERROR",
        PolicyError::TooLarge { kind, .. } if kind.is_resource_based() => {
            return "POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA";
        }
        PolicyError::TooLarge { .. } | PolicyError::TooLong { .. } => {
            return "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA";
        }
        PolicyError::Document { field, fault, .. }
        | PolicyError::Statement { field, fault, .. } => (field.as_str(), *fault),
    };
    let element = field.strip_prefix("Not").unwrap_or(field);
    match (element, fault) {
        (_, Fault::Unknown) if element == "Principal" => "INVALID_PRINCIPAL_KEY",
        (_, Fault::Unknown) => "INVALID_POLICY_ELEMENT",
        (_, Fault::Mistyped) => "DATA_TYPE_MISMATCH",
        (_, Fault::Combination) => "UNSUPPORTED_ELEMENT_COMBINATION",
        (_, Fault::Duplicate) if element == "Sid" => "DUPLICATE_SID",
        (_, Fault::Duplicate) => "DUPLICATE_KEYS",
        (_, Fault::Operator) => "INVALID_OPERATOR",
        (_, Fault::ValueType) => "TYPE_MISMATCH",
        (_, Fault::Variable) => "INVALID_POLICY_VARIABLE",
        ("Version", Fault::Missing) => "MISSING_VERSION",
        ("Version", _) => "INVALID_VERSION",
        ("Statement", Fault::Missing | Fault::Empty) => "MISSING_STATEMENT",
        ("Effect", Fault::Missing) => "MISSING_EFFECT",
        ("Effect", _) => "INVALID_EFFECT",
        ("Action", Fault::Missing) => "MISSING_ACTION",
        ("Action", Fault::Empty) => "EMPTY_ARRAY_ACTION",
        ("Action", _) => "INVALID_ACTION",
        ("Resource", Fault::Missing) => "MISSING_RESOURCE",
        ("Resource", Fault::Empty) => "EMPTY_ARRAY_RESOURCE",
        ("Resource", Fault::Regional) => "ARN_REGION_NOT_ALLOWED",
        ("Resource", Fault::NotAllowed) => "UNSUPPORTED_RESOURCE_IN_TRUST_POLICY",
        ("Resource", _) => "INVALID_ARN_PREFIX",
        ("Principal", Fault::Missing) => "MISSING_PRINCIPAL",
        ("Principal", Fault::Empty) => "EMPTY_OBJECT_PRINCIPAL",
        ("Principal", Fault::NotAllowed) => "UNSUPPORTED_PRINCIPAL",
        ("Principal", _) => "INVALID_PRINCIPAL_FORMAT",
        ("Sid", _) => "UNSUPPORTED_SID",
        ("Condition", _) => "INVALID_CONDITION_KEY_FORMAT",
        _ => "INVALID_POLICY_ELEMENT",
    }
}

/// The path and span of a refusal: the element it names, as far as the
/// document has it.
fn error_location(document: &str, e: &PolicyError) -> (Vec<PathStep>, Span) {
    let whole = || span_of(document, &[]).unwrap_or_default();
    match e {
        PolicyError::Json(_) => {
            let span = serde_json::from_str::<Json>(document)
                .err()
                .map(|err| {
                    let at = text_position(document, err.line(), err.column());
                    Span { start: at, end: at }
                })
                .unwrap_or_default();
            (Vec::new(), span)
        }
        PolicyError::TooLarge { .. } | PolicyError::TooLong { .. } => (Vec::new(), whole()),
        PolicyError::Document { field, fault, .. } => {
            let path = field_path(field);
            if path == [key("Policy")] {
                return (Vec::new(), whole());
            }
            locate(document, path, *fault)
        }
        PolicyError::Statement {
            index,
            field,
            fault,
            ..
        } => {
            let mut path = vec![key("Statement")];
            let array = span_of(document, &path)
                .and_then(|s| document.chars().nth(s.start.offset))
                .is_some_and(|c| c == '[');
            if array {
                path.push(PathStep::Index(*index));
            }
            if field != "Statement" {
                path.push(key(field));
            }
            locate(document, path, *fault)
        }
    }
}

/// The span of `path`: the key for an element that should not be there,
/// the enclosing object for a missing one, else the value.
fn locate(document: &str, mut path: Vec<PathStep>, fault: Fault) -> (Vec<PathStep>, Span) {
    let found = match fault {
        Fault::Unknown | Fault::NotAllowed | Fault::Combination | Fault::Duplicate => {
            key_span(document, &path).or_else(|| span_of(document, &path))
        }
        Fault::Missing => {
            path.pop();
            span_of(document, &path)
        }
        _ => span_of(document, &path),
    };
    match found {
        Some(span) => (path, span),
        None => (Vec::new(), span_of(document, &[]).unwrap_or_default()),
    }
}

/// `Statement[1].Condition` (a duplicate key's place) as path steps.
fn field_path(field: &str) -> Vec<PathStep> {
    let mut out = Vec::new();
    for part in field.split('.') {
        let (name, indexes) = part.split_once('[').unwrap_or((part, ""));
        if !name.is_empty() {
            out.push(key(name));
        }
        for index in indexes.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(PathStep::Index(i));
            }
        }
    }
    out
}

/// serde_json's 1-based line and column as Access Analyzer counts them.
fn text_position(document: &str, line: usize, column: usize) -> TextPosition {
    let mut offset = 0;
    for (i, text) in document.split('\n').enumerate() {
        if i + 1 == line {
            let column = column.saturating_sub(1).min(text.chars().count());
            return TextPosition {
                line,
                column,
                offset: offset + column,
            };
        }
        offset += text.chars().count() + 1;
    }
    TextPosition {
        line: line.max(1),
        column: 0,
        offset: document.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_coverage_is_conservative() {
        assert!(pattern_covers("host:*", "host:login"));
        assert!(pattern_covers("host:*", "host:log*"));
        assert!(pattern_covers("*", "anything*"));
        assert!(!pattern_covers("host:l*", "host:*"));
        assert!(!pattern_covers("host:login", "host:log*"));
        assert!(pattern_covers("host:log?n", "host:login"));
    }

    #[test]
    fn duplicate_key_paths() {
        assert_eq!(
            field_path("Statement[1].Condition"),
            vec![key("Statement"), PathStep::Index(1), key("Condition")]
        );
    }
}
