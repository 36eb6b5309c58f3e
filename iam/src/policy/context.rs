//! The request context: condition keys and their values.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

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
        use super::condition::{base64_decode, parse_bool, parse_date, parse_net, parse_number};
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The key as first given, for messages such as MissingContextValues.
    pub(crate) name: String,
    pub(crate) values: Vec<String>,
    pub(crate) ty: Option<ContextKeyType>,
}

/// Condition keys of a request. Keys are case-insensitive (`aws:SourceIp` ==
/// `AWS:sourceip`); values are strings, coerced per condition operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: HashMap<String, Entry>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to the values (replacing any earlier ones).
    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        self.entries.insert(
            key.to_ascii_lowercase(),
            Entry {
                name: key.to_owned(),
                values,
                ty: None,
            },
        );
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
        self.entries.insert(
            key.to_ascii_lowercase(),
            Entry {
                name: key.to_owned(),
                values,
                ty: Some(ty),
            },
        );
        Ok(())
    }

    /// The values of `key` (any case), if present.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.entry(&key.to_ascii_lowercase())
            .map(|e| e.values.as_slice())
    }

    /// Looks up an already lowercased key (the compiled policies keep theirs
    /// lowercased so a decision does not allocate).
    pub(crate) fn entry(&self, lower_key: &str) -> Option<&Entry> {
        self.entries.get(lower_key)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
