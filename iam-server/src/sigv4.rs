//! AWS Signature Version 4, header form: how every call to the server is
//! authenticated (docs/SECURITY.md, "iam-server").
//!
//! Two steps, so the caller can look the key up in between:
//! [`parse`] reads the `Authorization` header and `X-Amz-Date` and refuses a
//! malformed header, an inconsistent credential scope and a request dated
//! more than [`MAX_SKEW`] from the server's clock; the caller then finds the
//! secret for [`Claim::access_key_id`] (or answers
//! [`SigError::InvalidClientTokenId`]) and [`verify`] recomputes the
//! signature over the canonical request, as AWS documents it and as botocore
//! builds it, and compares in constant time.
//!
//! The messages are AWS's wording, so an SDK user searching for one finds
//! AWS's advice. Nothing here puts a secret or a session token in a message
//! or in `Debug` output.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use iam::secret::SecretString;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm accepted.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far a request's `X-Amz-Date` may be from the server's clock, either
/// way: AWS's fixed 15 minutes. It bounds the replay of a captured request.
pub const MAX_SKEW: TimeDelta = TimeDelta::minutes(15);

/// `X-Amz-Date`'s format, ISO 8601 basic.
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Characters AWS's URI encoding leaves alone: `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, also leaving `/` (path segments' separators).
const UNRESERVED_AND_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');

const SIGNATURE_DOES_NOT_MATCH: &str = "The request signature we calculated does not match the \
     signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
     service documentation for details.";

/// Why a request is not authenticated. Each becomes one AWS error code
/// ([`SigError::aws_code`]) and HTTP status ([`SigError::status`]); the
/// `Display` text is the error's `Message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// No `Authorization` header.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header or `X-Amz-Date` is malformed; the reason
    /// is AWS's sentence for it.
    #[error("{0}")]
    IncompleteSignature(String),
    /// Dated more than [`MAX_SKEW`] before the server's clock.
    #[error(
        "Signature expired: {} is now earlier than {} ({} - 15 min.)",
        amz(*.signed_at), amz(*.now - MAX_SKEW), amz(*.now)
    )]
    Expired {
        signed_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// Dated more than [`MAX_SKEW`] after the server's clock.
    #[error(
        "Signature not yet current: {} is still later than {} ({} + 15 min.)",
        amz(*.signed_at), amz(*.now + MAX_SKEW), amz(*.now)
    )]
    NotYetCurrent {
        signed_at: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    /// The credential scope contradicts the request (date, terminator,
    /// region, service); the reason is AWS's sentence for it.
    #[error("{0}")]
    BadScope(String),
    /// The signature is not the one the key's secret gives.
    #[error("{SIGNATURE_DOES_NOT_MATCH}")]
    SignatureDoesNotMatch,
    /// The access key is unknown or inactive, or the session token does
    /// not belong to it: decided by the caller.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    /// The session token has expired: decided by the caller.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
}

impl SigError {
    /// The AWS error `Code`.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature(_) => "IncompleteSignature",
            Self::Expired { .. }
            | Self::NotYetCurrent { .. }
            | Self::BadScope(_)
            | Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::InvalidClientTokenId => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
        }
    }

    /// The HTTP status AWS answers with: 400 for a malformed header, 403
    /// for the rest.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::IncompleteSignature(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// What a request claims about its signer, read by [`parse`]; nothing in it
/// is proven until [`verify`] succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub access_key_id: String,
    /// The credential scope's region. Not checked against anything: the
    /// server has no regions, and the CLI signs with the profile's region.
    pub region: String,
    /// The credential scope's service (`iam`, `sts`, ...); see
    /// [`Claim::check_service`].
    pub service: String,
    /// `X-Amz-Date`.
    pub signed_at: DateTime<Utc>,
    /// `X-Amz-Security-Token`: set for temporary (STS) credentials.
    pub security_token: Option<SecretString>,
    /// Lowercase header names, in the order the `Authorization` header
    /// lists them.
    pub signed_headers: Vec<String>,
    signature: [u8; 32],
}

impl Claim {
    /// Refuses a request signed for another service than the one the
    /// action belongs to, as AWS does.
    pub fn check_service(&self, service: &str) -> Result<(), SigError> {
        if self.service == service {
            Ok(())
        } else {
            Err(SigError::BadScope(format!(
                "Credential should be scoped to correct service: '{service}'. "
            )))
        }
    }

    /// `YYYYMMDD/region/service/aws4_request`.
    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.signed_at.format("%Y%m%d"),
            self.region,
            self.service
        )
    }
}

/// Reads the SigV4 claims of a request, refusing one dated more than
/// [`MAX_SKEW`] from `now` (the server's clock, a parameter so tests can
/// replay a request later).
pub fn parse(parts: &Parts, now: DateTime<Utc>) -> Result<Claim, SigError> {
    let headers = &parts.headers;
    let authorization = match single(headers, "authorization")? {
        Some(value) => value,
        None => return Err(SigError::MissingAuthenticationToken),
    };
    let incomplete = |m: String| SigError::IncompleteSignature(m);
    let fields = match authorization.split_once(' ') {
        Some((ALGORITHM, rest)) => rest,
        Some((algorithm, _)) if algorithm.starts_with("AWS4-") => {
            return Err(incomplete(format!(
                "Unsupported AWS 'algorithm': '{algorithm}'."
            )));
        }
        _ => "",
    };

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let Some((name, value)) = field.split_once('=') else {
            return Err(incomplete(format!(
                "'{field}' not a valid key=value pair (missing equal-sign) in Authorization header"
            )));
        };
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(incomplete(format!(
                "Authorization header has '{name}' more than once."
            )));
        }
    }
    let amz_date = single(headers, "x-amz-date")?;
    let mut missing = String::new();
    for (name, present) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !present {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if amz_date.is_none() {
        missing.push_str("Authorization header requires existence of a 'X-Amz-Date' header. ");
    }
    let (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) =
        (credential, signed_headers, signature, amz_date)
    else {
        return Err(incomplete(missing.trim_end().to_owned()));
    };

    let signed_at = NaiveDateTime::parse_from_str(amz_date, AMZ_DATE_FORMAT)
        .map_err(|_| {
            incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
            ))
        })?
        .and_utc();

    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope[..] else {
        return Err(incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. \
             keyid/date/region/service/term, got '{credential}'"
        )));
    };
    if access_key_id.is_empty() || !access_key_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SigError::InvalidClientTokenId);
    }
    if terminator != "aws4_request" {
        return Err(SigError::BadScope(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not \
             '{terminator}'. "
        )));
    }
    let signed_on = signed_at.format("%Y%m%d").to_string();
    if date != signed_on {
        return Err(SigError::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '{date}' != '{signed_on}', from '{amz_date}'."
        )));
    }
    let name_like = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !name_like(region) {
        return Err(SigError::BadScope(format!(
            "Credential should be scoped to a valid region, not '{region}'. "
        )));
    }
    if !name_like(service) {
        return Err(SigError::BadScope(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }

    let signed_headers: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
    if !signed_headers.iter().any(|h| h == "host") {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    if let Some(bad) = signed_headers
        .iter()
        .find(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return Err(incomplete(format!(
            "Signed header names must be lowercase and not empty, got '{bad}'."
        )));
    }
    let signature = decode_hex32(signature).ok_or(SigError::SignatureDoesNotMatch)?;

    if signed_at < now - MAX_SKEW {
        return Err(SigError::Expired { signed_at, now });
    }
    if signed_at > now + MAX_SKEW {
        return Err(SigError::NotYetCurrent { signed_at, now });
    }

    let security_token =
        single(headers, "x-amz-security-token")?.map(|t| SecretString::from(t.to_owned()));
    Ok(Claim {
        access_key_id: access_key_id.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_at,
        security_token,
        signed_headers,
        signature,
    })
}

/// Checks the claim's signature over the request and `body` with `secret`,
/// the secret access key of [`Claim::access_key_id`].
pub fn verify(
    parts: &Parts,
    body: &[u8],
    claim: &Claim,
    secret: &SecretString,
) -> Result<(), SigError> {
    let payload_hash = hex(&Sha256::digest(body));
    // A stated payload hash must be the body's: never `UNSIGNED-PAYLOAD`.
    let stated = single(&parts.headers, "x-amz-content-sha256")?;
    if stated.is_some_and(|stated| !stated.eq_ignore_ascii_case(&payload_hash)) {
        return Err(SigError::SignatureDoesNotMatch);
    }
    let canonical = canonical_request(parts, &claim.signed_headers, &payload_hash)
        .ok_or(SigError::SignatureDoesNotMatch)?;
    let to_sign = string_to_sign(claim, &canonical);

    let mut mac = signing_mac(secret, claim)?;
    mac.update(to_sign.as_bytes());
    mac.verify_slice(&claim.signature)
        .map_err(|_| SigError::SignatureDoesNotMatch)
}

/// The canonical request, or `None` when a signed header is missing.
fn canonical_request(
    parts: &Parts,
    signed_headers: &[String],
    payload_hash: &str,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(parts.uri.path()).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(parts.uri.query().unwrap_or("")).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        let mut values = parts.headers.get_all(name.as_str()).iter().peekable();
        values.peek()?;
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            trim_all(value.as_bytes(), &mut out);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    Some(out)
}

fn string_to_sign(claim: &Claim, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        amz(claim.signed_at),
        claim.scope(),
        hex(&Sha256::digest(canonical_request))
    )
}

/// The HMAC keyed with the signing key derived from `secret` for the
/// claim's date, region and service; intermediate keys are zeroized.
fn signing_mac(secret: &SecretString, claim: &Claim) -> Result<HmacSha256, SigError> {
    let mut key = Zeroizing::new(format!("AWS4{}", secret.expose()).into_bytes());
    let date = claim.signed_at.format("%Y%m%d").to_string();
    for part in [date.as_str(), &claim.region, &claim.service, "aws4_request"] {
        let mut mac =
            HmacSha256::new_from_slice(&key).map_err(|_| SigError::SignatureDoesNotMatch)?;
        mac.update(part.as_bytes());
        key = Zeroizing::new(mac.finalize().into_bytes().to_vec());
    }
    HmacSha256::new_from_slice(&key).map_err(|_| SigError::SignatureDoesNotMatch)
}

/// The path as botocore signs it for every service but S3: dot segments
/// and empty segments removed, then URI-encoded (again: the path arrives
/// encoded).
fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut normalized = String::with_capacity(path.len() + 1);
    for s in &segments {
        normalized.push('/');
        normalized.push_str(s);
    }
    if path.ends_with('/') && !segments.is_empty() || normalized.is_empty() {
        normalized.push('/');
    }
    utf8_percent_encode(&normalized, UNRESERVED_AND_SLASH).to_string()
}

/// Query parameters decoded, URI-encoded the AWS way (`+` is a plus, not
/// a space), sorted by name, then value.
fn canonical_query(query: &str) -> String {
    let encode = |s: &str| -> String {
        let bytes: Vec<u8> = percent_decode_str(s).collect();
        percent_encoding::percent_encode(&bytes, UNRESERVED).to_string()
    };
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            (encode(name), encode(value))
        })
        .collect();
    pairs.sort();
    let mut out = String::with_capacity(query.len());
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        let _ = write!(out, "{name}={value}");
    }
    out
}

/// AWS's Trimall: no leading or trailing whitespace, runs of it one space.
fn trim_all(value: &[u8], out: &mut Vec<u8>) {
    let mut words = value
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    if let Some(first) = words.next() {
        out.extend_from_slice(first);
    }
    for word in words {
        out.push(b' ');
        out.extend_from_slice(word);
    }
}

/// The one value of header `name`; two are a malformed request.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, SigError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(SigError::IncompleteSignature(format!(
            "The request has more than one '{name}' header."
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| SigError::IncompleteSignature(format!("The '{name}' header is not ASCII.")))
}

fn amz(t: DateTime<Utc>) -> String {
    t.format(AMZ_DATE_FORMAT).to_string()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// 64 lowercase hex digits, as every AWS signer writes a signature.
fn decode_hex32(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
