//! ARN patterns (Resource, `Arn*` operators) and principals.

use super::context::Context;
use super::wildcard::{Template, VarError};

/// Splits `s` at its first five colons that are outside `${…}`, the way an
/// ARN's `arn:partition:service:region:account:resource` splits.
fn split_arn(s: &str) -> Option<[&str; 6]> {
    let mut parts = [""; 6];
    let mut start = 0;
    let mut n = 0;
    let mut depth = 0u32;
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() && n < 5 {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => {
                parts[n] = &s[start..i];
                n += 1;
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if n < 5 {
        return None;
    }
    parts[5] = &s[start..];
    Some(parts)
}

/// Splits a concrete ARN (no variables) into its six parts. A plain byte
/// scan: this runs for every decision.
pub(crate) fn split_concrete(s: &str) -> Option<[&str; 6]> {
    if !s.starts_with("arn:") {
        return None;
    }
    let mut parts = [""; 6];
    let (mut n, mut start) = (0, 0);
    for (i, b) in s.bytes().enumerate() {
        if b == b':' {
            parts[n] = &s[start..i];
            n += 1;
            start = i + 1;
            if n == 5 {
                parts[5] = &s[start..];
                return Some(parts);
            }
        }
    }
    None
}

/// A resource pattern: `*`, or an ARN whose six parts are matched one by
/// one, each with `*`/`?` wildcards (case-sensitive). A `*` in the region
/// or account part stays inside that part; in the resource part it spans
/// `/` and `:`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArnPattern {
    Any,
    /// The six parts; `head` is `arn:partition:service:region:account:`
    /// when those five parts are plain text, compared in one go.
    Parts {
        parts: Box<[Template; 6]>,
        head: Option<Box<[u8]>>,
    },
    /// A value that is not ARN-shaped (only in `Arn*` conditions): matched
    /// as a whole.
    Whole(Template),
}

impl ArnPattern {
    /// Compiles a Resource element entry; AWS requires `*` or an ARN.
    pub(crate) fn resource(text: &str, vars: bool) -> Result<Self, VarError> {
        if text == "*" {
            return Ok(Self::Any);
        }
        match split_arn(text) {
            Some(parts) if parts[0] == "arn" => Self::from_parts(parts, vars, true),
            _ => Err(format!("Resource {text} must be in ARN format or \"*\"")),
        }
    }

    /// Compiles an `Arn*` condition value; non-ARN values match as a whole.
    pub(crate) fn condition(text: &str, vars: bool) -> Result<Self, VarError> {
        match split_arn(text) {
            Some(parts) if parts[0] == "arn" => Self::from_parts(parts, vars, false),
            _ if text == "*" => Ok(Self::Any),
            _ => Ok(Self::Whole(Template::new(text, true, vars, false)?)),
        }
    }

    /// `resource_only`: policy variables are substituted only in the
    /// resource part, after the fifth colon; before it (service, region,
    /// account) `${…}` is literal text, as AWS documents for the Resource
    /// element (IAM User Guide, "Where you can use policy variables").
    fn from_parts(parts: [&str; 6], vars: bool, resource_only: bool) -> Result<Self, VarError> {
        let head_vars = vars && !resource_only;
        let t = |s: &str, vars: bool| Template::new(s, true, vars, false);
        let parts = Box::new([
            t(parts[0], head_vars)?,
            t(parts[1], head_vars)?,
            t(parts[2], head_vars)?,
            t(parts[3], head_vars)?,
            t(parts[4], head_vars)?,
            t(parts[5], vars)?,
        ]);
        let head = parts[..5]
            .iter()
            .map(Template::exact)
            .collect::<Option<Vec<&[u8]>>>()
            .map(|exact| {
                let mut head = Vec::new();
                for part in exact {
                    head.extend_from_slice(part);
                    head.push(b':');
                }
                head.into_boxed_slice()
            });
        Ok(Self::Parts { parts, head })
    }

    pub(crate) fn matches(&self, arn: &str, ctx: &Context) -> bool {
        self.matches_split(arn, split_concrete(arn).as_ref(), ctx)
    }

    /// Like [`ArnPattern::matches`] with the ARN already split (a decision
    /// splits the request's resource once for all statements).
    pub(crate) fn matches_split(
        &self,
        arn: &str,
        parts: Option<&[&str; 6]>,
        ctx: &Context,
    ) -> bool {
        match self {
            Self::Any => true,
            Self::Whole(t) => t.matches(arn, ctx),
            // The resource part first: it is where patterns differ most.
            Self::Parts { parts: pat, head } => match parts {
                Some(parts) => {
                    pat[5].matches(parts[5], ctx)
                        && match head {
                            Some(head) => arn.as_bytes()[..arn.len() - parts[5].len()] == **head,
                            None => (0..5).all(|i| pat[i].matches(parts[i], ctx)),
                        }
                }
                None => false,
            },
        }
    }
}

/// What a user or role ARN in a stored policy stands for, as the store
/// bound it when the policy was saved ([`crate::Policy::bind_principals`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalBinding {
    /// The principal with this unique ID (`AIDA…` for a user, `AROA…` for
    /// a role).
    UniqueId(String),
    /// No principal: the ARN names a user or role the store holds no
    /// binding for, which therefore matches nobody.
    Nobody,
}

/// One entry of a Principal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, including anonymous callers.
    Any,
    /// `"123456789012"` or `arn:aws:iam::123456789012:root`: the account,
    /// which delegates to the account's identity policies.
    Account(String),
    /// `arn:aws:iam::ACCOUNT:role/PATH/NAME`: the role and its sessions.
    Role {
        arn: String,
        account: String,
        name: String,
    },
    /// Any other principal, matched exactly: a user, a role session, a
    /// service (`ec2.amazonaws.com`), a federated or canonical user.
    Exact(String),
    /// A user or role ARN that the store bound, when the policy was saved,
    /// to the unique ID (`AIDA…`, `AROA…`) of the principal it named, as
    /// AWS binds them: it matches the holder of that ID (and, for a role,
    /// its sessions) through `aws:userid`, whatever its name is now, and
    /// never a namesake created later. `id: None`: the store holds no
    /// binding for it, so it matches nobody.
    Bound { id: Option<String>, role: bool },
}

/// How a caller matched a Principal element; it decides whether a
/// resource-based allow suffices on its own (see `eval.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PrincipalMatch {
    No,
    /// Through its account: needs the identity policies too.
    Account,
    /// A role session through its role's ARN: bounded by the boundary.
    Role,
    /// The caller itself (or `*`).
    Direct,
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl PrincipalEntry {
    /// Parses one `AWS` principal value.
    pub(crate) fn aws(value: &str) -> Result<Self, String> {
        if value == "*" {
            return Ok(Self::Any);
        }
        if is_account_id(value) {
            return Ok(Self::Account(value.to_owned()));
        }
        let invalid = || format!("Invalid principal in policy: \"AWS\":\"{value}\"");
        let parts = split_concrete(value).ok_or_else(invalid)?;
        if value.contains(['*', '?']) || parts[1].is_empty() || parts[2].is_empty() {
            return Err(invalid());
        }
        let account = parts[4];
        // The kinds AWS lets a policy name (IAM User Guide, "AWS JSON policy
        // elements: Principal"): an account, a user, a role, a role
        // session, a federated user session. A group, a policy or an
        // instance profile is not a principal.
        let resource = parts[5];
        let known = match parts[2] {
            "iam" => {
                resource == "root"
                    || ["user/", "role/"]
                        .iter()
                        .any(|p| resource.strip_prefix(p).is_some_and(|n| !n.is_empty()))
            }
            "sts" => {
                resource
                    .strip_prefix("assumed-role/")
                    .and_then(|r| r.split_once('/'))
                    .is_some_and(|(role, session)| !role.is_empty() && !session.is_empty())
                    || resource
                        .strip_prefix("federated-user/")
                        .is_some_and(|n| !n.is_empty())
            }
            _ => false,
        };
        if !known || !is_account_id(account) {
            return Err(format!(
                "{}: a principal is an account, user, role, assumed-role session or federated user, not {value:?}",
                invalid()
            ));
        }
        if parts[2] == "iam" && parts[5] == "root" {
            return if is_account_id(account) {
                Ok(Self::Account(account.to_owned()))
            } else {
                Err(invalid())
            };
        }
        if parts[2] == "iam"
            && let Some(path_name) = parts[5].strip_prefix("role/")
        {
            let name = path_name.rsplit('/').next().unwrap_or(path_name);
            return Ok(Self::Role {
                arn: value.to_owned(),
                account: account.to_owned(),
                name: name.to_owned(),
            });
        }
        Ok(Self::Exact(value.to_owned()))
    }

    fn matches(&self, caller: &Caller<'_>) -> PrincipalMatch {
        match self {
            Self::Any => PrincipalMatch::Direct,
            Self::Account(acct) => match caller.account {
                Some(a) if a == acct && caller.kind == CallerKind::Root => PrincipalMatch::Direct,
                Some(a) if a == acct => PrincipalMatch::Account,
                _ => PrincipalMatch::No,
            },
            Self::Role { arn, account, name } => {
                if caller.arn == arn {
                    PrincipalMatch::Direct
                } else if caller.account == Some(account.as_str())
                    && caller.kind == (CallerKind::Session { role: name })
                {
                    PrincipalMatch::Role
                } else {
                    PrincipalMatch::No
                }
            }
            Self::Exact(s) if s == caller.arn => PrincipalMatch::Direct,
            Self::Exact(_) => PrincipalMatch::No,
            Self::Bound { id: Some(id), role } => match (caller.userid, caller.kind) {
                // `aws:userid` of a role session is `AROA…:SESSION`.
                (Some(userid), CallerKind::Session { .. }) if *role => userid
                    .strip_prefix(id.as_str())
                    .filter(|rest| rest.starts_with(':'))
                    .map_or(PrincipalMatch::No, |_| PrincipalMatch::Role),
                (Some(userid), CallerKind::User) if !role && userid == id => PrincipalMatch::Direct,
                _ => PrincipalMatch::No,
            },
            Self::Bound { id: None, .. } => PrincipalMatch::No,
        }
    }

    /// Binds a user or role ARN entry with `bind` (see [`Self::Bound`]);
    /// any other entry, or one `bind` leaves alone, stays as it is.
    pub(crate) fn bind(&mut self, bind: &impl Fn(&str) -> Option<PrincipalBinding>) {
        let (arn, role) = match self {
            Self::Role { arn, .. } => (arn.as_str(), true),
            Self::Exact(arn) => (arn.as_str(), false),
            _ => return,
        };
        let id = match bind(arn) {
            None => return,
            Some(PrincipalBinding::UniqueId(id)) => Some(id),
            Some(PrincipalBinding::Nobody) => None,
        };
        *self = Self::Bound { id, role };
    }

    /// Whether this entry names exactly `identity`, one link of the caller's
    /// chain (for NotPrincipal).
    fn names(&self, identity: &Identity<'_>) -> bool {
        match (self, identity) {
            (Self::Any, _) => true,
            (Self::Account(a), Identity::Account(b)) => a == b,
            (
                Self::Role { account, name, .. },
                Identity::Role {
                    account: a,
                    name: n,
                },
            ) => account == a && name == n,
            (Self::Role { arn, .. }, Identity::Arn(s)) => arn == s,
            (Self::Exact(e), Identity::Arn(s)) => e == s,
            _ => false,
        }
    }
}

/// A Principal or NotPrincipal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalSpec {
    pub(crate) negated: bool,
    pub(crate) entries: Vec<PrincipalEntry>,
}

impl PrincipalSpec {
    /// How the caller matches. For `NotPrincipal`, AWS checks every identity
    /// in the caller's chain (account, role, session or user): the statement
    /// skips the caller only when all of them are listed.
    pub(crate) fn matches(&self, caller: &Caller<'_>) -> PrincipalMatch {
        if !self.negated {
            return self
                .entries
                .iter()
                .map(|e| e.matches(caller))
                .max()
                .unwrap_or(PrincipalMatch::No);
        }
        let listed = |id: &Identity<'_>| self.entries.iter().any(|e| e.names(id));
        let all_listed = caller.chain().iter().flatten().all(listed);
        if all_listed {
            PrincipalMatch::No
        } else {
            PrincipalMatch::Direct
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerKind<'a> {
    Root,
    User,
    Session { role: &'a str },
    Other,
}

/// The request's principal, taken apart once per decision.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub(crate) arn: &'a str,
    pub(crate) account: Option<&'a str>,
    pub(crate) kind: CallerKind<'a>,
    /// `aws:userid` of the request (the canonical identity bound entries
    /// match), when it has exactly one value.
    pub(crate) userid: Option<&'a str>,
}

enum Identity<'a> {
    Account(&'a str),
    Role { account: &'a str, name: &'a str },
    Arn(&'a str),
}

impl<'a> Caller<'a> {
    pub(crate) fn parse(arn: &'a str) -> Self {
        let Some(parts) = split_concrete(arn) else {
            return Self {
                arn,
                account: None,
                kind: CallerKind::Other,
                userid: None,
            };
        };
        let account = Some(parts[4]).filter(|a| !a.is_empty());
        let kind = match (parts[2], parts[5]) {
            ("iam", "root") => CallerKind::Root,
            ("iam", r) if r.starts_with("user/") => CallerKind::User,
            ("sts", r) if r.starts_with("assumed-role/") => {
                let mut it = r.split('/');
                match (it.next(), it.next()) {
                    (_, Some(role)) => CallerKind::Session { role },
                    _ => CallerKind::Other,
                }
            }
            _ => CallerKind::Other,
        };
        Self {
            arn,
            account,
            kind,
            userid: None,
        }
    }

    /// The identities AWS evaluates a NotPrincipal against.
    fn chain(&self) -> [Option<Identity<'a>>; 3] {
        let account = self.account.map(Identity::Account);
        match (self.kind, self.account) {
            (CallerKind::Root, _) => [account, None, None],
            (CallerKind::Session { role }, Some(a)) => [
                account,
                Some(Identity::Role {
                    account: a,
                    name: role,
                }),
                Some(Identity::Arn(self.arn)),
            ],
            _ => [account, Some(Identity::Arn(self.arn)), None],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn_like(pattern: &str, arn: &str) -> bool {
        ArnPattern::condition(pattern, false)
            .unwrap()
            .matches(arn, &Context::new())
    }

    #[test]
    fn resource_segments() {
        let ctx = Context::new();
        let p = ArnPattern::resource("arn:aws:s3:::bucket/*", false).unwrap();
        assert!(p.matches("arn:aws:s3:::bucket/a/b:c", &ctx));
        assert!(!p.matches("arn:aws:s3:::bucket2/a", &ctx));
        let p = ArnPattern::resource("arn:aws:ec2:*:123456789012:instance/*", false).unwrap();
        assert!(p.matches("arn:aws:ec2:us-east-1:123456789012:instance/i-1", &ctx));
        assert!(!p.matches("arn:aws:ec2:us-east-1:999999999999:instance/i-1", &ctx));
        // A region wildcard does not swallow the account part.
        let p = ArnPattern::resource("arn:aws:ec2:*:instance/*", false);
        assert!(p.is_err());
        assert!(ArnPattern::resource("bucket", false).is_err());
        assert!(arn_like(
            "arn:aws:iam::*:role/*",
            "arn:aws:iam::123456789012:role/a/b"
        ));
    }

    #[test]
    fn principals() {
        let user = Caller::parse("arn:aws:iam::123456789012:user/bob");
        let session = Caller::parse("arn:aws:sts::123456789012:assumed-role/admin/bob");
        let acct = PrincipalEntry::aws("123456789012").unwrap();
        assert_eq!(acct.matches(&user), PrincipalMatch::Account);
        let role = PrincipalEntry::aws("arn:aws:iam::123456789012:role/ops/admin").unwrap();
        assert_eq!(role.matches(&session), PrincipalMatch::Role);
        assert_eq!(role.matches(&user), PrincipalMatch::No);
        assert!(PrincipalEntry::aws("arn:aws:iam::123456789012:user/*").is_err());
        assert!(PrincipalEntry::aws("bob").is_err());
    }

    /// A bound user or role entry matches the holder of its unique ID
    /// (`aws:userid`), never the ARN's current name holder.
    #[test]
    fn bound_principals_match_the_unique_id() {
        let bind = |arn: &str| match arn {
            "arn:aws:iam::123456789012:user/bob" => {
                Some(PrincipalBinding::UniqueId("AIDABOB".into()))
            }
            "arn:aws:iam::123456789012:role/admin" => {
                Some(PrincipalBinding::UniqueId("AROAADMIN".into()))
            }
            "arn:aws:iam::123456789012:user/gone" => Some(PrincipalBinding::Nobody),
            _ => None,
        };
        let entry = |arn: &str| {
            let mut e = PrincipalEntry::aws(arn).unwrap();
            e.bind(&bind);
            e
        };
        let caller = |arn, userid| Caller {
            userid: Some(userid),
            ..Caller::parse(arn)
        };
        let bob = entry("arn:aws:iam::123456789012:user/bob");
        let bob_now = caller("arn:aws:iam::123456789012:user/bob", "AIDABOB");
        let namesake = caller("arn:aws:iam::123456789012:user/bob", "AIDANEW");
        let renamed = caller("arn:aws:iam::123456789012:user/robert", "AIDABOB");
        assert_eq!(bob.matches(&bob_now), PrincipalMatch::Direct);
        assert_eq!(bob.matches(&renamed), PrincipalMatch::Direct);
        assert_eq!(bob.matches(&namesake), PrincipalMatch::No);
        let admin = entry("arn:aws:iam::123456789012:role/admin");
        let session = "arn:aws:sts::123456789012:assumed-role/admin/s";
        assert_eq!(
            admin.matches(&caller(session, "AROAADMIN:s")),
            PrincipalMatch::Role
        );
        assert_eq!(
            admin.matches(&caller(session, "AROANEW:s")),
            PrincipalMatch::No
        );
        // A user whose id merely starts like the role's is not its session.
        assert_eq!(
            admin.matches(&caller("arn:aws:iam::123456789012:user/x", "AROAADMIN")),
            PrincipalMatch::No
        );
        let gone = entry("arn:aws:iam::123456789012:user/gone");
        assert_eq!(
            gone.matches(&caller("arn:aws:iam::123456789012:user/gone", "AIDAGONE")),
            PrincipalMatch::No
        );
        assert_eq!(
            entry("123456789012").matches(&bob_now),
            PrincipalMatch::Account
        );
    }
}
