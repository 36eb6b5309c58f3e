//! The documents and values `iamctl` accepts, through the `iam` parsers its
//! verbs call (its own argument parsing is private to the binary): policy
//! documents of every kind (`put-*-policy`, `create-policy`,
//! `--assume-role-policy-document`, `--resource-policy`), tag lists
//! (`--tags` JSON), typed context entries (`--context-entries`), entity
//! names, paths and ARNs (`--user-name`, `--path`, `--policy-arn`).
//!
//! Input: one selector byte, then the document.
#![no_main]

use iam::names::{
    GroupName, IamArn, IamPath, MfaDeviceName, PolicyName, RoleName, RoleSessionName, Tag,
    UserName, check_tags,
};
use iam::policy::{Context, ContextKeyType, Policy, PolicyKind};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const KINDS: [PolicyKind; 6] = [
    PolicyKind::UserInline,
    PolicyKind::GroupInline,
    PolicyKind::RoleInline,
    PolicyKind::Managed,
    PolicyKind::Trust,
    PolicyKind::Resource,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    match selector % 4 {
        0 => {
            let kind = KINDS[usize::from(selector / 4) % KINDS.len()];
            if let Err(e) = Policy::parse("fuzz", &text, kind) {
                // Errors name the statement and field; they must render.
                let _ = e.to_string();
            }
        }
        1 => {
            // `--tags '[{"Key":…,"Value":…}]'` as the store takes them.
            if let Ok(tags) = serde_json::from_str::<Vec<Tag>>(&text) {
                let _ = check_tags(&tags);
            }
        }
        2 => {
            // `--context-entries` JSON with ContextKeyType.
            let Ok(Value::Array(entries)) = serde_json::from_str::<Value>(&text) else {
                return;
            };
            let mut context = Context::new();
            for entry in entries {
                let name = entry["ContextKeyName"].as_str().unwrap_or_default();
                let values: Vec<String> = match &entry["ContextKeyValues"] {
                    Value::Array(items) => items.iter().map(|v| v.to_string()).collect(),
                    one => vec![one.to_string()],
                };
                match entry["ContextKeyType"].as_str() {
                    Some(ty) => {
                        if let Ok(ty) = ty.parse::<ContextKeyType>() {
                            let _ = context.insert_typed(name, values, ty);
                        }
                    }
                    None => context.insert(name, values),
                }
                let _ = context.get(name);
            }
        }
        _ => {
            let _ = UserName::parse(&text);
            let _ = GroupName::parse(&text);
            let _ = RoleName::parse(&text);
            let _ = PolicyName::parse(&text);
            let _ = MfaDeviceName::parse(&text);
            let _ = RoleSessionName::parse(&text);
            let _ = IamPath::parse(&text);
            if let Ok(arn) = IamArn::parse("PolicyArn", &text) {
                assert!(!arn.name.is_empty());
            }
        }
    }
});
