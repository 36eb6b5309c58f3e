//! IAM identifiers: parse-don't-validate newtypes, ARN builders, unique ids.
//!
//! Every name that enters the system from a user (argv, a JSON document, a
//! PAM user name) goes through one of these types first, so the rest of the
//! crate never sees an invalid name. The rules are AWS's, so names and ARNs
//! from a real AWS account carry over verbatim.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A name or value broke an IAM rule. Names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid {field} {value:?}: {rule}")]
pub struct NameError {
    /// The AWS parameter name (`UserName`, `Path`, `Tags`, …).
    pub field: &'static str,
    /// The offending value, cut to 80 characters.
    pub value: String,
    /// The rule it breaks, in words.
    pub rule: &'static str,
}

impl NameError {
    fn new(field: &'static str, value: &str, rule: &'static str) -> Self {
        Self {
            field,
            value: value.chars().take(80).collect(),
            rule,
        }
    }
}

/// AWS's `[\w+=,.@-]`, with `\w` meaning ASCII word characters.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

fn check_iam_name(
    field: &'static str,
    s: &str,
    max: usize,
    rule: &'static str,
) -> Result<(), NameError> {
    let n = s.chars().count();
    if n == 0 || n > max || !s.chars().all(is_iam_name_char) {
        return Err(NameError::new(field, s, rule));
    }
    Ok(())
}

/// Defines a `String` newtype whose only constructor is a checking parser.
macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// Parses `s`, or says which rule it breaks.
            pub fn parse(s: &str) -> Result<Self, NameError> {
                let check: fn(&str) -> Result<(), NameError> = $check;
                check(s)?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The AWS parameter name this type checks.
            pub const FIELD: &'static str = $field;
        }

        impl FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::parse(&s)
            }
        }

        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.0
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// A 12-digit AWS account id.
    AccountId,
    "AccountId",
    |s| {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(())
        } else {
            Err(NameError::new("AccountId", s, "must be exactly 12 digits"))
        }
    }
);

name_type!(
    /// An IAM user name: `[\w+=,.@-]{1,64}`, unique case-insensitively.
    UserName,
    "UserName",
    |s| check_iam_name("UserName", s, 64, "must match [\\w+=,.@-]{1,64}")
);

name_type!(
    /// An IAM group name: `[\w+=,.@-]{1,128}` (AWS allows 128 for groups).
    GroupName,
    "GroupName",
    |s| check_iam_name("GroupName", s, 128, "must match [\\w+=,.@-]{1,128}")
);

name_type!(
    /// An IAM role name: `[\w+=,.@-]{1,64}`.
    RoleName,
    "RoleName",
    |s| check_iam_name("RoleName", s, 64, "must match [\\w+=,.@-]{1,64}")
);

name_type!(
    /// An instance profile name: `[\w+=,.@-]{1,128}`.
    InstanceProfileName,
    "InstanceProfileName",
    |s| check_iam_name(
        "InstanceProfileName",
        s,
        128,
        "must match [\\w+=,.@-]{1,128}"
    )
);

name_type!(
    /// A managed or inline policy name: `[\w+=,.@-]{1,128}`.
    PolicyName,
    "PolicyName",
    |s| check_iam_name("PolicyName", s, 128, "must match [\\w+=,.@-]{1,128}")
);

name_type!(
    /// A virtual MFA device name: `[\w+=,.@-]{1,226}`.
    MfaDeviceName,
    "VirtualMFADeviceName",
    |s| check_iam_name(
        "VirtualMFADeviceName",
        s,
        226,
        "must match [\\w+=,.@-]{1,226}"
    )
);

name_type!(
    /// A role session name (`sts:RoleSessionName`): `[\w+=,.@-]{2,64}`.
    RoleSessionName,
    "RoleSessionName",
    |s| {
        check_iam_name("RoleSessionName", s, 64, "must match [\\w+=,.@-]{2,64}")?;
        if s.len() < 2 {
            return Err(NameError::new(
                "RoleSessionName",
                s,
                "must match [\\w+=,.@-]{2,64}",
            ));
        }
        Ok(())
    }
);

/// A hostname's characters: DNS letters, digits, `-` and `.` (and `_`,
/// which hostnames in the wild carry). The one rule for host names in
/// ARNs, audit lines and `iam.toml`.
pub fn is_hostname_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')
}

name_type!(
    /// An enrolled host's name: hostname characters, 2–64 of them, so that
    /// it is also the role session name of the host's calls
    /// (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/HOSTNAME`).
    HostName,
    "Hostname",
    |s| {
        let n = s.chars().count();
        if !(2..=64).contains(&n) || !s.chars().all(is_hostname_char) {
            return Err(NameError::new(
                "Hostname",
                s,
                "must be 2-64 letters, digits, '-', '.' or '_'",
            ));
        }
        Ok(())
    }
);

impl HostName {
    /// The role session name the host's calls carry.
    pub fn session_name(&self) -> Result<RoleSessionName, NameError> {
        RoleSessionName::parse(self.as_str())
    }
}

name_type!(
    /// An IAM path: `/` or `/…/`, printable ASCII, at most 512 characters.
    IamPath,
    "Path",
    |s| {
        const RULE: &str = "must be \"/\" or start and end with \"/\", printable ASCII without spaces, at most 512 characters";
        let ok = s.len() <= 512
            && s.starts_with('/')
            && s.ends_with('/')
            && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok { Ok(()) } else { Err(NameError::new("Path", s, RULE)) }
    }
);

impl IamPath {
    /// The default path `/`.
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// True if this path is `prefix` or lies under it (AWS `--path-prefix`).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl Default for IamPath {
    fn default() -> Self {
        Self::root()
    }
}

/// AWS's tag character set: letters, digits, spaces and `_ . : / = + - @`.
fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric()
        || c.is_whitespace()
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

name_type!(
    /// A tag key: 1–128 tag characters, not starting with `aws:`.
    TagKey,
    "TagKey",
    |s| {
        const RULE: &str = "must be 1-128 letters, digits, spaces or _.:/=+-@ and must not start with aws:";
        let n = s.chars().count();
        let reserved = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:"));
        if n == 0 || n > 128 || reserved || !s.chars().all(is_tag_char) {
            return Err(NameError::new("TagKey", s, RULE));
        }
        Ok(())
    }
);

name_type!(
    /// A tag value: 0–256 tag characters.
    TagValue,
    "TagValue",
    |s| {
        if s.chars().count() > 256 || !s.chars().all(is_tag_char) {
            return Err(NameError::new(
                "TagValue",
                s,
                "must be at most 256 letters, digits, spaces or _.:/=+-@",
            ));
        }
        Ok(())
    }
);

/// One IAM tag, with AWS's JSON field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Tag {
    pub key: TagKey,
    pub value: TagValue,
}

/// AWS's limit on tags per user or role.
pub const MAX_TAGS: usize = 50;

/// Checks a whole tag set: at most 50 tags, keys unique case-insensitively
/// (IAM treats `CostCenter` and `costcenter` as one key).
pub fn check_tags(tags: &[Tag]) -> Result<(), NameError> {
    if tags.len() > MAX_TAGS {
        return Err(NameError::new(
            "Tags",
            &format!("{} tags", tags.len()),
            "at most 50 tags per entity",
        ));
    }
    for (i, t) in tags.iter().enumerate() {
        if tags[..i]
            .iter()
            .any(|u| u.key.as_str().eq_ignore_ascii_case(t.key.as_str()))
        {
            return Err(NameError::new(
                "Tags",
                t.key.as_str(),
                "duplicate tag key (keys are case-insensitive)",
            ));
        }
    }
    Ok(())
}

/// Debian's `adduser` rule for login names (`NAME_REGEX`):
/// `^[a-z_][a-z0-9_-]*[$]?$`, at most 32 characters. An IAM user whose name
/// breaks it exists in IAM but cannot log in to a Linux host.
pub fn is_linux_login_name(s: &str) -> bool {
    let body = s.strip_suffix('$').unwrap_or(s);
    let mut chars = body.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    first_ok
        && s.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

// ---- ARNs ----------------------------------------------------------------

/// `arn:aws:iam::ACCT:user/PATH/NAME` (the path's slashes included).
pub fn user_arn(acct: &AccountId, path: &IamPath, name: &UserName) -> String {
    format!("arn:aws:iam::{acct}:user{path}{name}")
}

/// `arn:aws:iam::ACCT:group/PATH/NAME`.
pub fn group_arn(acct: &AccountId, path: &IamPath, name: &GroupName) -> String {
    format!("arn:aws:iam::{acct}:group{path}{name}")
}

/// `arn:aws:iam::ACCT:role/PATH/NAME`.
pub fn role_arn(acct: &AccountId, path: &IamPath, name: &RoleName) -> String {
    format!("arn:aws:iam::{acct}:role{path}{name}")
}

/// `arn:aws:iam::ACCT:instance-profile/PATH/NAME`.
pub fn instance_profile_arn(
    acct: &AccountId,
    path: &IamPath,
    name: &InstanceProfileName,
) -> String {
    format!("arn:aws:iam::{acct}:instance-profile{path}{name}")
}

/// `arn:aws:iam::ACCT:policy/PATH/NAME`.
pub fn policy_arn(acct: &AccountId, path: &IamPath, name: &PolicyName) -> String {
    format!("arn:aws:iam::{acct}:policy{path}{name}")
}

/// The account part of an AWS managed policy's ARN
/// (`arn:aws:iam::aws:policy/ReadOnlyAccess`).
pub const AWS_MANAGED_ACCOUNT: &str = "aws";

/// The ARN of an AWS managed policy, which no account owns: an import keeps
/// it, so the policy stays attachable and exported under it.
pub fn aws_managed_policy_arn(path: &IamPath, name: &PolicyName) -> String {
    format!("arn:aws:iam::{AWS_MANAGED_ACCOUNT}:policy{path}{name}")
}

/// `arn:aws:iam::ACCT:mfa/PATH/NAME`, the serial number of a virtual device.
pub fn mfa_arn(acct: &AccountId, path: &IamPath, name: &MfaDeviceName) -> String {
    format!("arn:aws:iam::{acct}:mfa{path}{name}")
}

/// `arn:aws:iam::ACCT:root`, the account's root user (uid 0 on a host).
pub fn root_arn(acct: &AccountId) -> String {
    format!("arn:aws:iam::{acct}:root")
}

/// `arn:aws:host::ACCT:host/HOSTNAME`, the resource of `host:*` actions.
pub fn host_arn(acct: &AccountId, hostname: &str) -> String {
    format!("arn:aws:host::{acct}:host/{hostname}")
}

/// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`, a role session principal.
pub fn assumed_role_arn(acct: &AccountId, role: &RoleName, session: &RoleSessionName) -> String {
    format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}")
}

/// An IAM resource ARN taken apart: `arn:aws:iam::ACCT:TYPE/PATH/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IamArn {
    /// The account, or `aws` for AWS-managed policies.
    pub account: String,
    /// `user`, `group`, `role`, `policy`, `mfa`.
    pub resource_type: String,
    pub path: IamPath,
    /// The last path segment, unchecked (the caller parses it into its kind).
    pub name: String,
}

impl IamArn {
    /// Splits an `arn:aws:iam::…` ARN; `field` names the parameter in errors.
    pub fn parse(field: &'static str, arn: &str) -> Result<Self, NameError> {
        const RULE: &str = "must be an ARN of the form arn:aws:iam::ACCOUNT:TYPE/PATH/NAME";
        let err = || NameError::new(field, arn, RULE);
        let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(err)?;
        let (account, resource) = rest.split_once(':').ok_or_else(err)?;
        let (resource_type, path_name) = resource.split_once('/').ok_or_else(err)?;
        let (dir, name) = path_name.rsplit_once('/').unwrap_or(("", path_name));
        let path = IamPath::parse(&format!("/{dir}{}", if dir.is_empty() { "" } else { "/" }))
            .map_err(|_| err())?;
        if account.is_empty() || resource_type.is_empty() || name.is_empty() {
            return Err(err());
        }
        Ok(Self {
            account: account.to_owned(),
            resource_type: resource_type.to_owned(),
            path,
            name: name.to_owned(),
        })
    }

    /// The one spelling of this ARN that AWS prints. [`IamArn::parse`] also
    /// reads spellings such as `policy//X`; resolving an entity must accept
    /// only this one, or a Deny on the printed ARN is bypassed by another.
    pub fn canonical(&self) -> String {
        format!(
            "arn:aws:iam::{}:{}{}{}",
            self.account, self.resource_type, self.path, self.name
        )
    }
}

// ---- certificate fingerprints ----------------------------------------------

/// A TLS certificate's SHA-256 fingerprint, written as `openssl x509
/// -fingerprint -sha256` and iam-server print it: 32 uppercase hex pairs
/// joined by colons. What a host pins its server by (`--ca-fingerprint`).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertFingerprint([u8; 32]);

impl CertFingerprint {
    /// The fingerprint of a certificate's DER.
    pub fn of_der(der: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(der).into())
    }

    /// Reads `AB:CD:…` (either case; the colons may be left out).
    pub fn parse(s: &str) -> Result<Self, NameError> {
        const RULE: &str = "must be a SHA-256 fingerprint: 32 hex pairs, e.g. AB:CD:…";
        let hex: String = s.chars().filter(|c| *c != ':').collect();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NameError::new("CaFingerprint", s, RULE));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = hex
                .get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| NameError::new("CaFingerprint", s, RULE))?;
        }
        Ok(Self(out))
    }

    /// Whether `der` is the certificate pinned (compared in constant time).
    pub fn matches(&self, der: &[u8]) -> bool {
        use subtle::ConstantTimeEq as _;
        Self::of_der(der).0.ct_eq(&self.0).into()
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertFingerprint({self})")
    }
}

impl TryFrom<String> for CertFingerprint {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        Self::parse(&s)
    }
}

impl From<CertFingerprint> for String {
    fn from(v: CertFingerprint) -> String {
        v.to_string()
    }
}

// ---- unique ids ----------------------------------------------------------

/// The kind of an IAM unique id, which fixes its AWS prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueIdKind {
    User,
    Group,
    Role,
    Policy,
    /// A long-term access key id (20 characters, as AWS's).
    AccessKey,
    /// The access key id of temporary (STS) credentials.
    SessionKey,
    /// An SSH public key's `SSHPublicKeyId` (20 characters, as AWS's).
    SshPublicKey,
    /// An instance profile's `InstanceProfileId`.
    InstanceProfile,
    /// The access key id of an enrolled host's credential (20 characters).
    /// AWS's `ACCA` prefix ("context-specific credential"): a long-term
    /// key that stands for a role session bound to one host.
    HostKey,
}

impl UniqueIdKind {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::User => "AIDA",
            Self::Group => "AGPA",
            Self::Role => "AROA",
            Self::Policy => "ANPA",
            Self::AccessKey => "AKIA",
            Self::SessionKey => "ASIA",
            Self::SshPublicKey => "APKA",
            Self::InstanceProfile => "AIPA",
            Self::HostKey => "ACCA",
        }
    }

    /// Random characters after the prefix: AWS's unique ids have 21
    /// characters in all, its access key ids 20.
    fn random_len(self) -> usize {
        match self {
            Self::AccessKey | Self::SessionKey | Self::SshPublicKey | Self::HostKey => 16,
            _ => 17,
        }
    }

    /// Whether `id` has the shape of an id of this kind as generated here.
    pub fn matches(self, id: &str) -> bool {
        id.strip_prefix(self.prefix()).is_some_and(|rest| {
            rest.len() == self.random_len() && rest.bytes().all(|b| ID_ALPHABET.contains(&b))
        })
    }
}

/// The base32 alphabet (RFC 4648): uppercase letters and digits 2–7.
const ID_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Random uppercase base32 characters from the OS generator.
pub fn random_base32(n: usize) -> Result<String, getrandom::Error> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ID_ALPHABET[usize::from(b & 31)]))
        .collect())
}

/// A fresh AWS-style unique id: prefix + 17 random base32 characters,
/// e.g. `AIDAJQABLZS4A3QDU576Q` (16 for an access key id: the id is
/// independent of the secret it names).
pub fn new_unique_id(kind: UniqueIdKind) -> Result<String, getrandom::Error> {
    Ok(format!(
        "{}{}",
        kind.prefix(),
        random_base32(kind.random_len())?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_id_is_twelve_digits() {
        assert!(AccountId::parse("123456789012").is_ok());
        for bad in ["", "12345678901", "1234567890123", "12345678901a"] {
            let e = AccountId::parse(bad).unwrap_err();
            assert_eq!(e.field, "AccountId");
        }
    }

    #[test]
    fn iam_names_follow_the_aws_rule() {
        for ok in [
            "bob",
            "Bob.Smith@example.com",
            "a+b=c,d-e_f",
            &"x".repeat(64),
        ] {
            assert!(UserName::parse(ok).is_ok(), "{ok}");
            assert!(RoleName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "bob smith", "bob/x", "bób", &"x".repeat(65), "a:b"] {
            let e = UserName::parse(bad).unwrap_err();
            assert_eq!(e.field, "UserName");
            assert!(e.to_string().contains("[\\w+=,.@-]{1,64}"), "{e}");
        }
        assert!(PolicyName::parse(&"p".repeat(128)).is_ok());
        assert!(PolicyName::parse(&"p".repeat(129)).is_err());
        assert!(GroupName::parse(&"g".repeat(128)).is_ok());
        assert!(RoleSessionName::parse("a").is_err());
        assert!(RoleSessionName::parse("ab").is_ok());
    }

    #[test]
    fn paths() {
        for ok in ["/", "/ops/", "/a/b/c/"] {
            assert!(IamPath::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ops",
            "/ops",
            "ops/",
            "/a b/",
            &format!("/{}/", "x".repeat(511)),
        ] {
            assert!(IamPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(TagKey::parse("Cost Center").is_ok());
        assert!(TagKey::parse("").is_err());
        assert!(TagKey::parse("aws:foo").is_err());
        assert!(TagKey::parse(&"k".repeat(129)).is_err());
        assert!(TagValue::parse("").is_ok());
        assert!(TagValue::parse(&"v".repeat(257)).is_err());
        assert!(TagValue::parse("a;b").is_err());
        let tag = |k: &str| Tag {
            key: TagKey::parse(k).unwrap(),
            value: TagValue::parse("v").unwrap(),
        };
        assert!(check_tags(&[tag("a"), tag("b")]).is_ok());
        assert!(check_tags(&[tag("a"), tag("A")]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"))).collect();
        assert!(check_tags(&many).is_err());
        assert!(check_tags(&many[..50]).is_ok());
    }

    #[test]
    fn tag_json_shape() {
        let t: Tag = serde_json::from_str(r#"{"Key":"env","Value":"prod"}"#).unwrap();
        assert_eq!(t.key.as_str(), "env");
        assert!(serde_json::from_str::<Tag>(r#"{"Key":"aws:x","Value":"p"}"#).is_err());
    }

    #[test]
    fn linux_login_names() {
        for ok in ["bob", "_svc", "a-b_c9", "machine$", &"a".repeat(32)] {
            assert!(is_linux_login_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Bob",
            "9bob",
            "-bob",
            "bob.smith",
            "b@x",
            "$",
            &"a".repeat(33),
            "a$b",
        ] {
            assert!(!is_linux_login_name(bad), "{bad}");
        }
    }

    #[test]
    fn arns() {
        let a = AccountId::parse("123456789012").unwrap();
        let root = IamPath::root();
        let ops = IamPath::parse("/ops/").unwrap();
        let u = UserName::parse("bob").unwrap();
        assert_eq!(
            user_arn(&a, &root, &u),
            "arn:aws:iam::123456789012:user/bob"
        );
        assert_eq!(
            user_arn(&a, &ops, &u),
            "arn:aws:iam::123456789012:user/ops/bob"
        );
        let g = GroupName::parse("devs").unwrap();
        assert_eq!(
            group_arn(&a, &root, &g),
            "arn:aws:iam::123456789012:group/devs"
        );
        let r = RoleName::parse("admin").unwrap();
        assert_eq!(
            role_arn(&a, &root, &r),
            "arn:aws:iam::123456789012:role/admin"
        );
        let p = PolicyName::parse("P").unwrap();
        assert_eq!(
            policy_arn(&a, &ops, &p),
            "arn:aws:iam::123456789012:policy/ops/P"
        );
        let m = MfaDeviceName::parse("bob").unwrap();
        assert_eq!(mfa_arn(&a, &root, &m), "arn:aws:iam::123456789012:mfa/bob");
        assert_eq!(root_arn(&a), "arn:aws:iam::123456789012:root");
        assert_eq!(
            host_arn(&a, "web-1"),
            "arn:aws:host::123456789012:host/web-1"
        );
        let s = RoleSessionName::parse("bob-1").unwrap();
        assert_eq!(
            assumed_role_arn(&a, &r, &s),
            "arn:aws:sts::123456789012:assumed-role/admin/bob-1"
        );
    }

    #[test]
    fn arn_parsing() {
        let a = IamArn::parse("PolicyArn", "arn:aws:iam::123456789012:policy/ops/team/P").unwrap();
        assert_eq!(a.account, "123456789012");
        assert_eq!(a.resource_type, "policy");
        assert_eq!(a.path.as_str(), "/ops/team/");
        assert_eq!(a.name, "P");
        let b = IamArn::parse("PolicyArn", "arn:aws:iam::aws:policy/ReadOnlyAccess").unwrap();
        assert_eq!(b.account, "aws");
        assert_eq!(b.path.as_str(), "/");
        for bad in [
            "",
            "arn:aws:iam::1:policy",
            "arn:aws:s3:::b/k",
            "arn:aws:iam::1:policy/",
        ] {
            assert!(IamArn::parse("PolicyArn", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unique_ids() {
        let id = new_unique_id(UniqueIdKind::User).unwrap();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        assert!(id[4..].bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(id, new_unique_id(UniqueIdKind::User).unwrap());
        assert!(
            new_unique_id(UniqueIdKind::Role)
                .unwrap()
                .starts_with("AROA")
        );
        for kind in [UniqueIdKind::AccessKey, UniqueIdKind::SessionKey] {
            let id = new_unique_id(kind).unwrap();
            assert_eq!(id.len(), 20);
            assert!(kind.matches(&id));
        }
        assert!(UniqueIdKind::AccessKey.matches("AKIAIOSFODNN7EXAMPLE"));
        assert!(!UniqueIdKind::AccessKey.matches("ASIAIOSFODNN7EXAMPLE"));
        assert!(!UniqueIdKind::AccessKey.matches("AKIAIOSFODNN7EXAMPL"));
        assert!(!UniqueIdKind::AccessKey.matches("AKIAiOSFODNN7EXAMPLE"));
    }

    #[test]
    fn a_fingerprint_reads_and_prints_as_openssl_prints_it() {
        let der = b"not really a certificate";
        let fp = CertFingerprint::of_der(der);
        let text = fp.to_string();
        assert_eq!(text.len(), 95);
        assert!(
            text.bytes()
                .all(|b| b == b':' || b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert_eq!(CertFingerprint::parse(&text).unwrap(), fp);
        assert_eq!(CertFingerprint::parse(&text.to_lowercase()).unwrap(), fp);
        assert_eq!(CertFingerprint::parse(&text.replace(':', "")).unwrap(), fp);
        assert!(fp.matches(der));
        assert!(!fp.matches(b"another certificate"));
        for bad in [
            "",
            "AB:CD",
            &text[..94],
            &text.replace('A', "G"),
            &format!("{text}:00"),
        ] {
            let e = CertFingerprint::parse(bad).unwrap_err();
            assert_eq!(e.field, "CaFingerprint", "{bad}");
        }
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn every_aws_shaped_name_parses(s in "[A-Za-z0-9_+=,.@-]{1,64}") {
                prop_assert!(UserName::parse(&s).is_ok());
                prop_assert!(RoleName::parse(&s).is_ok());
                prop_assert!(GroupName::parse(&s).is_ok());
                prop_assert!(PolicyName::parse(&s).is_ok());
            }

            #[test]
            fn accepted_names_match_the_rule(s in "\\PC{0,70}") {
                if let Ok(n) = UserName::parse(&s) {
                    prop_assert!((1..=64).contains(&n.as_str().len()));
                    prop_assert!(n.as_str().chars().all(is_iam_name_char));
                }
                if is_linux_login_name(&s) {
                    prop_assert!(UserName::parse(&s).is_ok() || s.ends_with('$'));
                    prop_assert!(s.len() <= 32);
                    prop_assert!(!s.starts_with('-') && !s.chars().any(|c| c.is_ascii_uppercase()));
                }
            }

            #[test]
            fn debian_login_names_are_linux_names(s in "[a-z_][a-z0-9_-]{0,30}") {
                prop_assert!(is_linux_login_name(&s));
                prop_assert!(UserName::parse(&s).is_ok());
            }

            #[test]
            fn arns_round_trip(
                path in "(/[a-z]{1,5}){0,3}/",
                name in "[A-Za-z0-9_+=,.@-]{1,64}",
            ) {
                let acct = AccountId::parse("123456789012").unwrap();
                let p = IamPath::parse(&path).unwrap();
                let n = PolicyName::parse(&name).unwrap();
                let arn = IamArn::parse("PolicyArn", &policy_arn(&acct, &p, &n)).unwrap();
                prop_assert_eq!(arn.account, "123456789012");
                prop_assert_eq!(arn.resource_type, "policy");
                prop_assert_eq!(arn.path, p);
                prop_assert_eq!(arn.name, name);
            }
        }
    }
}
