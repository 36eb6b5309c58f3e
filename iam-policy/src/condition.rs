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

/// Operator names (lowercase) to their base comparison and negation.
const OPERATORS: &[(&str, Base, bool)] = &[
    (
        "stringequals",
        Base::Str {
            fold: false,
            like: false,
        },
        false,
    ),
    (
        "stringnotequals",
        Base::Str {
            fold: false,
            like: false,
        },
        true,
    ),
    (
        "stringequalsignorecase",
        Base::Str {
            fold: true,
            like: false,
        },
        false,
    ),
    (
        "stringnotequalsignorecase",
        Base::Str {
            fold: true,
            like: false,
        },
        true,
    ),
    (
        "stringlike",
        Base::Str {
            fold: false,
            like: true,
        },
        false,
    ),
    (
        "stringnotlike",
        Base::Str {
            fold: false,
            like: true,
        },
        true,
    ),
    ("numericequals", Base::Num(Cmp::Eq), false),
    ("numericnotequals", Base::Num(Cmp::Eq), true),
    ("numericlessthan", Base::Num(Cmp::Lt), false),
    ("numericlessthanequals", Base::Num(Cmp::Le), false),
    ("numericgreaterthan", Base::Num(Cmp::Gt), false),
    ("numericgreaterthanequals", Base::Num(Cmp::Ge), false),
    ("dateequals", Base::Date(Cmp::Eq), false),
    ("datenotequals", Base::Date(Cmp::Eq), true),
    ("datelessthan", Base::Date(Cmp::Lt), false),
    ("datelessthanequals", Base::Date(Cmp::Le), false),
    ("dategreaterthan", Base::Date(Cmp::Gt), false),
    ("dategreaterthanequals", Base::Date(Cmp::Ge), false),
    ("bool", Base::Bool, false),
    ("binaryequals", Base::Binary, false),
    ("ipaddress", Base::Ip, false),
    ("notipaddress", Base::Ip, true),
    ("arnequals", Base::Arn, false),
    ("arnlike", Base::Arn, false),
    ("arnnotequals", Base::Arn, true),
    ("arnnotlike", Base::Arn, true),
    ("null", Base::Null, false),
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
    /// A non-string value holding a policy variable: parsed per request.
    Dyn(Template),
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
}

/// Parses a whole Condition element. `vars`: policy variables are live
/// (Version 2012-10-17). Errors are messages; the caller names the
/// statement.
pub(crate) fn parse_block(block: &Json, vars: bool) -> Result<Vec<Condition>, String> {
    let ops = block
        .as_object()
        .ok_or("Condition must be an object of operators")?;
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (base, negated, set, if_exists) = parse_operator(op_name)?;
        let keys = keys
            .as_object()
            .ok_or_else(|| format!("operator {op_name} must map condition keys to values"))?;
        for (key, values) in keys {
            if key.is_empty() {
                return Err(format!("operator {op_name} has an empty condition key"));
            }
            let raw: Vec<&Json> = match values {
                Json::Array(items) => items.iter().collect(),
                v => vec![v],
            };
            let mut parsed = Vec::with_capacity(raw.len());
            for v in raw {
                let text = match v {
                    Json::String(s) => s.clone(),
                    Json::Number(n) => n.to_string(),
                    Json::Bool(b) => b.to_string(),
                    _ => {
                        return Err(format!(
                            "{op_name} {key}: condition values must be strings, numbers or booleans"
                        ));
                    }
                };
                parsed.push(
                    parse_value(base, &text, vars).map_err(|e| format!("{op_name} {key}: {e}"))?,
                );
            }
            out.push(Condition {
                base,
                negated,
                set,
                if_exists,
                key: key.as_str().into(),
                lookup: Key::new(key),
                values: parsed,
            });
        }
    }
    Ok(out)
}

fn parse_operator(name: &str) -> Result<(Base, bool, SetQual, bool), String> {
    let unknown = || format!("unknown condition operator {name:?}");
    let lower = name.to_ascii_lowercase();
    let (set, rest) = if let Some(r) = lower.strip_prefix("forallvalues:") {
        (SetQual::ForAll, r)
    } else if let Some(r) = lower.strip_prefix("foranyvalue:") {
        (SetQual::ForAny, r)
    } else {
        (SetQual::Single, lower.as_str())
    };
    let (if_exists, base_name) = match rest.strip_suffix("ifexists") {
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
    let dynamic = vars && text.contains("${");
    match base {
        Base::Str { fold, like } => Ok(Val::Str(Template::new(text, like, vars, fold)?)),
        Base::Arn => Ok(Val::Arn(ArnPattern::condition(text, vars)?)),
        _ if dynamic => Ok(Val::Dyn(Template::new(text, false, true, false)?)),
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
    /// Decides this condition against the request context.
    pub(crate) fn holds(&self, ctx: &Context) -> bool {
        let entry = ctx.entry(&self.lookup).filter(|e| !e.values.is_empty());
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
        let mut values = entry.values.iter().zip(&entry.parsed);
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
        self.values.iter().any(|pv| match pv {
            Val::Dyn(t) => match t.render(ctx) {
                Some(text) => match parse_value(self.base, &text, false) {
                    Ok(resolved) => self.compare(&c, &resolved, ctx),
                    Err(_) => false,
                },
                None => false,
            },
            _ => self.compare(&c, pv, ctx),
        })
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
