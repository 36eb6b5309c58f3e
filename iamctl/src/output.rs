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
    let out = match format {
        // Only access-report draws a page (`access_page`); main refuses
        // `--output html` for every other verb.
        Output::Json | Output::Html => json(value),
        Output::Text => {
            let mut out = String::new();
            text(value, &mut out, None, None);
            out
        }
        Output::Table => table(value, title),
    };
    terminal_safe(&out, format)
}

/// What can still reach the terminal after rendering (object keys, titles,
/// and in JSON the characters serde_json leaves raw: DEL, C1 controls such
/// as CSI, bidi overrides) is escaped: JSON as `\uXXXX` inside its
/// strings, where alone such characters can stand; text and table as
/// [`printable`] does. Newlines and tabs stay: they are the layout.
pub(crate) fn terminal_safe(out: &str, format: Output) -> String {
    if !out.chars().any(|c| c != '\n' && c != '\t' && is_unsafe(c)) {
        return out.to_owned();
    }
    let mut safe = String::with_capacity(out.len());
    for c in out.chars() {
        match c {
            '\n' | '\t' => safe.push(c),
            c if is_unsafe(c) && format == Output::Json => {
                let _ = write!(safe, "\\u{:04x}", u32::from(c));
            }
            c if is_unsafe(c) => safe.push_str(&c.escape_unicode().to_string()),
            c => safe.push(c),
        }
    }
    safe
}

/// Control characters and the bidirectional formatting characters that
/// reorder what a terminal shows (Trojan Source).
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}'
        )
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
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

/// A scalar as Python's `str()` prints it (the AWS CLI is Python), except
/// that strings are made [`printable`].
fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => printable(s),
        other => other.to_string(),
    }
}

/// Descriptions and tag values are anyone's text: control characters
/// (terminal escape sequences, newlines and tabs that would forge rows or
/// columns) and bidirectional overrides are shown escaped, never sent to
/// an administrator's terminal. The AWS CLI prints them raw; JSON output
/// escapes them anyway.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
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

/// The AWS CLI's table, flattened: a titled section per object (key/value
/// rows) and per list of objects (a header row, then one row per object),
/// all as wide as the widest.
fn table(value: &Value, title: &str) -> String {
    let mut sections = Vec::new();
    match value {
        Value::Object(map) if !map.values().any(is_scalar) => {
            sections.push(Section::titled(title));
            for (k, v) in map {
                collect(v, k, &mut sections);
            }
        }
        _ => collect(value, title, &mut sections),
    }
    let width = sections.iter().map(Section::width).max().unwrap_or(0);
    let rule = format!("{}\n", "-".repeat(width));
    let mut out = String::new();
    for s in &sections {
        if !out.ends_with(&rule) {
            out.push_str(&rule);
        }
        let _ = writeln!(out, "|{:^w$}|", s.title, w = width - 2);
        out.push_str(&rule);
        let mut widths = s.column_widths();
        if let Some(last) = widths.last_mut() {
            *last += width - s.width();
        }
        if let Some(h) = &s.header {
            out.push_str(&row(h, &widths));
            out.push_str(&rule);
        }
        for r in &s.rows {
            out.push_str(&row(r, &widths));
        }
        if !s.rows.is_empty() {
            out.push_str(&rule);
        }
    }
    out
}

fn row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::from("|");
    for (c, w) in cells.iter().zip(widths) {
        let pad = w.saturating_sub(c.chars().count());
        let _ = write!(line, " {c}{} |", " ".repeat(pad));
    }
    line.push('\n');
    line
}

struct Section {
    title: String,
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

impl Section {
    fn titled(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            header: None,
            rows: Vec::new(),
        }
    }

    fn column_widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = Vec::new();
        for r in self.header.iter().chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                let n = c.chars().count();
                match widths.get_mut(i) {
                    Some(w) => *w = (*w).max(n),
                    None => widths.push(n),
                }
            }
        }
        widths
    }

    /// Outer width: `| c1 | c2 |`, at least the title with margins.
    fn width(&self) -> usize {
        let w = self.column_widths();
        let cells = w.iter().sum::<usize>() + 3 * w.len() + 1;
        cells.max(self.title.chars().count() + 4)
    }
}

fn collect(value: &Value, title: &str, out: &mut Vec<Section>) {
    match value {
        Value::Object(map) => {
            let mut s = Section::titled(title);
            s.rows = map
                .iter()
                .filter(|(_, v)| is_scalar(v))
                .map(|(k, v)| vec![k.clone(), scalar(v)])
                .collect();
            if !s.rows.is_empty() {
                out.push(s);
            }
            for (k, v) in map.iter().filter(|(_, v)| !is_scalar(v)) {
                collect(v, k, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            let mut keys: Vec<String> = items
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| {
                    m.iter()
                        .filter(|(_, v)| is_scalar(v))
                        .map(|(k, _)| k.clone())
                })
                .collect();
            keys.sort();
            keys.dedup();
            if !keys.is_empty() {
                let mut s = Section::titled(title);
                s.rows = items
                    .iter()
                    .map(|e| {
                        keys.iter()
                            .map(|k| e.get(k).map(scalar).unwrap_or_default())
                            .collect()
                    })
                    .collect();
                s.header = Some(keys);
                out.push(s);
            }
            for m in items.iter().filter_map(Value::as_object) {
                for (k, v) in m.iter().filter(|(_, v)| !is_scalar(v)) {
                    collect(v, k, out);
                }
            }
        }
        Value::Array(items) => {
            let mut s = Section::titled(title);
            s.rows = items
                .iter()
                .filter(|v| is_scalar(v))
                .map(|v| vec![scalar(v)])
                .collect();
            out.push(s);
            for v in items.iter().filter(|v| !is_scalar(v)) {
                collect(v, title, out);
            }
        }
        other => {
            let mut s = Section::titled(title);
            s.rows = vec![vec![scalar(other)]];
            out.push(s);
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
    fn text_and_table_never_print_control_characters() {
        // Issue 11 item 10: a tag value or description with an escape
        // sequence, a newline or a tab reached the terminal raw.
        let v = json!({"Tags": [{"Key": "k", "Value": "a\u{1b}]0;pwned\u{7}\nFAKE\tROW\u{9b}\u{202e}x"}]});
        for format in [Output::Text, Output::Table] {
            let out = render(&v, format, "ListUserTags");
            assert!(
                !out.chars()
                    .any(|c| c != '\n' && c != '\t' && c.is_control()),
                "{format:?}: {out:?}"
            );
            assert!(!out.contains('\u{202e}'), "{out:?}");
            assert!(out.contains("\\u{1b}]0;pwned"), "{out:?}");
            assert!(out.lines().all(|l| !l.starts_with("FAKE")), "{out:?}");
        }
        // JSON: serde_json escapes C0 only; DEL, C1 (CSI) and bidi too here.
        let out = render(&v, Output::Json, "ListUserTags");
        assert!(!out.chars().any(|c| c != '\n' && is_unsafe(c)), "{out:?}");
        assert!(out.contains("\\u009b\\u202ex"), "{out:?}");
        let back: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back, v, "still the same JSON");
        // Keys (e.g. a policy's condition keys) are escaped in text too.
        let k = json!({"Condition": {"StringEquals": {"a\u{1b}[2J": "x"}}});
        for format in [Output::Text, Output::Table] {
            let out = render(&k, format, "GetPolicyVersion");
            assert!(!out.contains('\u{1b}'), "{format:?}: {out:?}");
        }
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
