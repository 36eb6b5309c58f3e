//! Responses: botocore's JSON shape into the Query protocol's XML, members in
//! model order, and AWS's `ErrorResponse`.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::QueryError;
use super::model::{Kind, Model, Ref, Shape};

/// IAM returns policy documents URL-encoded (RFC 3986); botocore decodes
/// every string of this shape.
const POLICY_DOCUMENT: &str = "policyDocumentType";
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `<{Action}Response>` with the output's members the model knows (others are
/// dropped); a value of the wrong type is a server bug (`Internal`).
pub fn encode_result(
    model: &Model,
    action: &str,
    output: &Value,
    request_id: &str,
) -> Result<String, QueryError> {
    let op = model
        .operation(action)
        .ok_or_else(|| QueryError::Internal(format!("no operation {action}")))?;
    let mut xml = String::with_capacity(512);
    let _ = write!(
        xml,
        "<{action}Response xmlns=\"{}\">",
        escape(model.xmlns())
    );
    if let Some(name) = &op.output {
        let wrapper = op
            .result_wrapper
            .clone()
            .unwrap_or_else(|| format!("{action}Result"));
        let shape = model.shape(name)?;
        let Value::Object(_) = output else {
            return Err(wrong(&wrapper, "structure", output));
        };
        let _ = write!(xml, "<{wrapper}>");
        members(model, shape, output, &wrapper, &mut xml)?;
        let _ = write!(xml, "</{wrapper}>");
    }
    let _ = write!(
        xml,
        "<ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
        escape(request_id)
    );
    Ok(xml)
}

/// AWS's `ErrorResponse`, as IAM and STS send it.
pub fn encode_error(
    model: &Model,
    code: &str,
    message: &str,
    sender_fault: bool,
    request_id: &str,
) -> String {
    format!(
        "<ErrorResponse xmlns=\"{}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message></Error>\
         <RequestId>{}</RequestId></ErrorResponse>",
        escape(model.xmlns()),
        if sender_fault { "Sender" } else { "Receiver" },
        escape(code),
        escape(message),
        escape(request_id)
    )
}

fn wrong(at: &str, kind: &str, v: &Value) -> QueryError {
    let got = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    QueryError::Internal(format!("output {at}: expected {kind}, got {got}"))
}

fn members(
    model: &Model,
    shape: &Shape,
    v: &Value,
    at: &str,
    xml: &mut String,
) -> Result<(), QueryError> {
    for m in &shape.members {
        if let Some(child) = v.get(&m.name).filter(|c| !c.is_null()) {
            element(
                model,
                m,
                m.wire_name(&m.name),
                child,
                &format!("{at}.{}", m.name),
                xml,
            )?;
        }
    }
    Ok(())
}

/// One value as `<tag>…</tag>`; a flattened list repeats `tag` per item.
fn element(
    model: &Model,
    r: &Ref,
    tag: &str,
    v: &Value,
    at: &str,
    xml: &mut String,
) -> Result<(), QueryError> {
    let shape = model.shape(&r.shape)?;
    if shape.kind == Kind::List && (r.flattened || shape.flattened) {
        let (Value::Array(items), Some(member)) = (v, &shape.member) else {
            return Err(wrong(at, "list", v));
        };
        for item in items {
            element(model, member, tag, item, at, xml)?;
        }
        return Ok(());
    }
    let _ = write!(xml, "<{tag}>");
    match (shape.kind, v) {
        (Kind::Structure, Value::Object(_)) => members(model, shape, v, at, xml)?,
        (Kind::List, Value::Array(items)) => {
            let member = shape.member.as_ref().ok_or_else(|| wrong(at, "list", v))?;
            for item in items {
                element(model, member, member.wire_name("member"), item, at, xml)?;
            }
        }
        (Kind::Map, Value::Object(entries)) => {
            let (Some(k), Some(val)) = (&shape.key, &shape.value) else {
                return Err(wrong(at, "map", v));
            };
            for (name, item) in entries {
                xml.push_str("<entry>");
                element(
                    model,
                    k,
                    k.wire_name("key"),
                    &Value::String(name.clone()),
                    at,
                    xml,
                )?;
                element(model, val, val.wire_name("value"), item, at, xml)?;
                xml.push_str("</entry>");
            }
        }
        (Kind::String, _) if r.shape == POLICY_DOCUMENT => {
            // iamctl's verbs give the document decoded, as the CLI prints it.
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Object(_) | Value::Array(_) => v.to_string(),
                _ => return Err(wrong(at, "policy document", v)),
            };
            xml.push_str(&utf8_percent_encode(&text, UNRESERVED).to_string());
        }
        (Kind::String | Kind::Blob, Value::String(s)) => xml.push_str(&escape(s)),
        (Kind::Integer | Kind::Long, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            let _ = write!(xml, "{n}");
        }
        (Kind::Double | Kind::Float, Value::Number(n)) => {
            let _ = write!(xml, "{n}");
        }
        (Kind::Boolean, Value::Bool(b)) => {
            let _ = write!(xml, "{b}");
        }
        (Kind::Timestamp, _) => {
            xml.push_str(&timestamp(v).ok_or_else(|| wrong(at, "timestamp", v))?)
        }
        (kind, _) => return Err(wrong(at, &format!("{kind:?}").to_lowercase(), v)),
    }
    let _ = write!(xml, "</{tag}>");
    Ok(())
}

/// ISO 8601 in UTC with a `Z`, as IAM writes it; accepts RFC 3339 text or
/// epoch seconds.
fn timestamp(v: &Value) -> Option<String> {
    let t = match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc),
        Value::Number(n) => DateTime::<Utc>::from_timestamp(n.as_i64()?, 0)?,
        _ => return None,
    };
    Some(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

/// XML text and attribute escaping. Carriage returns are kept as a character
/// reference (a parser would fold a raw one into a line feed); characters XML
/// 1.0 cannot carry at all become U+FFFD.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{iam, sts};
    use super::*;
    use serde_json::json;

    const RID: &str = "req-1";

    #[test]
    fn structures_lists_maps_scalars_in_model_order() {
        let out = json!({"User": {"Arn": "arn:aws:iam::123456789012:user/a", "UserName": "a<&>", "Path": "/",
            "UserId": "AIDA1", "CreateDate": "2024-01-02T03:04:05+00:00", "Extra": 1,
            "Tags": [{"Key": "k", "Value": "v"}]}});
        let xml = encode_result(iam().unwrap(), "GetUser", &out, RID).unwrap();
        assert_eq!(
            xml,
            "<GetUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><GetUserResult><User>\
             <Path>/</Path><UserName>a&lt;&amp;&gt;</UserName><UserId>AIDA1</UserId>\
             <Arn>arn:aws:iam::123456789012:user/a</Arn><CreateDate>2024-01-02T03:04:05Z</CreateDate>\
             <Tags><member><Key>k</Key><Value>v</Value></member></Tags></User></GetUserResult>\
             <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetUserResponse>"
        );
        let out = json!({"IsTruncated": false, "Users": []});
        let xml = encode_result(iam().unwrap(), "ListUsers", &out, RID).unwrap();
        assert!(
            xml.contains(
                "<ListUsersResult><Users></Users><IsTruncated>false</IsTruncated></ListUsersResult>"
            ),
            "{xml}"
        );
        let out = json!({"SummaryMap": {"Users": 3}});
        let xml = encode_result(iam().unwrap(), "GetAccountSummary", &out, RID);
        assert!(xml.is_err(), "not a served operation");
    }

    #[test]
    fn maps_and_policy_documents() {
        let out = json!({"PolicyVersion": {"Document": {"Version": "2012-10-17"}, "VersionId": "v1",
            "IsDefaultVersion": true, "CreateDate": 0}});
        let xml = encode_result(iam().unwrap(), "GetPolicyVersion", &out, RID).unwrap();
        assert!(xml.contains("<Document>%7B%22Version%22%3A%222012-10-17%22%7D</Document><VersionId>v1</VersionId>\
             <IsDefaultVersion>true</IsDefaultVersion><CreateDate>1970-01-01T00:00:00Z</CreateDate>"), "{xml}");
        let out = json!({"EvaluationResults": [{"EvalActionName": "iam:GetUser", "EvalDecision": "allowed",
            "EvalDecisionDetails": {"Policy1": "allowed"}}], "IsTruncated": false});
        let xml = encode_result(iam().unwrap(), "SimulateCustomPolicy", &out, RID).unwrap();
        assert!(xml.contains("<EvalDecisionDetails><entry><key>Policy1</key><value>allowed</value></entry></EvalDecisionDetails>"), "{xml}");
    }

    #[test]
    fn no_output_no_result_element_and_wrong_types_are_bugs() {
        let xml = encode_result(iam().unwrap(), "DeleteUser", &Value::Null, RID).unwrap();
        assert_eq!(
            xml,
            "<DeleteUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><ResponseMetadata>\
             <RequestId>req-1</RequestId></ResponseMetadata></DeleteUserResponse>"
        );
        let e = encode_result(
            iam().unwrap(),
            "GetUser",
            &json!({"User": {"UserName": 5}}),
            RID,
        )
        .unwrap_err();
        assert_eq!(e.code(), "InternalFailure");
        assert!(!e.sender_fault());
        let e = encode_result(sts().unwrap(), "GetCallerIdentity", &json!([]), RID).unwrap_err();
        assert_eq!(e.code(), "InternalFailure");
    }

    #[test]
    fn error_response() {
        let xml = encode_error(
            sts().unwrap(),
            "ExpiredToken",
            "The security token included in the request is expired",
            true,
            "r<",
        );
        assert_eq!(
            xml,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>\
             <Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error>\
             <RequestId>r&lt;</RequestId></ErrorResponse>"
        );
    }

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(
            escape("a\"'\r\n\t\u{1}b"),
            "a&quot;&apos;&#xD;\n\t\u{FFFD}b"
        );
    }
}
