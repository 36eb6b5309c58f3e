//! AWS pagination (`MaxItems`, `Marker`, `IsTruncated`), generic over
//! botocore's paginators-1.json: the verbs return whole sorted lists and the
//! page is cut here.
//!
//! A marker is base64url of `offset:fingerprint`, the fingerprint naming the
//! last item handed out. Resuming looks that item up again, so the next page
//! starts after it even when items were added or removed in between; a marker
//! that does not decode or points past the end is `InvalidMarker`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::{Model, QueryError};

/// AWS's documented default and ceiling for `MaxItems`.
const DEFAULT_ITEMS: usize = 100;
const MAX_ITEMS: usize = 1000;

/// The lists read from the store a page at a time (the ones that grow
/// with a fleet), by key: their verbs take the page's size and the name
/// to continue after ([`keyset_page`]), and [`paginate`] leaves them be.
pub const KEYSET: &[&str] = &["ListUsers"];

/// `MaxItems` and the name a keyset `Marker` continues after.
pub fn keyset_page(input: &Value) -> Result<(usize, Option<String>), QueryError> {
    let after = match input.get("Marker").and_then(Value::as_str) {
        None => None,
        Some(marker) => {
            let raw = URL_SAFE_NO_PAD
                .decode(marker)
                .map_err(|_| QueryError::InvalidMarker)?;
            let text = String::from_utf8(raw).map_err(|_| QueryError::InvalidMarker)?;
            let name = text
                .strip_prefix("after:")
                .ok_or(QueryError::InvalidMarker)?;
            Some(name.to_owned())
        }
    };
    Ok((limit(input.get("MaxItems")), after))
}

/// The `Marker` that continues after `name`.
pub fn keyset_marker(name: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{name}"))
}

fn limit(max_items: Option<&Value>) -> usize {
    max_items
        .and_then(Value::as_u64)
        .map_or(DEFAULT_ITEMS, |n| {
            usize::try_from(n).unwrap_or(MAX_ITEMS).clamp(1, MAX_ITEMS)
        })
}

/// Cuts the page `input` asks for out of `output`'s result lists (one
/// sequence when the paginator names several) and sets `IsTruncated` and
/// `Marker`. Operations without a paginator, and the [`KEYSET`] ones
/// (already a page), pass through unchanged.
pub fn paginate(
    model: &Model,
    action: &str,
    input: &Value,
    mut output: Value,
) -> Result<Value, QueryError> {
    let Some(p) = model.paginators.get(action) else {
        return Ok(output);
    };
    if KEYSET.contains(&action) {
        return Ok(output);
    }
    let Value::Object(out) = &mut output else {
        return Err(QueryError::Internal(format!(
            "{action}: output is not a structure"
        )));
    };
    let limit = limit(input.get(&p.limit_key));
    let lens: Vec<usize> = p
        .result_key
        .iter()
        .map(|k| out.get(k).and_then(Value::as_array).map_or(0, Vec::len))
        .collect();
    let total: usize = lens.iter().sum();
    let nth = |out: &serde_json::Map<String, Value>, mut i: usize| -> Option<u64> {
        for (k, len) in p.result_key.iter().zip(&lens) {
            if i < *len {
                return out.get(k).and_then(|l| l.get(i)).map(fingerprint);
            }
            i -= len;
        }
        None
    };
    let start = match input.get(&p.input_token).and_then(Value::as_str) {
        None => 0,
        Some(marker) => {
            let (offset, print) = parse_marker(marker).ok_or(QueryError::InvalidMarker)?;
            if offset == 0 || offset > total {
                return Err(QueryError::InvalidMarker);
            }
            if nth(out, offset - 1) == Some(print) {
                offset
            } else {
                // The list changed: continue after the same item if it is
                // still there, else at the same position.
                (0..total)
                    .find(|&i| nth(out, i) == Some(print))
                    .map_or(offset, |i| i + 1)
            }
        }
    };
    let end = start.saturating_add(limit).min(total);
    let marker = (end < total).then(|| nth(out, end - 1).map(|print| make_marker(end, print)));
    let mut base = 0;
    for (k, len) in p.result_key.iter().zip(&lens) {
        if let Some(Value::Array(items)) = out.get_mut(k) {
            let (lo, hi) = (
                start.clamp(base, base + len) - base,
                end.clamp(base, base + len) - base,
            );
            items.truncate(hi);
            items.drain(..lo);
        }
        base += len;
    }
    out.insert(p.more_results.clone(), Value::Bool(marker.is_some()));
    match marker.flatten() {
        Some(m) => out.insert(p.output_token.clone(), Value::String(m)),
        None => out.remove(&p.output_token),
    };
    Ok(output)
}

/// FNV-1a over the item's JSON: stable across runs and builds, no secret
/// needed (the marker is a position, not a capability).
fn fingerprint(item: &Value) -> u64 {
    item.to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
}

fn make_marker(offset: usize, print: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{print:016x}"))
}

fn parse_marker(marker: &str) -> Option<(usize, u64)> {
    let raw = URL_SAFE_NO_PAD.decode(marker).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (offset, print) = text.split_once(':')?;
    if print.len() != 16 {
        return None;
    }
    Some((offset.parse().ok()?, u64::from_str_radix(print, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::super::{iam, sts};
    use super::*;
    use serde_json::json;

    fn users(n: usize) -> Value {
        let users: Vec<Value> = (0..n)
            .map(|i| json!({"UserName": format!("u{i:04}")}))
            .collect();
        json!({"Users": users, "IsTruncated": false})
    }

    fn names(out: &Value, key: &str) -> Vec<String> {
        out[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["UserName"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn pages_default_100_and_walk_to_the_end() {
        let m = iam().unwrap();
        let first = paginate(m, "GetGroup", &json!({}), users(250)).unwrap();
        assert_eq!(first["Users"].as_array().unwrap().len(), 100);
        assert_eq!(first["IsTruncated"], json!(true));
        let mut marker = first["Marker"].as_str().unwrap().to_owned();
        let mut seen = names(&first, "Users");
        loop {
            let page = paginate(
                m,
                "GetGroup",
                &json!({"Marker": marker, "MaxItems": 70}),
                users(250),
            )
            .unwrap();
            seen.extend(names(&page, "Users"));
            match page.get("Marker") {
                Some(Value::String(next)) => marker = next.clone(),
                _ => {
                    assert_eq!(page["IsTruncated"], json!(false));
                    break;
                }
            }
        }
        assert_eq!(seen, names(&users(250), "Users"));
    }

    #[test]
    fn resumes_after_the_last_item_when_the_list_changes() {
        let m = iam().unwrap();
        let first = paginate(m, "GetGroup", &json!({"MaxItems": 3}), users(10)).unwrap();
        let marker = first["Marker"].as_str().unwrap();
        // u0000 deleted between calls: the next page still starts at u0003.
        let mut changed = users(10);
        changed["Users"].as_array_mut().unwrap().remove(0);
        let next = paginate(
            m,
            "GetGroup",
            &json!({"MaxItems": 3, "Marker": marker}),
            changed,
        )
        .unwrap();
        assert_eq!(names(&next, "Users"), ["u0003", "u0004", "u0005"]);
    }

    #[test]
    fn several_result_keys_are_one_sequence() {
        let m = iam().unwrap();
        let out = json!({"PolicyGroups": [{"GroupName": "g1"}, {"GroupName": "g2"}],
            "PolicyUsers": [{"UserName": "u1"}], "PolicyRoles": [{"RoleName": "r1"}, {"RoleName": "r2"}]});
        let p1 = paginate(
            m,
            "ListEntitiesForPolicy",
            &json!({"MaxItems": 2}),
            out.clone(),
        )
        .unwrap();
        assert_eq!(p1["PolicyGroups"].as_array().unwrap().len(), 2);
        assert_eq!(p1["PolicyUsers"], json!([]));
        let p2 = paginate(
            m,
            "ListEntitiesForPolicy",
            &json!({"MaxItems": 2, "Marker": p1["Marker"]}),
            out.clone(),
        )
        .unwrap();
        assert_eq!(p2["PolicyGroups"], json!([]));
        assert_eq!(p2["PolicyUsers"], json!([{"UserName": "u1"}]));
        assert_eq!(p2["PolicyRoles"], json!([{"RoleName": "r1"}]));
        let p3 = paginate(
            m,
            "ListEntitiesForPolicy",
            &json!({"MaxItems": 2, "Marker": p2["Marker"]}),
            out,
        )
        .unwrap();
        assert_eq!(p3["PolicyRoles"], json!([{"RoleName": "r2"}]));
        assert_eq!(p3["IsTruncated"], json!(false));
        assert!(p3.get("Marker").is_none());
    }

    #[test]
    fn bad_markers_are_clean_errors_and_others_pass_through() {
        let m = iam().unwrap();
        for bad in ["", "!!", "MTA", &make_marker(11, 0), &make_marker(0, 0)] {
            let e = paginate(m, "GetGroup", &json!({"Marker": bad}), users(10)).unwrap_err();
            assert_eq!(e, QueryError::InvalidMarker, "{bad}");
            assert_eq!(e.code(), "ValidationError");
        }
        let out = json!({"Account": "123456789012"});
        assert_eq!(
            paginate(sts().unwrap(), "GetCallerIdentity", &json!({}), out.clone()).unwrap(),
            out
        );
    }

    #[test]
    fn keyset_markers_round_trip_and_bad_ones_are_clean_errors() {
        let marker = keyset_marker("bench-u000099");
        let (limit, after) = keyset_page(&json!({"Marker": marker, "MaxItems": 5})).unwrap();
        assert_eq!((limit, after.as_deref()), (5, Some("bench-u000099")));
        assert_eq!(keyset_page(&json!({})).unwrap(), (100, None));
        assert_eq!(keyset_page(&json!({"MaxItems": 5000})).unwrap().0, 1000);
        for bad in ["", "!!", &URL_SAFE_NO_PAD.encode("5:0000000000000000")] {
            assert!(matches!(
                keyset_page(&json!({"Marker": bad})),
                Err(QueryError::InvalidMarker)
            ));
        }
        // A keyset list is already a page: the generic cut leaves it be.
        let page = json!({"Users": [], "IsTruncated": true, "Marker": marker});
        assert_eq!(
            paginate(iam().unwrap(), "ListUsers", &json!({}), page.clone()).unwrap(),
            page
        );
    }
}
