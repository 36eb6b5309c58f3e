//! TOTP (RFC 6238) as authenticator apps do it: HMAC-SHA1, 6 digits, 30 s.
//!
//! This module only computes. The caller stores the last accepted step per
//! MFA device and sets it with a compare-and-set, which is what makes a code
//! single-use across processes and hosts; [`verify`] refuses any step not
//! newer than the one it is given.

use chrono::{DateTime, Utc};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use totp_rs::{Rfc6238, TOTP};
use zeroize::Zeroize;

use crate::secret::{SecretBytes, SecretString};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a generated secret: 160 bits, RFC 4226's recommendation and
/// what AWS and Google Authenticator use.
pub const SECRET_BYTES: usize = 20;
/// RFC 4226 §4: a shared secret of at least 128 bits. Shorter stored
/// secrets never verify.
pub const MIN_SECRET_BYTES: usize = 16;

/// The secret could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error("cannot read random bytes for a TOTP secret: {0}")]
    Random(getrandom::Error),
}

/// A fresh random secret for a virtual MFA device.
pub fn generate_secret() -> Result<SecretBytes, TotpError> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(TotpError::Random)?;
    Ok(SecretBytes::new(bytes))
}

/// The secret as authenticator apps take it typed in: RFC 4648 base32,
/// no padding (AWS's `Base32StringSeed`).
pub fn secret_base32(secret: &SecretBytes) -> SecretString {
    SecretString::new(base32_encode(secret.expose()))
}

/// Decodes a base32 secret as [`secret_base32`] writes it (case-insensitive,
/// padding and spaces ignored), e.g. for a seed imported from elsewhere.
pub fn secret_from_base32(text: &SecretString) -> Option<SecretBytes> {
    let mut out = Vec::with_capacity(text.expose().len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for c in text.expose().chars() {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            '=' | ' ' => continue,
            _ => {
                out.zeroize();
                return None;
            }
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    buffer.zeroize();
    Some(SecretBytes::new(out))
}

/// The `otpauth://` URI an authenticator app scans from a QR code
/// (Google Authenticator key URI format). The label is `Issuer:account`;
/// both parts and the issuer parameter are percent-encoded.
pub fn otpauth_uri(issuer: &str, account_name: &str, secret: &SecretBytes) -> SecretString {
    let issuer = percent_encode(issuer);
    let mut uri = format!(
        "otpauth://totp/{issuer}:{}?secret=",
        percent_encode(account_name)
    );
    let mut b32 = base32_encode(secret.expose());
    uri.push_str(&b32);
    b32.zeroize();
    uri.push_str(&format!(
        "&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    ));
    SecretString::new(uri)
}

/// The code for the step containing `unix` seconds (empty, and so never
/// accepted, for a secret shorter than [`MIN_SECRET_BYTES`]).
pub fn code_at(secret: &SecretBytes, unix: u64) -> SecretString {
    code_for_step(secret, unix / STEP_SECONDS).unwrap_or_default()
}

/// The step `now` falls in; `None` before 1970.
pub fn step_at(now: DateTime<Utc>) -> Option<u64> {
    u64::try_from(now.timestamp())
        .ok()
        .map(|t| t / STEP_SECONDS)
}

/// Checks `code` against the steps within ±`skew_steps` of `now` and
/// returns the newest matching step, but only one newer than
/// `last_accepted_step`: a code is never accepted twice, nor a code older
/// than one already used. The caller must then store the step with a
/// compare-and-set against `last_accepted_step`.
///
/// Input that is not exactly six ASCII digits is refused before the secret
/// is touched; every step in the window is computed and compared in
/// constant time, so timing says nothing about which step matched.
pub fn verify(
    secret: &SecretBytes,
    code: &SecretString,
    now: DateTime<Utc>,
    skew_steps: u8,
    last_accepted_step: Option<u64>,
) -> Option<u64> {
    let code = code.expose().as_bytes();
    if code.len() != DIGITS || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let current = step_at(now)?;
    let skew = u64::from(skew_steps);
    let first = current.saturating_sub(skew);
    let last = current.saturating_add(skew);
    // The smallest step that may still be accepted.
    let floor = match last_accepted_step {
        Some(s) => s.checked_add(1)?,
        None => 0,
    };
    let mut found = 0u64;
    let mut any = Choice::from(0);
    for step in first..=last {
        let candidate = code_for_step(secret, step)?;
        // Steps ascend, so the newest match is the one left in `found`.
        let matches = candidate.expose().as_bytes().ct_eq(code) & !floor.ct_gt(&step);
        found = u64::conditional_select(&found, &step, matches);
        any |= matches;
    }
    bool::from(any).then_some(found)
}

/// Checks two consecutive codes the way `EnableMFADevice` does: `code1`
/// for one step and `code2` for the next, within ±`skew_steps` of `now`.
/// Returns the step of `code2` (the device's first last-accepted step).
pub fn verify_consecutive(
    secret: &SecretBytes,
    code1: &SecretString,
    code2: &SecretString,
    now: DateTime<Utc>,
    skew_steps: u8,
) -> Option<u64> {
    // Look one step further back for code1 so code2 may be the current one.
    let current = step_at(now)?;
    let skew = u64::from(skew_steps);
    let mut matched = None;
    for step1 in current.saturating_sub(skew + 1)..=current.saturating_add(skew) {
        let step2 = step1.checked_add(1)?;
        let ok1 = code_for_step(secret, step1)?
            .expose()
            .as_bytes()
            .ct_eq(code1.expose().as_bytes());
        let ok2 = code_for_step(secret, step2)?
            .expose()
            .as_bytes()
            .ct_eq(code2.expose().as_bytes());
        if bool::from(ok1 & ok2) {
            matched = Some(step2);
        }
    }
    matched
}

/// How far `ResyncMFADevice` looks for a drifted device's two codes:
/// ±120 steps (an hour either way), as authenticator servers search a
/// wider window on resynchronisation than at login. Two consecutive codes
/// match by chance in about 241 in 10^12 tries.
pub const RESYNC_WINDOW_STEPS: u8 = 120;

/// A device's drift, from two consecutive codes it shows now
/// (`ResyncMFADevice`): the codes' steps searched within
/// ±[`RESYNC_WINDOW_STEPS`] of `now`. Returns how many steps the device runs
/// ahead (negative: behind) and the step of `code2`, which the caller
/// claims so that neither code works again.
pub fn resync(
    secret: &SecretBytes,
    code1: &SecretString,
    code2: &SecretString,
    now: DateTime<Utc>,
) -> Option<(i64, u64)> {
    let step2 = verify_consecutive(secret, code1, code2, now, RESYNC_WINDOW_STEPS)?;
    let current = i64::try_from(step_at(now)?).ok()?;
    Some((i64::try_from(step2).ok()? - current, step2))
}

/// The 6-digit code of one step; `None` for a secret shorter than
/// [`MIN_SECRET_BYTES`].
fn code_for_step(secret: &SecretBytes, step: u64) -> Option<SecretString> {
    let time = step.checked_mul(STEP_SECONDS)?;
    let mut totp = totp_for(secret, DIGITS)?;
    let code = SecretString::new(totp.generate(time));
    totp.secret.zeroize();
    Some(code)
}

/// totp-rs holds its own copy of the secret in a plain `Vec`; callers
/// zeroize `totp.secret` when done. `Rfc6238` is the one constructor whose
/// signature does not change with totp-rs's cargo features.
fn totp_for(secret: &SecretBytes, digits: usize) -> Option<TOTP> {
    if secret.expose().len() < MIN_SECRET_BYTES {
        return None;
    }
    let mut rfc = Rfc6238::with_defaults(secret.expose().to_vec()).ok()?;
    rfc.digits(digits).ok()?;
    TOTP::from_rfc6238(rfc).ok()
}

pub(crate) fn base32_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    buffer.zeroize();
    out
}

/// RFC 3986: everything but unreserved characters is %-escaped.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rfc_secret() -> SecretBytes {
        SecretBytes::new(b"12345678901234567890".to_vec())
    }

    fn at(unix: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(unix, 0).unwrap()
    }

    fn code(s: &str) -> SecretString {
        SecretString::from(s)
    }

    /// RFC 6238 Appendix B, SHA1 rows (8 digits).
    const RFC_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    #[test]
    fn rfc6238_appendix_b_sha1() {
        for (t, expected) in RFC_VECTORS {
            let mut totp = totp_for(&rfc_secret(), 8).unwrap();
            assert_eq!(totp.generate(t), expected, "T={t}");
            totp.secret.zeroize();
            // Six digits are the low six of the same truncation.
            assert_eq!(code_at(&rfc_secret(), t).expose(), &expected[2..], "T={t}");
        }
    }

    #[test]
    fn verify_accepts_the_current_code_and_skew() {
        let s = rfc_secret();
        let now = 1_234_567_890;
        let step = now as u64 / 30;
        let c = code_at(&s, now as u64);
        assert_eq!(verify(&s, &c, at(now), 1, None), Some(step));
        // Previous and next step's codes within skew 1.
        let prev = code_at(&s, now as u64 - 30);
        let next = code_at(&s, now as u64 + 30);
        assert_eq!(verify(&s, &prev, at(now), 1, None), Some(step - 1));
        assert_eq!(verify(&s, &next, at(now), 1, None), Some(step + 1));
        assert_eq!(verify(&s, &prev, at(now), 0, None), None);
        // Two steps away is refused at skew 1, accepted at skew 2.
        let old = code_at(&s, now as u64 - 60);
        assert_eq!(verify(&s, &old, at(now), 1, None), None);
        assert_eq!(verify(&s, &old, at(now), 2, None), Some(step - 2));
    }

    #[test]
    fn a_step_is_never_accepted_twice() {
        let s = rfc_secret();
        let now = 2_000_000_000;
        let c = code_at(&s, now as u64);
        let step = verify(&s, &c, at(now), 1, None).unwrap();
        assert_eq!(verify(&s, &c, at(now), 1, Some(step)), None, "replay");
        assert_eq!(
            verify(&s, &c, at(now + 30), 1, Some(step)),
            None,
            "replay later"
        );
        // An older code is refused once a newer step was used.
        let prev = code_at(&s, now as u64 - 30);
        assert_eq!(verify(&s, &prev, at(now), 1, Some(step)), None);
        // The next step's code is fine.
        let next = code_at(&s, now as u64 + 30);
        assert_eq!(
            verify(&s, &next, at(now + 30), 1, Some(step)),
            Some(step + 1)
        );
        assert_eq!(verify(&s, &c, at(now), 1, Some(u64::MAX)), None);
    }

    #[test]
    fn malformed_codes_and_secrets_are_refused() {
        let s = rfc_secret();
        let now = 1_111_111_111;
        let good = code_at(&s, now as u64);
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            " 123456",
            "١٢٣٤٥٦",
            "050471\n",
        ] {
            assert_eq!(verify(&s, &code(bad), at(now), 1, None), None, "{bad:?}");
        }
        assert_eq!(good.expose(), "050471");
        let short = SecretBytes::new(b"0123456789".to_vec());
        let short_code = code_at(&short, now as u64);
        assert_eq!(verify(&short, &short_code, at(now), 1, None), None);
        assert_eq!(verify(&s, &good, at(-5), 1, None), None, "before 1970");
        assert_eq!(
            verify(&s, &good, at(now), u8::MAX, None),
            Some(now as u64 / 30)
        );
    }

    #[test]
    fn consecutive_codes_for_enrolment() {
        let s = generate_secret().unwrap();
        let now = 1_700_000_000u64;
        let (c1, c2) = (code_at(&s, now - 30), code_at(&s, now));
        assert_eq!(
            verify_consecutive(&s, &c1, &c2, at(now as i64), 1),
            Some(now / 30)
        );
        assert_eq!(verify_consecutive(&s, &c2, &c1, at(now as i64), 1), None);
        let c3 = code_at(&s, now + 30);
        assert_eq!(verify_consecutive(&s, &c1, &c3, at(now as i64), 1), None);
    }

    /// A device whose clock is off by `d` steps shows, now, the codes of
    /// step `now + d`; resync finds `d` anywhere in its window and no
    /// further.
    #[test]
    fn resync_finds_the_drift_of_a_device_within_its_window() {
        let s = generate_secret().unwrap();
        let now = 1_800_000_000i64;
        for drift in [-120i64, -17, -1, 0, 1, 9, 119] {
            let shown = |k: i64| code_at(&s, (now + (drift + k) * 30) as u64);
            assert_eq!(
                resync(&s, &shown(-1), &shown(0), at(now)),
                Some((drift, (now / 30 + drift) as u64)),
                "drift {drift}"
            );
            // Not consecutive, or reversed: no proof.
            assert_eq!(resync(&s, &shown(0), &shown(-1), at(now)), None);
            assert_eq!(resync(&s, &shown(-2), &shown(0), at(now)), None);
        }
        let far = |k: i64| code_at(&s, (now + (200 + k) * 30) as u64);
        assert_eq!(resync(&s, &far(-1), &far(0), at(now)), None);
        assert_eq!(resync(&s, &code("000000"), &code("000001"), at(now)), None);
    }

    #[test]
    fn generated_secrets_are_random_and_round_trip() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_eq!(a.expose().len(), SECRET_BYTES);
        assert_ne!(a, b);
        let text = secret_base32(&a);
        assert_eq!(text.expose().len(), 32);
        assert_eq!(secret_from_base32(&text), Some(a));
        assert_eq!(
            secret_base32(&SecretBytes::new(b"12345678901234567890".to_vec())).expose(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            secret_from_base32(&SecretString::from(
                "gezd gnbv gy3t qojq gezd gnbv gy3t qojq"
            )),
            Some(rfc_secret())
        );
        assert_eq!(secret_from_base32(&SecretString::from("GEZ1")), None);
    }

    #[test]
    fn otpauth_uri_shape() {
        let uri = otpauth_uri("pam_iam web 1", "alice@123456789012", &rfc_secret());
        assert_eq!(
            uri.expose(),
            "otpauth://totp/pam_iam%20web%201:alice%40123456789012?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=pam_iam%20web%201&algorithm=SHA1&digits=6&period=30"
        );
        assert!(
            otpauth_uri("a:b", "c", &rfc_secret())
                .expose()
                .starts_with("otpauth://totp/a%3Ab:c?")
        );
    }

    /// Cross-check with oath-toolkit, the implementation the e2e tests
    /// type codes from. Skips when oathtool is missing, unless CI is set.
    #[test]
    fn agrees_with_oathtool() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let probe = std::process::Command::new("oathtool")
            .arg("--version")
            .output();
        if probe.is_err() {
            assert!(!ci, "oathtool is required under CI");
            eprintln!("skipped: oathtool not installed");
            return;
        }
        let secrets = [rfc_secret(), generate_secret().unwrap()];
        for secret in &secrets {
            let b32 = secret_base32(secret);
            for t in [
                59u64,
                1_111_111_109,
                1_700_000_000,
                2_000_000_000,
                20_000_000_000,
            ] {
                let out = std::process::Command::new("oathtool")
                    .args(["--totp", "-b", b32.expose(), &format!("--now=@{t}")])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "{out:?}");
                let theirs = String::from_utf8(out.stdout).unwrap();
                assert_eq!(code_at(secret, t).expose(), theirs.trim(), "T={t}");
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn own_code_verifies_at_its_step(
            seed in proptest::collection::vec(any::<u8>(), 16..64),
            t in 0u64..40_000_000_000,
        ) {
            let secret = SecretBytes::new(seed);
            let now = Utc.timestamp_opt(t as i64, 0).unwrap();
            let code = code_at(&secret, t);
            prop_assert_eq!(code.expose().len(), 6);
            prop_assert_eq!(verify(&secret, &code, now, 0, None), Some(t / 30));
            prop_assert_eq!(verify(&secret, &code, now, 1, Some(t / 30)), None);
        }

        #[test]
        fn base32_round_trips(seed in proptest::collection::vec(any::<u8>(), 0..64)) {
            let secret = SecretBytes::new(seed);
            prop_assert_eq!(secret_from_base32(&secret_base32(&secret)), Some(secret));
        }
    }
}
