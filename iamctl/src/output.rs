//! Output as the AWS CLI renders it: `json` (pretty, 4-space indent), `text`
//! (the AWS CLI's tab-separated formatter, ported rule for rule) and `table`.

use crate::cli::Output;
use serde_json::Value;
use std::fmt::Write as _;

/// Render a response; `Value::Null` (AWS: an empty response) prints nothing.
pub fn render(value: &Value, format: Output, title: &str) -> String {
    if value.is_null() {
        return String::new();
    }
    match format {
        Output::Json => json(value),
        Output::Text => {
            let mut out = String::new();
            text(value, &mut out, None, None);
            out
        }
        Output::Table => table(value, title),
    }
}

/// Pretty JSON with the AWS CLI's 4-space indent and a trailing newline.
fn json(value: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if serde::Serialize::serialize(value, &mut ser).is_err() {
        return String::new();
    }
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    s.push('\n');
    s
}

/// A scalar as Python's `str()` prints it (the AWS CLI is Python).
fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Object(_) | Value::Array(_))
}

fn text(item: &Value, out: &mut String, identifier: Option<&str>, keys: Option<&[String]>) {
    match item {
        Value::Object(map) => {
            let mut scalars: Vec<String> = Vec::new();
            let mut rest: Vec<(&String, &Value)> = Vec::new();
            match keys {
                None => {
                    let mut sorted: Vec<_> = map.iter().collect();
                    sorted.sort_by(|a, b| a.0.cmp(b.0));
                    for (k, v) in sorted {
                        if is_scalar(v) {
                            scalars.push(scalar(v));
                        } else {
                            rest.push((k, v));
                        }
                    }
                }
                Some(keys) => {
                    for k in keys {
                        scalars.push(map.get(k).map(scalar).unwrap_or_default());
                    }
                    let mut remaining: Vec<_> =
                        map.iter().filter(|(k, _)| !keys.contains(k)).collect();
                    remaining.sort_by(|a, b| a.0.cmp(b.0));
                    rest = remaining;
                }
            }
            if !scalars.is_empty() {
                if let Some(id) = identifier {
                    scalars.insert(0, id.to_uppercase());
                }
                out.push_str(&scalars.join("\t"));
                out.push('\n');
            }
            for (k, v) in rest {
                text(v, out, Some(k), None);
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                return;
            }
            if items.iter().any(|e| e.is_object()) {
                let mut all: Vec<String> = items
                    .iter()
                    .filter_map(|e| e.as_object())
                    .flat_map(|m| {
                        m.iter()
                            .filter(|(_, v)| is_scalar(v))
                            .map(|(k, _)| k.clone())
                    })
                    .collect();
                all.sort();
                all.dedup();
                for e in items {
                    text(e, out, identifier, Some(&all));
                }
            } else if items.iter().any(|e| e.is_array()) {
                let scalars: Vec<&Value> = items.iter().filter(|e| is_scalar(e)).collect();
                scalar_list(&scalars, identifier, out);
                for e in items.iter().filter(|e| !is_scalar(e)) {
                    text(e, out, identifier, None);
                }
            } else {
                let all: Vec<&Value> = items.iter().collect();
                scalar_list(&all, identifier, out);
            }
        }
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn scalar_list(items: &[&Value], identifier: Option<&str>, out: &mut String) {
    if items.is_empty() {
        return;
    }
    match identifier {
        Some(id) => {
            for v in items {
                let _ = writeln!(out, "{}\t{}", id.to_uppercase(), scalar(v));
            }
        }
        None => {
            let line: Vec<String> = items.iter().map(|v| scalar(v)).collect();
            out.push_str(&line.join("\t"));
            out.push('\n');
        }
    }
}

/// The AWS CLI's table: a titled box per object, a column header row per list
/// of objects.
fn table(value: &Value, title: &str) -> String {
    let mut rows: Vec<Row> = Vec::new();
    table_rows(value, title, &mut rows);
    let width = rows
        .iter()
        .map(Row::width)
        .max()
        .unwrap_or(0)
        .max(title.len() + 4);
    let mut out = String::new();
    let rule = format!("{}\n", "-".repeat(width + 2));
    for row in rows {
        match row {
            Row::Title(t) => {
                out.push_str(&rule);
                let _ = writeln!(out, "|{:^width$}|", t);
                out.push_str(&rule);
            }
            Row::Cells(cells, widths) => {
                let total: usize = widths.iter().sum::<usize>() + 3 * widths.len() - 1;
                let mut line = String::from("|");
                for (c, w) in cells.iter().zip(&widths) {
                    let extra = width.saturating_sub(total);
                    let _ = write!(line, " {:<w$} |", c, w = w + extra / widths.len().max(1));
                }
                let pad = (width + 1).saturating_sub(line.chars().count());
                if pad > 0 {
                    line.pop();
                    line.push_str(&" ".repeat(pad));
                    line.push('|');
                }
                out.push_str(&line);
                out.push('\n');
            }
            Row::Rule => out.push_str(&rule),
        }
    }
    out
}

enum Row {
    Title(String),
    Cells(Vec<String>, Vec<usize>),
    Rule,
}

impl Row {
    fn width(&self) -> usize {
        match self {
            Row::Title(t) => t.chars().count() + 4,
            Row::Cells(_, w) => w.iter().sum::<usize>() + 3 * w.len() - 1,
            Row::Rule => 0,
        }
    }
}

fn table_rows(value: &Value, title: &str, rows: &mut Vec<Row>) {
    match value {
        Value::Object(map) => {
            rows.push(Row::Title(title.to_owned()));
            let scalars: Vec<(&String, &Value)> =
                map.iter().filter(|(_, v)| is_scalar(v)).collect();
            if !scalars.is_empty() {
                for (k, v) in &scalars {
                    let k = (*k).clone();
                    let v = scalar(v);
                    let w = vec![k.chars().count(), v.chars().count()];
                    rows.push(Row::Cells(vec![k, v], w));
                }
                rows.push(Row::Rule);
            }
            for (k, v) in map.iter().filter(|(_, v)| !is_scalar(v)) {
                table_rows(v, k, rows);
            }
        }
        Value::Array(items) if items.iter().all(|e| e.is_object()) && !items.is_empty() => {
            rows.push(Row::Title(title.to_owned()));
            let mut keys: Vec<String> = items
                .iter()
                .filter_map(|e| e.as_object())
                .flat_map(|m| {
                    m.iter()
                        .filter(|(_, v)| is_scalar(v))
                        .map(|(k, _)| k.clone())
                })
                .collect();
            keys.sort();
            keys.dedup();
            if !keys.is_empty() {
                let data: Vec<Vec<String>> = items
                    .iter()
                    .map(|e| {
                        keys.iter()
                            .map(|k| e.get(k).map(scalar).unwrap_or_default())
                            .collect()
                    })
                    .collect();
                let widths: Vec<usize> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, k)| {
                        data.iter()
                            .map(|r| r[i].chars().count())
                            .chain([k.chars().count()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                rows.push(Row::Cells(keys.clone(), widths.clone()));
                rows.push(Row::Rule);
                for r in data {
                    rows.push(Row::Cells(r, widths.clone()));
                }
                rows.push(Row::Rule);
            }
            for e in items {
                if let Some(m) = e.as_object() {
                    for (k, v) in m.iter().filter(|(_, v)| !is_scalar(v)) {
                        table_rows(v, k, rows);
                    }
                }
            }
        }
        Value::Array(items) => {
            rows.push(Row::Title(title.to_owned()));
            for v in items {
                if is_scalar(v) {
                    let s = scalar(v);
                    let w = vec![s.chars().count()];
                    rows.push(Row::Cells(vec![s], w));
                } else {
                    table_rows(v, title, rows);
                }
            }
            rows.push(Row::Rule);
        }
        other => {
            let s = scalar(other);
            let w = vec![s.chars().count()];
            rows.push(Row::Cells(vec![s], w));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_matches_the_aws_cli() {
        let v = json!({"Users":[
            {"UserName":"bob","Path":"/","UserId":"AIDA1","Arn":"arn:b","CreateDate":"d"},
            {"UserName":"al","Path":"/","UserId":"AIDA2","Arn":"arn:a","CreateDate":"e",
             "Tags":[{"Key":"k","Value":"v"}]}
        ]});
        let out = render(&v, Output::Text, "ListUsers");
        assert_eq!(
            out,
            "USERS\tarn:b\td\t/\tAIDA1\tbob\nUSERS\tarn:a\te\t/\tAIDA2\tal\nTAGS\tk\tv\n"
        );
        let v = json!({"UserId":"AIDA1","Account":"123456789012","Arn":"arn:x"});
        assert_eq!(
            render(&v, Output::Text, "x"),
            "123456789012\tarn:x\tAIDA1\n"
        );
        let v = json!({"PolicyNames":["a","b"]});
        assert_eq!(
            render(&v, Output::Text, "x"),
            "POLICYNAMES\ta\nPOLICYNAMES\tb\n"
        );
        let v = json!({"LoginProfile":{"UserName":"bob","PasswordResetRequired":false}});
        assert_eq!(render(&v, Output::Text, "x"), "LOGINPROFILE\tFalse\tbob\n");
    }

    #[test]
    fn json_uses_four_spaces() {
        let out = render(&json!({"A":{"B":1}}), Output::Json, "x");
        assert_eq!(out, "{\n    \"A\": {\n        \"B\": 1\n    }\n}\n");
        assert_eq!(render(&Value::Null, Output::Json, "x"), "");
    }

    #[test]
    fn table_has_a_title_and_columns() {
        let v = json!({"Users":[{"UserName":"bob","Arn":"arn:b"}]});
        let out = render(&v, Output::Table, "ListUsers");
        assert!(out.contains("ListUsers"));
        assert!(out.contains("UserName"));
        assert!(out.contains("bob"));
        assert!(
            out.lines()
                .all(|l| l.starts_with('|') || l.starts_with('-'))
        );
    }
}
