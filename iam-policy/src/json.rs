//! Policy JSON with every object key seen: serde_json keeps the last of
//! two equal keys, so `"Effect":"Deny", …, "Effect":"Allow"` would read as
//! Allow. AWS refuses a document with a duplicate key anywhere; so does
//! this parser, naming the key and where it is.

use serde_json::Value as Json;
use std::collections::HashSet;

/// Parses `text` as JSON, refusing a duplicate key in any object. Errors
/// are (where, message) for a document error, or a JSON syntax message.
pub(crate) fn parse(text: &str) -> Result<Json, Error> {
    let json: Json = serde_json::from_str(text).map_err(|e| Error::Syntax(e.to_string()))?;
    duplicate_key(text).map_or(Ok(json), Err)
}

#[derive(Debug)]
pub(crate) enum Error {
    Syntax(String),
    /// `path` is where the object is (`Statement[0].Condition`), empty for
    /// the top level.
    DuplicateKey {
        path: String,
        key: String,
    },
}

/// One open object or array on the way down.
enum Frame {
    Object {
        keys: HashSet<String>,
        current: Option<String>,
    },
    Array {
        index: usize,
    },
}

/// Scans already-valid JSON for an object with two equal keys (compared
/// after unescaping, so `"Eff\u0065ct"` is `"Effect"`).
fn duplicate_key(text: &str) -> Option<Error> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Frame::Object {
                keys: HashSet::new(),
                current: None,
            }),
            b'[' => stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Array { index }) = stack.last_mut() {
                    *index += 1;
                }
            }
            b'"' => {
                let end = string_end(bytes, i);
                let is_key = matches!(stack.last(), Some(Frame::Object { .. }))
                    && bytes[end..]
                        .iter()
                        .find(|b| !b.is_ascii_whitespace())
                        .is_some_and(|b| *b == b':');
                if is_key {
                    // Valid JSON: the token decodes.
                    let key: String = serde_json::from_str(&text[i..end]).unwrap_or_default();
                    let path = path_of(&stack);
                    if let Some(Frame::Object { keys, current }) = stack.last_mut() {
                        if !keys.insert(key.clone()) {
                            return Some(Error::DuplicateKey { path, key });
                        }
                        *current = Some(key);
                    }
                }
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index just past the string token starting at `start` (a `"`).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// `Statement[0].Condition`: the keys and indexes leading to the innermost
/// open object.
fn path_of(stack: &[Frame]) -> String {
    let mut path = String::new();
    // The innermost frame is the object holding the key; its own current
    // key is a sibling, not part of the path.
    for frame in stack.iter().take(stack.len().saturating_sub(1)) {
        match frame {
            Frame::Object {
                current: Some(k), ..
            } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Object { current: None, .. } => {}
            Frame::Array { index } => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dup(text: &str) -> Option<(String, String)> {
        match parse(text) {
            Err(Error::DuplicateKey { path, key }) => Some((path, key)),
            _ => None,
        }
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth_with_their_path() {
        assert_eq!(dup(r#"{"a":1,"a":2}"#), Some((String::new(), "a".into())));
        assert_eq!(
            dup(
                r#"{"Statement":[{"Effect":"Deny"},{"Effect":"Deny","Action":"x","Effect":"Allow"}]}"#
            ),
            Some(("Statement[1]".into(), "Effect".into()))
        );
        assert_eq!(
            dup(r#"{"S":{"C":{"StringEquals":{"k":"v"},"StringEquals":{"k":"w"}}}}"#),
            Some(("S.C".into(), "StringEquals".into()))
        );
        // Escapes are compared decoded.
        assert_eq!(
            dup(r#"{"Effect":"Allow","Eff\u0065ct":"Deny"}"#),
            Some((String::new(), "Effect".into()))
        );
        // Equal keys in sibling objects, and a key equal to a value, are fine.
        assert_eq!(dup(r#"[{"a":1},{"a":2}]"#), None);
        assert_eq!(dup(r#"{"a":"a","b":["a",{"a":"\"a\""}]}"#), None);
    }
}
