//! Requests: the form body into botocore's JSON shape, then the model's
//! constraints checked as AWS checks them server-side.
//!
//! Parameters the model does not name are ignored, as AWS's Query services
//! do (botocore refuses them client-side); a parameter given twice is refused.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::percent_decode;
use serde_json::{Map, Number, Value};

use super::model::{Kind, Model, Ref, Shape};
use super::{Call, QueryError};

/// `application/x-www-form-urlencoded` into pairs; a byte sequence that is
/// not UTF-8 once decoded is refused rather than replaced.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, QueryError> {
    let malformed = || {
        QueryError::MalformedQueryString("The request body is not valid UTF-8 form data.".into())
    };
    let decode = |part: &[u8]| -> Result<String, QueryError> {
        let plus: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_decode(&plus)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| malformed())
    };
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &[][..]),
            };
            Ok((decode(k)?, decode(v)?))
        })
        .collect()
}

/// The action, checked against the model, and its validated input.
pub fn decode(model: &Model, form: &[(String, String)]) -> Result<Call, QueryError> {
    // Ordered, so that the members under a prefix are one range (a list's
    // elements are found without scanning every parameter per element).
    let mut params: BTreeMap<&str, &str> = BTreeMap::new();
    for (k, v) in form {
        if params.insert(k, v).is_some() {
            return Err(QueryError::MalformedQueryString(format!(
                "The parameter {} is given more than once.",
                printable(k)
            )));
        }
    }
    let action = match params.get("Action") {
        Some(a) if !a.is_empty() => *a,
        _ => return Err(QueryError::MissingAction),
    };
    let version = params.get("Version").copied();
    let op = match model.operation(action) {
        Some(op) if version == Some(model.api_version()) => op,
        _ => {
            return Err(QueryError::InvalidAction {
                action: printable(action),
                version: version.map(printable),
            });
        }
    };
    let mut d = Decoder {
        model,
        params: &params,
        errors: Vec::new(),
    };
    let input = match &op.input {
        Some(name) => {
            let shape = model.shape(name)?;
            let input = d.structure(shape, "")?.unwrap_or_default();
            let input = Value::Object(input);
            validate(model, &input, shape, "", &mut d.errors)?;
            input
        }
        None => Value::Object(Map::new()),
    };
    if !d.errors.is_empty() {
        return Err(QueryError::Validation(d.errors));
    }
    Ok(Call {
        action: action.to_owned(),
        input,
    })
}

/// Names echoed in errors: capped and stripped of control characters.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(128).collect()
}

struct Decoder<'a> {
    model: &'a Model,
    params: &'a BTreeMap<&'a str, &'a str>,
    errors: Vec<String>,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Decoder<'_> {
    fn structure(
        &mut self,
        shape: &Shape,
        prefix: &str,
    ) -> Result<Option<Map<String, Value>>, QueryError> {
        let mut out = Map::new();
        for m in &shape.members {
            let key = join(prefix, m.wire_name(&m.name));
            if let Some(v) = self.value(m, &key)? {
                out.insert(m.name.clone(), v);
            }
        }
        Ok((!out.is_empty()).then_some(out))
    }

    fn value(&mut self, r: &Ref, key: &str) -> Result<Option<Value>, QueryError> {
        let shape = self.model.shape(&r.shape)?;
        match shape.kind {
            Kind::Structure => Ok(self.structure(shape, key)?.map(Value::Object)),
            Kind::List => self.list(shape, r.flattened || shape.flattened, key),
            Kind::Map => self.map(shape, r.flattened || shape.flattened, key),
            _ => Ok(match self.params.get(key) {
                Some(text) => self.scalar(shape, key, text),
                None => None,
            }),
        }
    }

    fn list(
        &mut self,
        shape: &Shape,
        flattened: bool,
        key: &str,
    ) -> Result<Option<Value>, QueryError> {
        // botocore sends an empty list as the bare name with no value.
        if self.params.get(key) == Some(&"") {
            return Ok(Some(Value::Array(Vec::new())));
        }
        let Some(member) = &shape.member else {
            return Err(QueryError::Internal("list without member".into()));
        };
        let prefix = if flattened {
            key.to_owned()
        } else {
            join(key, member.wire_name("member"))
        };
        let n = self.indices(&prefix)?;
        let mut items = Vec::with_capacity(n);
        for i in 1..=n {
            // An index with no usable value (e.g. only unknown sub-keys) is
            // null, which validation reports against the element.
            items.push(
                self.value(member, &format!("{prefix}.{i}"))?
                    .unwrap_or(Value::Null),
            );
        }
        Ok((n > 0).then_some(Value::Array(items)))
    }

    fn map(
        &mut self,
        shape: &Shape,
        flattened: bool,
        key: &str,
    ) -> Result<Option<Value>, QueryError> {
        let (Some(k), Some(v)) = (&shape.key, &shape.value) else {
            return Err(QueryError::Internal("map without key or value".into()));
        };
        let prefix = if flattened {
            key.to_owned()
        } else {
            join(key, "entry")
        };
        let n = self.indices(&prefix)?;
        let mut out = Map::new();
        for i in 1..=n {
            let entry = format!("{prefix}.{i}");
            let name = self.value(k, &join(&entry, k.wire_name("key")))?;
            let Some(Value::String(name)) = name else {
                return Err(QueryError::MalformedQueryString(format!(
                    "{entry} has no key."
                )));
            };
            let value = self
                .value(v, &join(&entry, v.wire_name("value")))?
                .unwrap_or(Value::Null);
            if out.insert(name, value).is_some() {
                return Err(QueryError::MalformedQueryString(format!(
                    "{prefix} repeats a key."
                )));
            }
        }
        Ok((n > 0).then_some(Value::Object(out)))
    }

    /// How many elements `prefix.1` … `prefix.N` name; any other number
    /// after `prefix.` (0, a gap, a leading zero) is refused, so that no
    /// element is silently dropped.
    fn indices(&self, prefix: &str) -> Result<usize, QueryError> {
        let dotted = format!("{prefix}.");
        let mut seen = BTreeSet::new();
        let under = self
            .params
            .range::<str, _>((
                std::ops::Bound::Included(dotted.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .map(|(k, _)| *k)
            .take_while(|k| k.starts_with(&dotted));
        for k in under {
            let Some(rest) = k.strip_prefix(&dotted) else {
                continue;
            };
            let digits = rest.split('.').next().unwrap_or_default();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            match digits.parse::<usize>() {
                Ok(i) if i > 0 && i.to_string() == digits => {
                    seen.insert(i);
                }
                _ => return Err(gap(prefix)),
            }
        }
        match seen.last() {
            Some(&last) if last != seen.len() => Err(gap(prefix)),
            _ => Ok(seen.len()),
        }
    }

    fn scalar(&mut self, shape: &Shape, key: &str, text: &str) -> Option<Value> {
        let parsed = match shape.kind {
            Kind::String | Kind::Blob => Some(Value::String(text.to_owned())),
            Kind::Integer | Kind::Long => text.parse::<i64>().ok().map(Value::from),
            Kind::Double | Kind::Float => text
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number),
            Kind::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            Kind::Timestamp => parse_timestamp(text).map(Value::String),
            Kind::Structure | Kind::List | Kind::Map => None,
        };
        if parsed.is_none() {
            let what = match shape.kind {
                Kind::Boolean => "a boolean",
                Kind::Timestamp => "an ISO 8601 timestamp",
                _ => "a number",
            };
            let value = if shape.sensitive {
                String::new()
            } else {
                format!(" '{}'", printable(text))
            };
            self.errors.push(format!(
                "Value{value} at '{}' failed to satisfy constraint: Member must be {what}",
                path_of_key(key)
            ));
        }
        parsed
    }
}

fn gap(prefix: &str) -> QueryError {
    QueryError::MalformedQueryString(format!(
        "The members of {prefix} must be numbered 1 to N without gaps."
    ))
}

/// ISO 8601 (botocore's query default) or epoch seconds, as one UTC form.
fn parse_timestamp(text: &str) -> Option<String> {
    let t = match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(_) => DateTime::<Utc>::from_timestamp(text.parse::<i64>().ok()?, 0)?,
    };
    Some(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// AWS names members in validation messages in camelCase and lists as
/// `name.N.member`: `Tags.member.1.Key` → `tags.1.member.key`.
fn path_of_key(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    let mut i = 0;
    while i < parts.len() {
        if parts[i] == "member" && i + 1 < parts.len() {
            out.push(parts[i + 1].to_owned());
            out.push("member".into());
            i += 2;
        } else {
            out.push(camel(parts[i]));
            i += 1;
        }
    }
    out.join(".")
}

fn camel(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The constraints AWS checks before an operation runs, in model order.
fn validate(
    model: &Model,
    v: &Value,
    shape: &Shape,
    path: &str,
    errors: &mut Vec<String>,
) -> Result<(), QueryError> {
    let fail = |errors: &mut Vec<String>, what: String| {
        let value = if shape.sensitive {
            String::new()
        } else {
            format!(" '{}'", show(v))
        };
        errors.push(format!(
            "Value{value} at '{path}' failed to satisfy constraint: Member must {what}"
        ));
    };
    let length = |errors: &mut Vec<String>, len: usize| {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        if let Some(min) = shape.min.filter(|&m| len < m) {
            fail(
                errors,
                format!("have length greater than or equal to {min}"),
            );
        }
        if let Some(max) = shape.max.filter(|&m| len > m) {
            fail(errors, format!("have length less than or equal to {max}"));
        }
    };
    match (shape.kind, v) {
        (Kind::Structure, Value::Object(obj)) => {
            for m in &shape.members {
                let p = join(path, &camel(&m.name));
                match obj.get(&m.name) {
                    None | Some(Value::Null) if shape.required.contains(&m.name) => {
                        errors.push(format!("Value null at '{p}' failed to satisfy constraint: Member must not be null"));
                    }
                    None | Some(Value::Null) => {}
                    Some(child) => validate(model, child, model.shape(&m.shape)?, &p, errors)?,
                }
            }
            if shape.union && obj.len() != 1 {
                fail(errors, "have exactly one member set".into());
            }
        }
        (Kind::List, Value::Array(items)) => {
            length(errors, items.len());
            if let Some(member) = &shape.member {
                let inner = model.shape(&member.shape)?;
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}.{}.member", i + 1);
                    if item.is_null() {
                        errors.push(format!("Value null at '{p}' failed to satisfy constraint: Member must not be null"));
                    } else {
                        validate(model, item, inner, &p, errors)?;
                    }
                }
            }
        }
        (Kind::Map, Value::Object(entries)) => {
            length(errors, entries.len());
            if let (Some(k), Some(val)) = (&shape.key, &shape.value) {
                let (ks, vs) = (model.shape(&k.shape)?, model.shape(&val.shape)?);
                for (i, (name, item)) in entries.iter().enumerate() {
                    let p = format!("{path}.{}", i + 1);
                    validate(
                        model,
                        &Value::String(name.clone()),
                        ks,
                        &format!("{p}.key"),
                        errors,
                    )?;
                    validate(model, item, vs, &format!("{p}.value"), errors)?;
                }
            }
        }
        (Kind::String, Value::String(s)) => {
            // AWS counts UTF-16 code units.
            length(errors, s.encode_utf16().count());
            if let (Some(re), Some(p)) = (&shape.regex, &shape.pattern) {
                if !re.is_match(s) {
                    fail(errors, format!("satisfy regular expression pattern: {p}"));
                }
            }
            if let Some(values) = shape.values.as_ref().filter(|vals| !vals.contains(s)) {
                fail(
                    errors,
                    format!("satisfy enum value set: [{}]", values.join(", ")),
                );
            }
        }
        (Kind::Integer | Kind::Long, Value::Number(n)) => {
            let n = n.as_i64().unwrap_or(i64::MAX);
            if let Some(min) = shape.min.filter(|&m| n < m) {
                fail(errors, format!("have value greater than or equal to {min}"));
            }
            if let Some(max) = shape.max.filter(|&m| n > m) {
                fail(errors, format!("have value less than or equal to {max}"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// A value as Java's toString shows it in AWS's messages.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => printable(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => printable(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::iam;
    use super::*;
    use serde_json::json;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn call(pairs: &[(&str, &str)]) -> Result<Call, QueryError> {
        decode(iam().unwrap(), &form(pairs))
    }

    fn iam_call(action: &str, params: &[(&str, &str)]) -> Result<Call, QueryError> {
        let mut pairs = vec![("Action", action), ("Version", "2010-05-08")];
        pairs.extend_from_slice(params);
        call(&pairs)
    }

    #[test]
    fn form_bodies_decode_and_bad_utf8_is_refused() {
        let f = parse_form(b"Action=CreateUser&UserName=a%2Bb+c&Empty=&Bare&&").unwrap();
        assert_eq!(
            f,
            form(&[
                ("Action", "CreateUser"),
                ("UserName", "a+b c"),
                ("Empty", ""),
                ("Bare", "")
            ])
        );
        let err = parse_form(b"UserName=%FF").unwrap_err();
        assert_eq!(err.code(), "MalformedQueryString");
        assert!(parse_form(&[b'a', b'=', 0xC3]).is_err());
    }

    #[test]
    fn action_and_version_are_checked_first() {
        assert_eq!(
            call(&[("Version", "2010-05-08")]),
            Err(QueryError::MissingAction)
        );
        let e = iam_call("Nope", &[]).unwrap_err();
        assert_eq!(e.code(), "InvalidAction");
        assert_eq!(
            e.to_string(),
            "Could not find operation Nope for version 2010-05-08"
        );
        let e = call(&[("Action", "GetUser")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Could not find operation GetUser for version NO_VERSION_SPECIFIED"
        );
        let e = call(&[("Action", "GetUser"), ("Version", "2011-06-15")]).unwrap_err();
        assert_eq!(e.code(), "InvalidAction");
        let e = call(&[
            ("Action", "GetUser"),
            ("Action", "GetUser"),
            ("Version", "2010-05-08"),
        ])
        .unwrap_err();
        assert_eq!(e.code(), "MalformedQueryString");
    }

    #[test]
    fn scalars_lists_and_structures() {
        let c = iam_call(
            "CreateUser",
            &[
                ("UserName", "alice"),
                ("Path", "/eng/"),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "db"),
                ("Tags.member.2.Key", "env"),
                ("Tags.member.2.Value", ""),
                ("Unknown", "ignored"),
            ],
        )
        .unwrap();
        assert_eq!(c.action, "CreateUser");
        assert_eq!(
            c.input,
            json!({"UserName": "alice", "Path": "/eng/",
                   "Tags": [{"Key": "team", "Value": "db"}, {"Key": "env", "Value": ""}]})
        );
        let c = iam_call("ListUsers", &[("MaxItems", "5")]).unwrap();
        assert_eq!(c.input, json!({"MaxItems": 5}));
        let c = iam_call(
            "UpdateAccountPasswordPolicy",
            &[("RequireSymbols", "true"), ("MinimumPasswordLength", "14")],
        )
        .unwrap();
        assert_eq!(
            c.input,
            json!({"RequireSymbols": true, "MinimumPasswordLength": 14})
        );
        let c = iam_call("UntagUser", &[("UserName", "a"), ("TagKeys", "")]);
        assert_eq!(c.unwrap().input, json!({"UserName": "a", "TagKeys": []}));
    }

    #[test]
    fn list_gaps_are_refused() {
        let e = iam_call(
            "UntagUser",
            &[
                ("UserName", "a"),
                ("TagKeys.member.1", "x"),
                ("TagKeys.member.3", "y"),
            ],
        )
        .unwrap_err();
        assert_eq!(e.code(), "MalformedQueryString");
        let e = iam_call(
            "UntagUser",
            &[("UserName", "a"), ("TagKeys.member.01", "x")],
        );
        assert_eq!(e.unwrap_err().code(), "MalformedQueryString");
    }

    #[test]
    fn validation_messages_in_aws_wording() {
        let long = "a".repeat(65);
        let e = iam_call("CreateUser", &[("UserName", &long)]).unwrap_err();
        assert_eq!(e.code(), "ValidationError");
        assert_eq!(
            e.to_string(),
            format!(
                "1 validation error detected: Value '{long}' at 'userName' failed to satisfy constraint: \
                 Member must have length less than or equal to 64"
            )
        );
        let e = iam_call("CreateUser", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
        );
        let e = iam_call(
            "CreateUser",
            &[("UserName", "a b"), ("Tags.member.1.Value", "v")],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "2 validation errors detected: Value 'a b' at 'userName' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\w+=,.@-]+; \
             Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null"
        );
        let e = iam_call("ListUsers", &[("MaxItems", "1001")]).unwrap_err();
        assert!(e.to_string().ends_with("at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000"));
        let e = iam_call("ListUsers", &[("MaxItems", "x")]).unwrap_err();
        assert!(e.to_string().contains("Value 'x' at 'maxItems'"));
        let e = iam_call(
            "UpdateAccessKey",
            &[("AccessKeyId", "AKIAAAAAAAAAAAAAAAAA"), ("Status", "On")],
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .ends_with("Member must satisfy enum value set: [Active, Inactive, Expired]"),
            "{e}"
        );
    }

    #[test]
    fn sensitive_values_never_echoed() {
        let e = iam_call(
            "ChangePassword",
            &[("OldPassword", "hunter2"), ("NewPassword", "")],
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("Value at 'newPassword' failed"), "{msg}");
        assert!(!msg.contains("hunter2"));
        let e = iam_call(
            "EnableMFADevice",
            &[
                ("UserName", "a"),
                ("SerialNumber", "arn:aws:iam::123456789012:mfa/a"),
                ("AuthenticationCode1", "12345x"),
                ("AuthenticationCode2", "123456"),
            ],
        )
        .unwrap_err();
        assert!(!e.to_string().contains("12345x"), "{e}");
    }

    #[test]
    fn timestamps_normalise_to_utc() {
        assert_eq!(
            parse_timestamp("2024-01-02T03:04:05+01:00").as_deref(),
            Some("2024-01-02T02:04:05Z")
        );
        assert_eq!(
            parse_timestamp("0").as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
