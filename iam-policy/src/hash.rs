//! The one hash of the engine, shared by the action index and context keys.

/// FNV-1a over ASCII-lowercased bytes: a cheap, allocation-free hash for
/// service prefixes and context keys.
pub(crate) fn fnv_lower(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b.to_ascii_lowercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
