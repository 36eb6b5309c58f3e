//! The request context: condition keys and their values.

use std::fmt;
use std::str::FromStr;

use super::hash::fnv_lower;
use super::value::{Parsed, base64_decode, parse_bool, parse_date, parse_net, parse_number};

/// The declared type of a context key, as AWS's `ContextKeyType`. Optional:
/// without it a value is coerced per condition operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextKeyType {
    String,
    StringList,
    Numeric,
    NumericList,
    Boolean,
    BooleanList,
    Ip,
    IpList,
    Binary,
    BinaryList,
    Date,
    DateList,
}

impl ContextKeyType {
    /// The AWS spelling (`string`, `stringList`, …).
    pub fn as_aws_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::StringList => "stringList",
            Self::Numeric => "numeric",
            Self::NumericList => "numericList",
            Self::Boolean => "boolean",
            Self::BooleanList => "booleanList",
            Self::Ip => "ip",
            Self::IpList => "ipList",
            Self::Binary => "binary",
            Self::BinaryList => "binaryList",
            Self::Date => "date",
            Self::DateList => "dateList",
        }
    }

    /// Whether `value` parses as this type.
    fn accepts(self, value: &str) -> bool {
        match self {
            Self::String | Self::StringList => true,
            Self::Numeric | Self::NumericList => parse_number(value).is_some(),
            Self::Boolean | Self::BooleanList => parse_bool(value).is_some(),
            Self::Ip | Self::IpList => parse_net(value).is_some(),
            Self::Binary | Self::BinaryList => base64_decode(value).is_some(),
            Self::Date | Self::DateList => parse_date(value).is_some(),
        }
    }

    /// Whether the key may carry several values.
    pub fn is_list(self) -> bool {
        matches!(
            self,
            Self::StringList
                | Self::NumericList
                | Self::BooleanList
                | Self::IpList
                | Self::BinaryList
                | Self::DateList
        )
    }
}

impl fmt::Display for ContextKeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_aws_str())
    }
}

impl FromStr for ContextKeyType {
    type Err = String;

    /// Accepts AWS's spellings, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [ContextKeyType; 12] = [
            ContextKeyType::String,
            ContextKeyType::StringList,
            ContextKeyType::Numeric,
            ContextKeyType::NumericList,
            ContextKeyType::Boolean,
            ContextKeyType::BooleanList,
            ContextKeyType::Ip,
            ContextKeyType::IpList,
            ContextKeyType::Binary,
            ContextKeyType::BinaryList,
            ContextKeyType::Date,
            ContextKeyType::DateList,
        ];
        ALL.into_iter()
            .find(|t| t.as_aws_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown ContextKeyType {s:?}"))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The key as given (lookups use the lowercased [`Key`]).
    pub(crate) name: String,
    pub(crate) values: Vec<String>,
    /// The declared type, if any; values were checked against it.
    pub(crate) ty: Option<ContextKeyType>,
    /// Each value as a number, date, address or bytes, parsed on first use:
    /// once per request, however many statements test it.
    pub(crate) parsed: Vec<Parsed>,
}

impl Entry {
    fn new(name: &str, values: Vec<String>, ty: Option<ContextKeyType>) -> Self {
        Self {
            name: name.to_owned(),
            parsed: vec![Parsed::default(); values.len()],
            values,
            ty,
        }
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.values == other.values && self.ty == other.ty
    }
}

impl Eq for Entry {}

/// A context key, lowercased and hashed once: policies keep theirs
/// compiled, so a lookup compares a hash and then the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    hash: u64,
    lower: Box<str>,
}

impl Key {
    pub(crate) fn new(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        Self {
            hash: fnv_lower(lower.as_bytes()),
            lower: lower.into_boxed_str(),
        }
    }
}

/// Condition keys of a request. Keys are case-insensitive (`aws:SourceIp` ==
/// `AWS:sourceip`); values are strings, coerced per condition operator.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Few keys per request: a vector scanned by hash beats a map.
    entries: Vec<(Key, Entry)>,
}

impl PartialEq for Context {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .all(|(k, e)| other.entry(k).is_some_and(|o| o == e))
    }
}

impl Eq for Context {}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to the values (replacing any earlier ones).
    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        self.put(Key::new(key), Entry::new(key, values, None));
    }

    /// Sets `key` to one value.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.insert(key, vec![value.into()]);
    }

    /// Sets `key` with a declared type, as `--context-entries` with
    /// `ContextKeyType` does. Values that do not parse as the type are
    /// refused, and a single-valued type takes exactly one value.
    pub fn insert_typed(
        &mut self,
        key: &str,
        values: Vec<String>,
        ty: ContextKeyType,
    ) -> Result<(), String> {
        if let Some(bad) = values.iter().find(|v| !ty.accepts(v)) {
            return Err(format!(
                "context key {key}: {bad:?} is not a valid {ty} value"
            ));
        }
        if !ty.is_list() && values.len() != 1 {
            return Err(format!(
                "context key {key} has type {ty} and takes one value, not {}",
                values.len()
            ));
        }
        self.put(Key::new(key), Entry::new(key, values, Some(ty)));
        Ok(())
    }

    /// The values of `key` (any case), if present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entry(&Key::new(key)).map(|e| e.values.as_slice())
    }

    /// Looks up a compiled key (policies keep theirs compiled, so a decision
    /// neither allocates nor hashes).
    pub(crate) fn entry(&self, key: &Key) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|(k, _)| k.hash == key.hash && k.lower == key.lower)
            .map(|(_, e)| e)
    }

    fn put(&mut self, key: Key, entry: Entry) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, e)) => *e = entry,
            None => self.entries.push((key, entry)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
