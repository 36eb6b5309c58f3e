//! botocore's service models, trimmed by model/trim.py and embedded: the one
//! source of the Query protocol's names, shapes and constraints.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;

use super::QueryError;

/// A service's model: operations, shapes and paginators.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    botocore: String,
    api_version: String,
    xml_namespace: String,
    pub(super) operations: HashMap<String, Operation>,
    pub(super) paginators: HashMap<String, Paginator>,
    pub(super) shapes: HashMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Operation {
    pub input: Option<String>,
    pub output: Option<String>,
    pub result_wrapper: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Paginator {
    pub input_token: String,
    pub output_token: String,
    pub more_results: String,
    pub limit_key: String,
    pub result_key: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Timestamp,
    Blob,
    Double,
    Float,
}

/// A reference to a shape: a structure member, or a list's or map's parts.
/// Traits the codec does not implement (`xmlNamespace` on a member,
/// `timestampFormat`) are unknown fields: the model test fails on them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Ref {
    #[serde(default)]
    pub name: String,
    pub shape: String,
    pub location_name: Option<String>,
    #[serde(default)]
    pub flattened: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct Shape {
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub union: bool,
    #[serde(default)]
    pub members: Vec<Ref>,
    #[serde(default)]
    pub required: Vec<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub pattern: Option<String>,
    #[serde(rename = "enum")]
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub flattened: bool,
    pub member: Option<Ref>,
    pub key: Option<Ref>,
    pub value: Option<Ref>,
    #[serde(skip)]
    pub regex: Option<Regex>,
}

impl Ref {
    /// The name on the wire: `locationName` when the model gives one.
    pub fn wire_name<'a>(&'a self, default: &'a str) -> &'a str {
        self.location_name.as_deref().unwrap_or(default)
    }
}

impl Model {
    fn parse(text: &str) -> Result<Model, String> {
        let mut model: Model = serde_json::from_str(text).map_err(|e| e.to_string())?;
        for (name, shape) in &mut model.shapes {
            if let Some(p) = &shape.pattern {
                let re = Regex::new(&java_pattern(p)).map_err(|e| format!("{name}: {e}"))?;
                shape.regex = Some(re);
            }
        }
        // Every reference must resolve, so that lookups below cannot miss.
        let names: Vec<&String> = model
            .shapes
            .values()
            .flat_map(|s| {
                s.members
                    .iter()
                    .chain(&s.member)
                    .chain(&s.key)
                    .chain(&s.value)
            })
            .map(|r| &r.shape)
            .chain(
                model
                    .operations
                    .values()
                    .flat_map(|o| o.input.iter().chain(&o.output)),
            )
            .collect();
        if let Some(missing) = names
            .iter()
            .find(|n| !model.shapes.contains_key(n.as_str()))
        {
            return Err(format!("shape {missing} is referenced but not defined"));
        }
        Ok(model)
    }

    /// The `Version` every request must carry, e.g. `2010-05-08`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The XML namespace of responses.
    pub fn xmlns(&self) -> &str {
        &self.xml_namespace
    }

    /// The botocore release the model was trimmed from.
    pub fn botocore_version(&self) -> &str {
        &self.botocore
    }

    /// The actions this model serves, unordered.
    pub fn operations(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// `input` of `action` as CloudTrail's `requestParameters`: members in
    /// camelCase, every member of a shape the model marks sensitive
    /// (passwords, MFA codes) left out, and anything the model does not
    /// name dropped.
    pub fn request_parameters(&self, action: &str, input: &serde_json::Value) -> serde_json::Value {
        match self.operation(action).and_then(|o| o.input.as_deref()) {
            Some(shape) => self.redact(shape, input),
            None => serde_json::Value::Null,
        }
    }

    fn redact(&self, shape: &str, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        let Some(s) = self.shapes.get(shape).filter(|s| !s.sensitive) else {
            return Value::Null;
        };
        match (s.kind, value) {
            (Kind::Structure, Value::Object(map)) => Value::Object(
                s.members
                    .iter()
                    .filter(|m| self.shapes.get(&m.shape).is_some_and(|t| !t.sensitive))
                    .filter_map(|m| {
                        let v = map.get(&m.name)?;
                        let mut name = m.name.clone();
                        if let Some(first) = name.get_mut(..1) {
                            first.make_ascii_lowercase();
                        }
                        Some((name, self.redact(&m.shape, v)))
                    })
                    .collect(),
            ),
            (Kind::List, Value::Array(items)) => match &s.member {
                Some(m) => Value::Array(items.iter().map(|v| self.redact(&m.shape, v)).collect()),
                None => Value::Null,
            },
            (Kind::Map, Value::Object(map)) => match &s.value {
                Some(m) => Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), self.redact(&m.shape, v)))
                        .collect(),
                ),
                None => Value::Null,
            },
            (Kind::Structure | Kind::List | Kind::Map, _) => Value::Null,
            _ => value.clone(),
        }
    }

    pub(super) fn operation(&self, action: &str) -> Option<&Operation> {
        self.operations.get(action)
    }

    /// A shape by name; `parse` proved every reference resolves, so a miss
    /// is a bug reported as an internal error, not a panic.
    pub(super) fn shape(&self, name: &str) -> Result<&Shape, QueryError> {
        self.shapes
            .get(name)
            .ok_or_else(|| QueryError::Internal(format!("model has no shape {name}")))
    }
}

/// botocore's patterns are Java regular expressions matched against the whole
/// value; Java's `\w` and `\d` are ASCII-only, Rust's are Unicode.
fn java_pattern(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut in_class = false;
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('w') if in_class => out.push_str("0-9A-Za-z_"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    format!("^(?:{out})$")
}

fn cached(
    cell: &'static OnceLock<Result<Model, String>>,
    text: &str,
) -> Result<&'static Model, QueryError> {
    cell.get_or_init(|| Model::parse(text))
        .as_ref()
        .map_err(|e| QueryError::Internal(format!("embedded model: {e}")))
}

/// IAM 2010-05-08, parsed on first use.
pub fn iam() -> Result<&'static Model, QueryError> {
    static CELL: OnceLock<Result<Model, String>> = OnceLock::new();
    cached(&CELL, include_str!("../../model/iam.json"))
}

/// STS 2011-06-15, parsed on first use.
pub fn sts() -> Result<&'static Model, QueryError> {
    static CELL: OnceLock<Result<Model, String>> = OnceLock::new();
    cached(&CELL, include_str!("../../model/sts.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_models_parse_and_every_pattern_compiles() {
        let iam = iam().unwrap();
        assert_eq!(iam.api_version(), "2010-05-08");
        assert_eq!(iam.xmlns(), "https://iam.amazonaws.com/doc/2010-05-08/");
        assert!(iam.operation("GetAccountAuthorizationDetails").is_some());
        assert!(
            iam.shapes
                .values()
                .filter(|s| s.pattern.is_some())
                .all(|s| s.regex.is_some())
        );
        let sts = sts().unwrap();
        assert_eq!(sts.api_version(), "2011-06-15");
        assert!(sts.operation("AssumeRole").is_some());
        assert!(!iam.botocore_version().is_empty());
    }

    #[test]
    fn request_parameters_leave_out_secrets() {
        let input = serde_json::json!({
            "UserName": "bob", "SerialNumber": "arn:aws:iam::123456789012:mfa/bob",
            "AuthenticationCode1": "123456", "AuthenticationCode2": "654321",
        });
        assert_eq!(
            iam().unwrap().request_parameters("EnableMFADevice", &input),
            serde_json::json!({"userName": "bob", "serialNumber": "arn:aws:iam::123456789012:mfa/bob"})
        );
        let input = serde_json::json!({"UserName": "bob", "Password": "Secret-1234"});
        assert_eq!(
            iam()
                .unwrap()
                .request_parameters("CreateLoginProfile", &input),
            serde_json::json!({"userName": "bob"})
        );
        let input = serde_json::json!({"RoleArn": "arn:aws:iam::123456789012:role/ops",
            "RoleSessionName": "s", "SerialNumber": "x", "TokenCode": "123456"});
        let out = sts().unwrap().request_parameters("AssumeRole", &input);
        assert_eq!(out["roleSessionName"], "s");
        assert!(out.get("tokenCode").is_none());
    }

    #[test]
    fn java_classes_stay_ascii() {
        let re = Regex::new(&java_pattern(r"[\w+=,.@-]+")).unwrap();
        assert!(re.is_match("alice.b@x"));
        assert!(!re.is_match("é"));
        assert!(!re.is_match("a b"));
        let re = Regex::new(&java_pattern(r"\d{12}")).unwrap();
        assert!(re.is_match("123456789012"));
        assert!(!re.is_match("1234567890123"));
        let re = Regex::new(&java_pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")).unwrap();
        assert!(re.is_match("Équipe 1"));
    }
}
