//! `access-report`'s formats: JSON as every verb prints it, a text table
//! (one row per path, then logins that lead to no role), and a
//! self-contained HTML page (`access_report.html`: inline CSS, SVG drawn by
//! a small inline script, the report embedded as JSON; no external asset).

use crate::cli::Output;
use crate::output;
use serde_json::Value;

const PAGE: &str = include_str!("access_report.html");

/// The report in `format` (`table` is the text table too).
pub fn render(report: &Value, format: Output) -> String {
    match format {
        Output::Json => output::render(report, format, "AccessReport"),
        Output::Text | Output::Table => output::terminal_safe(&table(report), Output::Text),
        Output::Html => output::terminal_safe(&page(report), Output::Json),
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn mfa_word(gate: &Value) -> &'static str {
    if str_of(gate, "Mfa") == "Required" {
        "MFA"
    } else {
        "no MFA"
    }
}

/// What the granting statements' conditions test, for one or more steps.
fn conditions<'a>(gates: impl IntoIterator<Item = &'a Value>) -> String {
    let mut kinds: Vec<&str> = gates
        .into_iter()
        .flat_map(|g| list(g, "Conditions"))
        .filter_map(Value::as_str)
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.is_empty() {
        "-".to_owned()
    } else {
        kinds.join(",")
    }
}

/// One row per path (user, host, role, run-as), the paths to root without
/// MFA marked `!`, then the logins that lead to no role.
fn table(report: &Value) -> String {
    let mut rows: Vec<[String; 8]> = vec![
        [
            "USER",
            "HOST",
            "LOGIN",
            "ROLE",
            "RUN AS",
            "PATH",
            "CONDITIONS",
            "ROOT W/O MFA",
        ]
        .map(str::to_owned),
    ];
    for user in list(report, "Users") {
        let name = str_of(user, "UserName");
        let logins = list(user, "Logins");
        let login_on = |host: &str| logins.iter().find(|l| str_of(l, "Hostname") == host);
        for e in list(user, "Elevations") {
            let host = str_of(e, "Hostname");
            let login = login_on(host);
            let steps = login
                .into_iter()
                .chain(e.get("AssumeRole"))
                .chain(e.get("RunAs"));
            let root = e.get("RootWithoutMfa").and_then(Value::as_bool) == Some(true);
            rows.push([
                name.to_owned(),
                host.to_owned(),
                login.map_or("-", mfa_word).to_owned(),
                str_of(e, "RoleName").to_owned(),
                str_of(e, "RunAsUser").to_owned(),
                mfa_word(e).to_owned(),
                conditions(steps),
                if root { "!" } else { "" }.to_owned(),
            ]);
        }
        for login in logins {
            let host = str_of(login, "Hostname");
            if !list(user, "Elevations")
                .iter()
                .any(|e| str_of(e, "Hostname") == host)
            {
                rows.push([
                    name.to_owned(),
                    host.to_owned(),
                    mfa_word(login).to_owned(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    conditions([login]),
                    String::new(),
                ]);
            }
        }
    }
    let mut widths = [0usize; 8];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let summary = report.get("Summary").unwrap_or(&Value::Null);
    let count = |k: &str| summary.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mut out = format!(
        "Access report, account {}, {}: {} users, {} hosts, {} roles; {} paths to root, {} without MFA\n",
        str_of(report, "AccountId"),
        str_of(report, "GeneratedTime"),
        count("Users"),
        count("Hosts"),
        count("Roles"),
        count("PathsToRoot"),
        count("PathsToRootWithoutMfa"),
    );
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The page with the report embedded. Inside `<script>` only `</` could end
/// the element early; every `<`, `>` and `&` goes in as a JSON escape, as
/// do the two line separators JavaScript once refused in strings.
fn page(report: &Value) -> String {
    let json = report
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
    PAGE.replacen("/*REPORT*/", &json, 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_cannot_be_closed_by_a_name_in_the_report() {
        let report = json!({"Users": [{"UserName": "</script><script>alert(1)</script>"}]});
        let html = page(&report);
        assert_eq!(
            html.matches("</script>").count(),
            2,
            "only the page's own two"
        );
        assert!(html.contains("\\u003c/script\\u003e"));
        assert!(!html.contains("/*REPORT*/"));
    }
}
