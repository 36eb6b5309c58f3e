//! The Condition element: operators, `IfExists`, `ForAllValues:` /
//! `ForAnyValue:`, and value coercion per operator.
//!
//! Semantics follow the IAM User Guide, "IAM JSON policy elements: Condition
//! operators" and "Set operators for multivalued context keys":
//! - a key absent from the request makes a condition false, except that
//!   negated operators (`StringNotEquals`, `NotIpAddress`, `ArnNotLike`, …)
//!   are true, `…IfExists` is true, and `Null` tests presence;
//! - several values for one key are ORed; several keys and several operators
//!   are ANDed;
//! - `ForAllValues:` is true when every request value matches some policy
//!   value, and also when the key is absent or empty; `ForAnyValue:` is true
//!   when at least one does, and false when the key is absent or empty.

use super::arn::ArnPattern;
use super::context::{Context, Key};
use super::document::Fault;
use super::value::{Parsed, base64_decode, parse_bool, parse_date, parse_net, parse_number};
use super::wildcard::Template;
use chrono::{DateTime, Utc};
use ipnet::IpNet;
use serde_json::Value as Json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Self::Eq => ord == Equal,
            Self::Lt => ord == Less,
            Self::Le => ord != Greater,
            Self::Gt => ord == Greater,
            Self::Ge => ord != Less,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Str { fold: bool, like: bool },
    Num(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQual {
    Single,
    ForAll,
    ForAny,
}

/// Operator names, as AWS spells them (case-sensitive: AWS's validator
/// refuses `stringequals`), to their base comparison and negation.
const OPERATORS: &[(&str, Base, bool)] = &[
    (
        "StringEquals",
        Base::Str {
            fold: false,
            like: false,
        },
        false,
    ),
    (
        "StringNotEquals",
        Base::Str {
            fold: false,
            like: false,
        },
        true,
    ),
    (
        "StringEqualsIgnoreCase",
        Base::Str {
            fold: true,
            like: false,
        },
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Base::Str {
            fold: true,
            like: false,
        },
        true,
    ),
    (
        "StringLike",
        Base::Str {
            fold: false,
            like: true,
        },
        false,
    ),
    (
        "StringNotLike",
        Base::Str {
            fold: false,
            like: true,
        },
        true,
    ),
    ("NumericEquals", Base::Num(Cmp::Eq), false),
    ("NumericNotEquals", Base::Num(Cmp::Eq), true),
    ("NumericLessThan", Base::Num(Cmp::Lt), false),
    ("NumericLessThanEquals", Base::Num(Cmp::Le), false),
    ("NumericGreaterThan", Base::Num(Cmp::Gt), false),
    ("NumericGreaterThanEquals", Base::Num(Cmp::Ge), false),
    ("DateEquals", Base::Date(Cmp::Eq), false),
    ("DateNotEquals", Base::Date(Cmp::Eq), true),
    ("DateLessThan", Base::Date(Cmp::Lt), false),
    ("DateLessThanEquals", Base::Date(Cmp::Le), false),
    ("DateGreaterThan", Base::Date(Cmp::Gt), false),
    ("DateGreaterThanEquals", Base::Date(Cmp::Ge), false),
    ("Bool", Base::Bool, false),
    ("BinaryEquals", Base::Binary, false),
    ("IpAddress", Base::Ip, false),
    ("NotIpAddress", Base::Ip, true),
    ("ArnEquals", Base::Arn, false),
    ("ArnLike", Base::Arn, false),
    ("ArnNotEquals", Base::Arn, true),
    ("ArnNotLike", Base::Arn, true),
    ("Null", Base::Null, false),
];

/// A policy value, parsed for its operator at policy load time.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(Template),
    Num(f64),
    Date(DateTime<Utc>),
    Bool(bool),
    Bin(Vec<u8>),
    Net(IpNet),
    Arn(ArnPattern),
    /// A typed operator's value holding `${…}`: literal text that is not
    /// of the operator's type, so it matches nothing.
    Literal,
}

/// One operator applied to one key, with its values (ORed).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    base: Base,
    negated: bool,
    set: SetQual,
    if_exists: bool,
    /// The key as written, for MissingContextValues.
    pub(crate) key: Box<str>,
    /// Compiled for lookup: context keys are case-insensitive.
    pub(crate) lookup: Key,
    values: Vec<Val>,
    /// The values as written, for [`Condition::witness`].
    texts: Vec<Box<str>>,
}

/// Parses a whole Condition element. `vars`: policy variables are live
/// (Version 2012-10-17). Errors are messages; the caller names the
/// statement.
pub(crate) fn parse_block(block: &Json, vars: bool) -> Result<Vec<Condition>, (Fault, String)> {
    let ops = block.as_object().ok_or((
        Fault::Mistyped,
        "Condition must be an object of operators".to_owned(),
    ))?;
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (base, negated, set, if_exists) =
            parse_operator(op_name).map_err(|m| (Fault::Operator, m))?;
        let keys = keys.as_object().ok_or_else(|| {
            (
                Fault::Mistyped,
                format!("operator {op_name} must map condition keys to values"),
            )
        })?;
        for (key, values) in keys {
            if key.is_empty() {
                return Err((
                    Fault::Invalid,
                    format!("operator {op_name} has an empty condition key"),
                ));
            }
            let raw: Vec<&Json> = match values {
                Json::Array(items) => items.iter().collect(),
                v => vec![v],
            };
            let mut parsed = Vec::with_capacity(raw.len());
            let mut texts = Vec::with_capacity(raw.len());
            for v in raw {
                let text = match v {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    Json::Bool(b) => b.to_string(),
                    _ => {
                        return Err((
                            Fault::Mistyped,
                            format!(
                                "{op_name} {key}: condition values must be strings, numbers or booleans"
                            ),
                        ));
                    }
                };
                // String and ARN values fail only on a malformed variable.
                let fault = match base {
                    Base::Str { .. } | Base::Arn => Fault::Variable,
                    _ => Fault::ValueType,
                };
                parsed.push(
                    parse_value(base, &text, vars)
                        .map_err(|e| (fault, format!("{op_name} {key}: {e}")))?,
                );
                texts.push(text.into_boxed_str());
            }
            out.push(Condition {
                base,
                negated,
                set,
                if_exists,
                key: key.as_str().into(),
                lookup: Key::new(key),
                values: parsed,
                texts,
            });
        }
    }
    Ok(out)
}

fn parse_operator(name: &str) -> Result<(Base, bool, SetQual, bool), String> {
    let unknown =
        || format!("unknown condition operator {name:?} (operator names are case-sensitive)");
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAllValues:") {
        (SetQual::ForAll, r)
    } else if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (SetQual::ForAny, r)
    } else {
        (SetQual::Single, name)
    };
    let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    let &(_, base, negated) = OPERATORS
        .iter()
        .find(|(n, _, _)| *n == base_name)
        .ok_or_else(unknown)?;
    if base == Base::Null && (if_exists || set != SetQual::Single) {
        return Err(unknown());
    }
    Ok((base, negated, set, if_exists))
}

fn parse_value(base: Base, text: &str, vars: bool) -> Result<Val, String> {
    match base {
        Base::Str { fold, like } => Ok(Val::Str(Template::new(text, like, vars, fold)?)),
        Base::Arn => Ok(Val::Arn(ArnPattern::condition(text, vars)?)),
        // AWS substitutes policy variables only in String and ARN
        // operators; elsewhere `${…}` is literal text, which no number,
        // date, address, boolean or base64 value equals.
        _ if text.contains("${") => Ok(Val::Literal),
        Base::Num(_) => parse_number(text)
            .map(Val::Num)
            .ok_or_else(|| format!("{text:?} is not a number")),
        Base::Date(_) => parse_date(text)
            .map(Val::Date)
            .ok_or_else(|| format!("{text:?} is not an ISO 8601 date or epoch time")),
        Base::Bool | Base::Null => parse_bool(text)
            .map(Val::Bool)
            .ok_or_else(|| format!("{text:?} is not true or false")),
        Base::Binary => base64_decode(text)
            .map(Val::Bin)
            .ok_or_else(|| format!("{text:?} is not base64")),
        Base::Ip => parse_net(text)
            .map(Val::Net)
            .ok_or_else(|| format!("{text:?} is not an IP address or CIDR block")),
    }
}

/// A request value coerced for the operator once, then compared with every
/// policy value.
enum Coerced<'a> {
    Str(&'a str),
    Num(f64),
    Date(DateTime<Utc>),
    Bool(bool),
    Bin(&'a [u8]),
    Ip(IpNet),
    None,
}

impl Condition {
    /// Whether this condition tests context key `key` (case-insensitive,
    /// as context keys are).
    pub(crate) fn tests_key(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    /// `ForAllValues:`, which also holds when the key is absent.
    pub(crate) fn is_for_all_values(&self) -> bool {
        self.set == SetQual::ForAll
    }

    /// Decides this condition against the request context.
    pub(crate) fn holds(&self, ctx: &Context) -> bool {
        // `Null` and the set operators take a key whose values are all
        // empty strings for a null data set (IAM User Guide, "Conditions
        // with multiple context keys or values": ForAllValues "also returns
        // true if … the key values resolve to a null data set, such as an
        // empty string"); a plain operator compares an empty string.
        let by_value = self.base == Base::Null || self.set != SetQual::Single;
        let counts = |v: &&String| !by_value || !v.is_empty();
        let entry = ctx
            .entry(&self.lookup)
            .filter(|e| e.values.iter().any(|v| counts(&v)));
        if self.base == Base::Null {
            // {"Null": {"k": "true"}}: the key is absent.
            return self
                .values
                .iter()
                .any(|v| matches!(v, Val::Bool(b) if *b == entry.is_none()));
        }
        let Some(entry) = entry else {
            if self.if_exists {
                return true;
            }
            return match self.set {
                SetQual::ForAll => true,
                SetQual::ForAny => false,
                SetQual::Single => self.negated,
            };
        };
        let mut values = entry
            .values
            .iter()
            .zip(&entry.parsed)
            .filter(|(v, _)| counts(v));
        let mut sat =
            |(v, p): (&String, &Parsed)| self.any_value_matches(v, p, ctx) != self.negated;
        match self.set {
            SetQual::ForAll => values.all(sat),
            SetQual::ForAny => values.any(sat),
            // A negated operator over several request values: none of them
            // may match; a positive one: any of them may.
            SetQual::Single if self.negated => values.all(&mut sat),
            SetQual::Single => values.any(sat),
        }
    }

    /// For a request that lacks this condition's key: how to make the
    /// condition come out `want`. `Some(None)`: leave the key absent;
    /// `Some(Some(v))`: give it `v`, derived from the policy's own values
    /// (a value on the right side of a number or date comparison, the
    /// network address of a CIDR block, a pattern with its wildcards
    /// filled); `None`: no such value is derived here (policy variables, a
    /// value that must differ from every listed one).
    pub(crate) fn witness(&self, want: bool) -> Option<Option<String>> {
        if self.base == Base::Null {
            // `{"Null": {k: "true"}}` holds when k is absent.
            let holds = |absent: bool| {
                self.values
                    .iter()
                    .any(|v| matches!(v, Val::Bool(b) if *b == absent))
            };
            return if holds(true) == want {
                Some(None)
            } else if holds(false) == want {
                Some(Some("true".to_owned()))
            } else {
                None
            };
        }
        let absent = if self.if_exists {
            true
        } else {
            match self.set {
                SetQual::ForAll => true,
                SetQual::ForAny => false,
                SetQual::Single => self.negated,
            }
        };
        if absent == want {
            return Some(None);
        }
        // One present value holds exactly when it matches the positive
        // operator, unless negated.
        if want == self.negated {
            return None;
        }
        self.values
            .iter()
            .zip(&self.texts)
            .find_map(|(v, text)| self.matching_value(v, text))
            .map(Some)
    }

    /// A request value that matches policy value `v` (written as `text`)
    /// under the positive operator.
    fn matching_value(&self, v: &Val, text: &str) -> Option<String> {
        let date = |d: DateTime<Utc>| d.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let step = |cmp: Cmp| match cmp {
            Cmp::Lt => -1,
            Cmp::Gt => 1,
            Cmp::Eq | Cmp::Le | Cmp::Ge => 0,
        };
        match (self.base, v) {
            (_, Val::Str(_) | Val::Arn(_)) if text.contains("${") => None,
            (_, Val::Str(_) | Val::Arn(_)) => Some(text.replace('*', "").replace('?', "x")),
            (Base::Num(cmp), Val::Num(n)) => {
                let n = n + f64::from(step(cmp));
                Some(if n.fract() == 0.0 && n.abs() < 1e15 {
                    format!("{}", n as i64)
                } else {
                    n.to_string()
                })
            }
            (Base::Date(cmp), Val::Date(d)) => {
                Some(date(*d + chrono::TimeDelta::seconds(step(cmp).into())))
            }
            (_, Val::Bool(b)) => Some(b.to_string()),
            (_, Val::Bin(_)) => Some(text.to_owned()),
            (_, Val::Net(net)) => Some(net.network().to_string()),
            _ => None,
        }
    }

    /// The request value coerced for this operator, parsed at most once per
    /// request (cached in the context).
    fn coerce<'a>(&self, v: &'a str, p: &'a Parsed) -> Coerced<'a> {
        let c = match self.base {
            Base::Str { .. } | Base::Arn | Base::Null => Some(Coerced::Str(v)),
            Base::Num(_) => p.number(v).map(Coerced::Num),
            Base::Date(_) => p.date(v).map(Coerced::Date),
            Base::Bool => parse_bool(v).map(Coerced::Bool),
            Base::Binary => p.bytes(v).map(Coerced::Bin),
            Base::Ip => p.net(v).map(Coerced::Ip),
        };
        c.unwrap_or(Coerced::None)
    }

    /// Whether request value `v` matches at least one policy value under the
    /// positive form of the operator.
    fn any_value_matches(&self, v: &str, p: &Parsed, ctx: &Context) -> bool {
        let c = self.coerce(v, p);
        if matches!(c, Coerced::None) {
            return false;
        }
        self.values.iter().any(|pv| self.compare(&c, pv, ctx))
    }

    fn compare(&self, c: &Coerced<'_>, pv: &Val, ctx: &Context) -> bool {
        match (self.base, c, pv) {
            (_, Coerced::Str(s), Val::Str(t)) => t.matches(s, ctx),
            (_, Coerced::Str(s), Val::Arn(p)) => p.matches(s, ctx),
            (Base::Num(cmp), Coerced::Num(a), Val::Num(b)) => {
                a.partial_cmp(b).is_some_and(|o| cmp.holds(o))
            }
            (Base::Date(cmp), Coerced::Date(a), Val::Date(b)) => cmp.holds(a.cmp(b)),
            (_, Coerced::Bool(a), Val::Bool(b)) => a == b,
            (_, Coerced::Bin(a), Val::Bin(b)) => *a == b.as_slice(),
            (_, Coerced::Ip(ip), Val::Net(net)) => net.contains(ip),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators() {
        assert!(parse_operator("ForAnyValue:StringLikeIfExists").is_ok());
        assert!(parse_operator("StringEqual").is_err());
        assert!(parse_operator("NullIfExists").is_err());
    }
}
