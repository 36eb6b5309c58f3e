//! Input as the AWS CLI takes it: `file://` and `fileb://` documents, tags in
//! shorthand or JSON, and passwords from a terminal prompt or stdin (never
//! argv).

use crate::error::CliError;
use iam::secret::SecretString;
use std::io::{BufRead, IsTerminal, Read};

/// The most a `file://` argument may hold: far above any document iamctl
/// takes (an authorization-details import of a large account included),
/// and a bound on what a caller of the setuid binary can make it allocate
/// (`file:///dev/zero` read until memory ran out).
const MAX_PARAMFILE_BYTES: u64 = 64 << 20;

/// Whether `file://` arguments name files to read. iamctl reads them (with
/// its caller's rights); iam-server never does: in a request, `file://…` is
/// just text, and reading it would hand the server's files to its callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamFiles {
    Read,
    Literal,
}

/// A document argument: literal text, `file://PATH` (text) or `fileb://PATH`
/// (bytes, which must still be UTF-8 JSON here).
pub fn document(arg: &str, files: ParamFiles) -> Result<String, CliError> {
    let path = arg
        .strip_prefix("file://")
        .or_else(|| arg.strip_prefix("fileb://"));
    match (path, files) {
        (Some(path), ParamFiles::Read) => read_file(path, arg),
        _ => Ok(arg.to_owned()),
    }
}

/// A file named by the caller, read with the caller's rights and at most
/// [`MAX_PARAMFILE_BYTES`]; `arg` is how the caller named it, for errors.
pub fn read_file(path: &str, arg: &str) -> Result<String, CliError> {
    let bytes = crate::setuid::as_invoker(|| {
        let mut bytes = Vec::new();
        std::fs::File::open(path)?
            .take(MAX_PARAMFILE_BYTES + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    })
    .map_err(|e| {
        CliError::invalid_input(format!(
            "Error parsing parameter: Unable to load paramfile {arg}: {e}"
        ))
    })?;
    if bytes.len() as u64 > MAX_PARAMFILE_BYTES {
        return Err(CliError::invalid_input(format!(
            "Error parsing parameter: paramfile {arg} is larger than {} MiB",
            MAX_PARAMFILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        CliError::invalid_input(format!("Error parsing parameter: {arg} is not UTF-8 text"))
    })
}

/// `--tags Key=a,Value=1 Key=b,Value=2` or `--tags '[{"Key":"a","Value":"1"}]'`.
pub fn tags(args: &[String], files: ParamFiles) -> Result<Vec<(String, String)>, CliError> {
    let mut out = Vec::new();
    for arg in args {
        let arg = document(arg, files)?;
        let trimmed = arg.trim_start();
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(trimmed).map_err(|e| {
                CliError::invalid_input(format!(
                    "Error parsing parameter '--tags': Invalid JSON: {e}"
                ))
            })?;
            let items = match v {
                serde_json::Value::Array(items) => items,
                one @ serde_json::Value::Object(_) => vec![one],
                _ => return Err(bad_tag(&arg)),
            };
            for item in items {
                let key = item.get("Key").and_then(|k| k.as_str());
                let value = item.get("Value").and_then(|k| k.as_str()).unwrap_or("");
                match key {
                    Some(k) => out.push((k.to_owned(), value.to_owned())),
                    None => return Err(bad_tag(&arg)),
                }
            }
        } else {
            let mut key = None;
            let mut value = None;
            for part in arg.split(',') {
                match part.split_once('=') {
                    Some(("Key", k)) => key = Some(k.to_owned()),
                    Some(("Value", v)) => value = Some(v.to_owned()),
                    _ => return Err(bad_tag(&arg)),
                }
            }
            match key {
                Some(k) => out.push((k, value.unwrap_or_default())),
                None => return Err(bad_tag(&arg)),
            }
        }
    }
    Ok(out)
}

fn bad_tag(arg: &str) -> CliError {
    CliError::invalid_input(format!(
        "Error parsing parameter '--tags': expected Key=k,Value=v or a JSON list, got: {arg}"
    ))
}

/// `--tag-keys a b` or `--tag-keys '["a","b"]'`.
pub fn tag_keys(args: &[String]) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for arg in args {
        if arg.trim_start().starts_with('[') {
            let keys: Vec<String> = serde_json::from_str(arg).map_err(|e| {
                CliError::invalid_input(format!("Error parsing parameter '--tag-keys': {e}"))
            })?;
            out.extend(keys);
        } else {
            out.push(arg.clone());
        }
    }
    Ok(out)
}

/// A secret a verb needs, named as AWS's request parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    Password,
    OldPassword,
    NewPassword,
    /// assume-role's MFA code.
    TokenCode,
}

impl Secret {
    fn prompt(self) -> &'static str {
        match self {
            Self::Password => "Password: ",
            Self::OldPassword => "Old password: ",
            Self::NewPassword => "New password: ",
            Self::TokenCode => "MFA code: ",
        }
    }

    /// AWS's parameter name.
    pub fn parameter(self) -> &'static str {
        match self {
            Self::Password => "Password",
            Self::OldPassword => "OldPassword",
            Self::NewPassword => "NewPassword",
            Self::TokenCode => "TokenCode",
        }
    }
}

/// Where secrets come from: on a host, the terminal (no echo) or, when
/// stdin is not a terminal, one line of stdin per secret (never argv); in a
/// request to iam-server, its parameters.
pub enum Secrets {
    Prompt { from_tty: bool },
    Given(Vec<(Secret, SecretString)>),
}

impl Secrets {
    /// At the terminal, or from stdin when it is not one.
    pub fn prompt() -> Self {
        Self::Prompt {
            from_tty: std::io::stdin().is_terminal(),
        }
    }

    /// Whether `which` can be read: given in the request, or asked for.
    pub fn offers(&self, which: Secret) -> bool {
        match self {
            Self::Prompt { .. } => true,
            Self::Given(given) => given.iter().any(|(s, _)| *s == which),
        }
    }

    pub fn read(&mut self, which: Secret) -> Result<SecretString, CliError> {
        self.read_prompted(which, which.prompt())
    }

    /// A secret asked for with `prompt` (the TOTP code of assume-role).
    pub fn read_prompted(&mut self, which: Secret, prompt: &str) -> Result<SecretString, CliError> {
        match self {
            Self::Prompt { from_tty: true } => rpassword::prompt_password(prompt)
                .map(SecretString::new)
                .map_err(|e| {
                    CliError::invalid_input(format!(
                        "cannot read a password from the terminal: {e}"
                    ))
                }),
            Self::Prompt { from_tty: false } => Ok(SecretString::new(secret_line(
                std::io::stdin().lock(),
                prompt,
            )?)),
            Self::Given(given) => match given.iter().position(|(s, _)| *s == which) {
                Some(i) => Ok(given.swap_remove(i).1),
                None => Err(CliError::new(
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                        lower_first(which.parameter())
                    ),
                )),
            },
        }
    }

    /// A new password, asked twice on a terminal.
    pub fn read_new(&mut self, which: Secret) -> Result<SecretString, CliError> {
        let first = self.read(which)?;
        if let Self::Prompt { from_tty: true } = self {
            let again = self.read_prompted(which, "Retype new password: ")?;
            if again != first {
                return Err(CliError::invalid_input("The passwords do not match."));
            }
        }
        Ok(first)
    }
}

/// `OldPassword` → `oldPassword`, as AWS names members in its messages.
fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// The longest stdin line taken as a secret (passwords are at most 128
/// characters): `iamctl change-password < /dev/zero` must not make the
/// setuid process read until memory runs out.
const MAX_SECRET_LINE_BYTES: u64 = 4096;

/// One line of `input` as a secret, without its line ending.
fn secret_line(input: impl BufRead, prompt: &str) -> Result<String, CliError> {
    let mut line = String::new();
    let n = input
        .take(MAX_SECRET_LINE_BYTES + 1)
        .read_line(&mut line)
        .map_err(|e| CliError::invalid_input(format!("cannot read a password from stdin: {e}")))?;
    if n == 0 {
        return Err(CliError::invalid_input(format!(
            "no password on stdin ({})",
            prompt.trim_end_matches([':', ' '])
        )));
    }
    if n as u64 > MAX_SECRET_LINE_BYTES {
        // Not returned, so zeroize what was read.
        drop(SecretString::new(line));
        return Err(CliError::invalid_input(format!(
            "the password line on stdin is longer than {MAX_SECRET_LINE_BYTES} bytes"
        )));
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

/// Decode `%XX` escapes (AWS's API returns policy documents URL-encoded,
/// RFC 3986 style: `+` stays `+`).
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_in_shorthand_and_json() {
        let t = tags(
            &["Key=env,Value=prod".into(), "Key=team,Value=".into()],
            ParamFiles::Read,
        )
        .unwrap();
        assert_eq!(
            t,
            vec![("env".into(), "prod".into()), ("team".into(), "".into())]
        );
        let t = tags(
            &[r#"[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]"#.into()],
            ParamFiles::Read,
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert!(tags(&["env=prod".into()], ParamFiles::Read).is_err());
        assert_eq!(
            tag_keys(&["a".into(), r#"["b","c"]"#.into()]).unwrap(),
            vec!["a", "b", "c"]
        );
    }

    #[test]
    fn documents_from_files_only_when_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.json");
        std::fs::write(&p, "{\"Version\":\"2012-10-17\"}").unwrap();
        assert_eq!(
            document(&format!("file://{}", p.display()), ParamFiles::Read).unwrap(),
            "{\"Version\":\"2012-10-17\"}"
        );
        assert!(document(&format!("fileb://{}", p.display()), ParamFiles::Read).is_ok());
        assert!(document("file:///nonexistent/x", ParamFiles::Read).is_err());
        assert_eq!(document("{}", ParamFiles::Read).unwrap(), "{}");
        // A request to iam-server: the text itself, never the server's file.
        let literal = format!("file://{}", p.display());
        assert_eq!(document(&literal, ParamFiles::Literal).unwrap(), literal);
    }

    #[test]
    fn secret_lines_are_bounded() {
        let p = "Password: ";
        assert_eq!(secret_line(&b"pw\r\nnext\n"[..], p).unwrap(), "pw");
        assert!(secret_line(&b""[..], p).is_err());
        // Regression (issue 8): a line without end was read to exhaustion.
        let endless = std::io::BufReader::new(std::io::repeat(b'a'));
        let err = secret_line(endless, p).unwrap_err();
        assert!(err.to_string().contains("longer than 4096"), "{err}");
    }

    #[test]
    fn endless_paramfiles_are_refused_not_read_to_exhaustion() {
        // Regression (issue 8): file:///dev/zero was read until the setuid
        // process ran out of memory.
        let err = document("file:///dev/zero", ParamFiles::Read).unwrap_err();
        assert!(err.to_string().contains("larger than 64 MiB"), "{err}");
    }

    #[test]
    fn url_decoding() {
        assert_eq!(url_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(url_decode("a+b%2"), "a+b%2");
    }
}
