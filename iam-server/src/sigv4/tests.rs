use super::*;
use chrono::TimeZone;
use http::Request;

/// A request as it reaches the server: `target` is the request line's
/// path and query, `headers` in wire order (repeats allowed).
fn parts(method: &str, target: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().method(method).uri(target);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

fn at(amz_date: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(amz_date, AMZ_DATE_FORMAT)
        .unwrap()
        .and_utc()
}

// ---- AWS's published SigV4 test suite (aws-sig-v4-test-suite, 2015-08-30).

const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_DATE: &str = "20150830T123600Z";

struct SuiteCase {
    name: &'static str,
    method: &'static str,
    target: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
    signed_headers: &'static str,
    signature: &'static str,
}

/// The vectors whose request line is valid HTTP (the suite's `get-space`
/// and `get-utf8` send raw spaces and UTF-8, which no client sends and
/// `http` refuses; `get-vanilla-utf8-query` is sent percent-encoded, which
/// canonicalizes identically).
const SUITE: &[SuiteCase] = &[
    SuiteCase {
        name: "get-vanilla",
        method: "GET",
        target: "/",
        headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    SuiteCase {
        name: "get-unreserved",
        method: "GET",
        target: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    },
    SuiteCase {
        name: "get-slashes",
        method: "GET",
        target: "//example//",
        headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    },
    SuiteCase {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        target: "/?Param2=value2&Param1=value1",
        headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    SuiteCase {
        name: "get-vanilla-query-order-value",
        method: "GET",
        target: "/?Param1=value2&Param1=value1",
        headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
    },
    SuiteCase {
        name: "get-vanilla-utf8-query",
        method: "GET",
        target: "/?%E1%88%B4=bar",
        headers: &[],
        body: "",
        signed_headers: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    SuiteCase {
        name: "get-header-value-order",
        method: "GET",
        target: "/",
        headers: &[
            ("My-Header1", "value4"),
            ("My-Header1", "value1"),
            ("My-Header1", "value3"),
            ("My-Header1", "value2"),
        ],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    },
    SuiteCase {
        name: "get-header-key-duplicate",
        method: "GET",
        target: "/",
        headers: &[
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
        ],
        body: "",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    SuiteCase {
        name: "get-header-value-trim",
        method: "GET",
        target: "/",
        headers: &[("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")],
        body: "",
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    SuiteCase {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        target: "/",
        headers: &[("Content-Type", "application/x-www-form-urlencoded")],
        body: "Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
];

fn suite_parts(case: &SuiteCase, token: Option<&str>) -> Parts {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={}, Signature={}",
        case.signed_headers, case.signature
    );
    let mut headers = vec![
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", SUITE_DATE),
        ("Authorization", authorization.as_str()),
    ];
    headers.extend_from_slice(case.headers);
    if let Some(token) = token {
        headers.push(("X-Amz-Security-Token", token));
    }
    parts(case.method, case.target, &headers)
}

#[test]
fn aws_test_suite_vectors_verify() {
    let secret = SecretString::from(SUITE_SECRET);
    for case in SUITE {
        let parts = suite_parts(case, None);
        let claim = parse(&parts, at(SUITE_DATE)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(claim.access_key_id, "AKIDEXAMPLE");
        assert_eq!(
            (claim.region.as_str(), claim.service.as_str()),
            ("us-east-1", "service")
        );
        verify(&parts, case.body.as_bytes(), &claim, &secret)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        // One byte more of body, and the signature no longer holds.
        let tampered = format!("{}x", case.body);
        assert_eq!(
            verify(&parts, tampered.as_bytes(), &claim, &secret),
            Err(SigError::SignatureDoesNotMatch),
            "{}",
            case.name
        );
    }
}

/// The suite's `get-vanilla` with a session token (the suite's
/// `post-sts-token/post-sts-header-after` shape, on the vanilla request).
#[test]
fn aws_test_suite_session_token_vector() {
    let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    let case = SuiteCase {
        signed_headers: "host;x-amz-date;x-amz-security-token",
        signature: "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
        ..SUITE[0]
    };
    let parts = suite_parts(&case, Some(token));
    let claim = parse(&parts, at(SUITE_DATE)).unwrap();
    assert_eq!(
        claim.security_token.as_ref().map(SecretString::expose),
        Some(token)
    );
    verify(&parts, b"", &claim, &SecretString::from(SUITE_SECRET)).unwrap();
    assert!(!format!("{claim:?}").contains(token));
}

#[test]
fn canonical_request_of_a_suite_vector() {
    let parts = suite_parts(&SUITE[3], None);
    let claim = parse(&parts, at(SUITE_DATE)).unwrap();
    let empty = hex(&Sha256::digest(b""));
    let canonical = canonical_request(&parts, &claim.signed_headers, &empty).unwrap();
    assert_eq!(
        String::from_utf8(canonical.clone()).unwrap(),
        "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        string_to_sign(&claim, &canonical),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
         816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0"
    );
}

#[test]
fn canonical_uri_and_query() {
    assert_eq!(canonical_uri("/"), "/");
    assert_eq!(canonical_uri("//example//"), "/example/");
    assert_eq!(canonical_uri("/a%20b/./c/../d//e"), "/a%2520b/d/e");
    assert_eq!(canonical_uri("/.."), "/");
    assert_eq!(canonical_query(""), "");
    assert_eq!(
        canonical_query("Param2=value2&Param1=value1"),
        "Param1=value1&Param2=value2"
    );
    assert_eq!(canonical_query("q=a+b"), "q=a%2Bb");
    assert_eq!(canonical_query("b&a=1"), "a=1&b=");
    assert_eq!(canonical_query("a=1=2"), "a=1%3D2");
    assert_eq!(canonical_query("x=a.b&x=a%2fb"), "x=a%2Fb&x=a.b");
}

// ---- Requests signed by botocore (the `aws` CLI's and boto3's signer), as
// they go on the wire; botocore_vectors.py wrote them.

#[derive(serde::Deserialize)]
struct BotocoreVector {
    name: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
    access_key_id: String,
    secret: String,
    security_token: Option<String>,
    region: String,
    service: String,
    now: String,
}

impl BotocoreVector {
    fn all() -> Vec<Self> {
        serde_json::from_str(include_str!("botocore_vectors.json")).unwrap()
    }

    fn parts_with(&self, edit: impl Fn(&str, &str) -> Option<String>) -> Parts {
        let headers: Vec<(String, String)> = self
            .headers
            .iter()
            .filter_map(|(n, v)| edit(n, v).map(|v| (n.clone(), v)))
            .collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        parts(&self.method, &self.target, &refs)
    }

    fn parts(&self) -> Parts {
        self.parts_with(|_, v| Some(v.to_owned()))
    }

    fn secret(&self) -> SecretString {
        SecretString::from(self.secret.as_str())
    }

    fn check(&self, parts: &Parts, body: &[u8], now: DateTime<Utc>) -> Result<Claim, SigError> {
        let claim = parse(parts, now)?;
        verify(parts, body, &claim, &self.secret())?;
        Ok(claim)
    }
}

#[test]
fn botocore_requests_verify() {
    let vectors = BotocoreVector::all();
    assert!(vectors.len() >= 5);
    for v in &vectors {
        let claim = v
            .check(&v.parts(), v.body.as_bytes(), at(&v.now))
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(claim.access_key_id, v.access_key_id, "{}", v.name);
        assert_eq!(claim.region, v.region, "{}", v.name);
        assert_eq!(claim.service, v.service, "{}", v.name);
        assert_eq!(claim.signed_at, at(&v.now));
        assert_eq!(
            claim.security_token.as_ref().map(|t| t.expose().to_owned()),
            v.security_token,
            "{}",
            v.name
        );
        claim.check_service(&v.service).unwrap();
    }
    let iam = vectors.iter().find(|v| v.service == "iam").unwrap();
    let claim = parse(&iam.parts(), at(&iam.now)).unwrap();
    let err = claim.check_service("sts").unwrap_err();
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.to_string(),
        "Credential should be scoped to correct service: 'sts'. "
    );
}

#[test]
fn tampering_is_refused() {
    for v in &BotocoreVector::all() {
        let now = at(&v.now);
        let parts = v.parts();
        // Body.
        let mut body = v.body.clone().into_bytes();
        body.push(b'&');
        assert_eq!(
            v.check(&parts, &body, now),
            Err(SigError::SignatureDoesNotMatch),
            "{}",
            v.name
        );
        // A signed header: the host the request was meant for.
        let other_host = v.parts_with(|n, value| {
            Some(if n.eq_ignore_ascii_case("host") {
                "evil.example:8443".to_owned()
            } else {
                value.to_owned()
            })
        });
        assert_eq!(
            v.check(&other_host, v.body.as_bytes(), now),
            Err(SigError::SignatureDoesNotMatch),
            "{}",
            v.name
        );
        // Wrong secret.
        let claim = parse(&parts, now).unwrap();
        let wrong = SecretString::from(format!("{}x", v.secret));
        assert_eq!(
            verify(&parts, v.body.as_bytes(), &claim, &wrong),
            Err(SigError::SignatureDoesNotMatch)
        );
        // A claimed payload hash that is not the body's.
        let mut unsigned = v.parts();
        unsigned
            .headers
            .insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
        assert_eq!(
            v.check(&unsigned, v.body.as_bytes(), now),
            Err(SigError::SignatureDoesNotMatch)
        );
    }
}

#[test]
fn a_swapped_session_token_is_refused() {
    let v = BotocoreVector::all()
        .into_iter()
        .find(|v| v.security_token.is_some())
        .unwrap();
    let parts = v.parts_with(|n, value| {
        Some(if n.eq_ignore_ascii_case("x-amz-security-token") {
            "another-token".to_owned()
        } else {
            value.to_owned()
        })
    });
    assert_eq!(
        v.check(&parts, v.body.as_bytes(), at(&v.now)),
        Err(SigError::SignatureDoesNotMatch)
    );
}

#[test]
fn wrong_date_scope_is_refused() {
    let v = &BotocoreVector::all()[0];
    let scope_date = &v.now[..8];
    let parts = v.parts_with(|n, value| {
        Some(if n.eq_ignore_ascii_case("authorization") {
            value.replace(&format!("/{scope_date}/"), "/20200101/")
        } else {
            value.to_owned()
        })
    });
    let err = v.check(&parts, v.body.as_bytes(), at(&v.now)).unwrap_err();
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        err.to_string(),
        format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
             from HTTP: '20200101' != '{scope_date}', from '{}'.",
            v.now
        )
    );
}

#[test]
fn replay_after_fifteen_minutes_and_early_requests_are_refused() {
    let v = &BotocoreVector::all()[0];
    let signed = at(&v.now);
    let parts = v.parts();
    let body = v.body.as_bytes();
    // Within 15 minutes either way: accepted.
    for offset in [-MAX_SKEW, TimeDelta::zero(), MAX_SKEW] {
        v.check(&parts, body, signed + offset).unwrap();
    }
    // The same request replayed 15 minutes and a second later.
    let later = signed + MAX_SKEW + TimeDelta::seconds(1);
    let err = v.check(&parts, body, later).unwrap_err();
    assert_eq!(
        err,
        SigError::Expired {
            signed_at: signed,
            now: later
        }
    );
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    // A clock 15 minutes and a second behind the client's.
    let earlier = signed - MAX_SKEW - TimeDelta::seconds(1);
    let err = v.check(&parts, body, earlier).unwrap_err();
    assert_eq!(
        err,
        SigError::NotYetCurrent {
            signed_at: signed,
            now: earlier
        }
    );
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
}

#[test]
fn skew_messages_are_aws_wording() {
    let signed = Utc.with_ymd_and_hms(2022, 1, 27, 0, 14, 27).unwrap();
    let now = Utc.with_ymd_and_hms(2022, 1, 27, 1, 59, 28).unwrap();
    assert_eq!(
        SigError::Expired {
            signed_at: signed,
            now
        }
        .to_string(),
        "Signature expired: 20220127T001427Z is now earlier than 20220127T014428Z \
         (20220127T015928Z - 15 min.)"
    );
    assert_eq!(
        SigError::NotYetCurrent {
            signed_at: now,
            now: signed
        }
        .to_string(),
        "Signature not yet current: 20220127T015928Z is still later than 20220127T002927Z \
         (20220127T001427Z + 15 min.)"
    );
}

#[test]
fn malformed_authorization_is_refused() {
    let now = at(SUITE_DATE);
    let with = |auth: &str, date: Option<&str>| {
        let mut headers = vec![("Host", "example.amazonaws.com"), ("Authorization", auth)];
        if let Some(date) = date {
            headers.push(("X-Amz-Date", date));
        }
        parse(&parts("GET", "/", &headers), now)
    };
    let good_cred = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
    let sig = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    assert_eq!(
        parse(&parts("GET", "/", &[("X-Amz-Date", SUITE_DATE)]), now),
        Err(SigError::MissingAuthenticationToken)
    );
    let err = with("Basic dXNlcjpwYXNz", Some(SUITE_DATE)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Authorization header requires 'Credential' parameter. Authorization header requires \
         'Signature' parameter. Authorization header requires 'SignedHeaders' parameter."
    );
    assert_eq!(
        (err.aws_code(), err.status()),
        ("IncompleteSignature", StatusCode::BAD_REQUEST)
    );
    let err = with(&format!("AWS4-HMAC-SHA256 {good_cred}, {sig}"), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Authorization header requires 'SignedHeaders' parameter. Authorization header \
         requires existence of a 'X-Amz-Date' header."
    );
    let err = with(&format!("AWS4-HMAC-SHA512 {good_cred}"), Some(SUITE_DATE)).unwrap_err();
    assert_eq!(err.aws_code(), "IncompleteSignature");
    // `host` must be signed.
    let err = with(
        &format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=x-amz-date, {sig}"),
        Some(SUITE_DATE),
    )
    .unwrap_err();
    assert_eq!(err.aws_code(), "IncompleteSignature");
    assert!(err.to_string().contains("'Host'"), "{err}");
    // Scope shape, terminator, region.
    let full = |cred: &str| {
        with(
            &format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host;x-amz-date, {sig}"),
            Some(SUITE_DATE),
        )
        .unwrap_err()
    };
    assert_eq!(
        full("AKIDEXAMPLE/20150830/us-east-1/service").aws_code(),
        "IncompleteSignature"
    );
    assert_eq!(
        full("AKIDEXAMPLE/20150830/us-east-1/service/aws5_request").to_string(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not \
         'aws5_request'. "
    );
    assert_eq!(
        full("AKIDEXAMPLE/20150830/US EAST/service/aws4_request").to_string(),
        "Credential should be scoped to a valid region, not 'US EAST'. "
    );
    assert_eq!(
        full("AKID EXAMPLE/20150830/us-east-1/service/aws4_request"),
        SigError::InvalidClientTokenId
    );
    // A signature that is not 64 hex digits cannot match.
    let err = with(
        &format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, Signature=abc"),
        Some(SUITE_DATE),
    )
    .unwrap_err();
    assert_eq!(err, SigError::SignatureDoesNotMatch);
    // A date that is not ISO 8601 basic.
    let err = with(
        &format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, {sig}"),
        Some("2015-08-30T12:36:00Z"),
    )
    .unwrap_err();
    assert_eq!(err.aws_code(), "IncompleteSignature");
    // Two Authorization headers.
    let auth = format!("AWS4-HMAC-SHA256 {good_cred}, SignedHeaders=host;x-amz-date, {sig}");
    let err = parse(
        &parts(
            "GET",
            "/",
            &[
                ("Host", "h"),
                ("X-Amz-Date", SUITE_DATE),
                ("Authorization", &auth),
                ("Authorization", &auth),
            ],
        ),
        now,
    )
    .unwrap_err();
    assert_eq!(err.aws_code(), "IncompleteSignature");
}

#[test]
fn a_signed_header_that_is_missing_fails_verification() {
    let case = SuiteCase {
        signed_headers: "host;my-header1;x-amz-date",
        ..SUITE[0]
    };
    let parts = suite_parts(&case, None);
    let claim = parse(&parts, at(SUITE_DATE)).unwrap();
    assert_eq!(
        verify(&parts, b"", &claim, &SecretString::from(SUITE_SECRET)),
        Err(SigError::SignatureDoesNotMatch)
    );
}

#[test]
fn caller_decided_errors() {
    assert_eq!(
        (
            SigError::InvalidClientTokenId.aws_code(),
            SigError::InvalidClientTokenId.status()
        ),
        ("InvalidClientTokenId", StatusCode::FORBIDDEN)
    );
    assert_eq!(
        SigError::InvalidClientTokenId.to_string(),
        "The security token included in the request is invalid."
    );
    assert_eq!(SigError::ExpiredToken.aws_code(), "ExpiredToken");
    assert_eq!(
        SigError::MissingAuthenticationToken.status(),
        StatusCode::FORBIDDEN
    );
}

#[test]
fn errors_never_carry_the_secret() {
    for v in &BotocoreVector::all() {
        let parts = v.parts();
        let claim = parse(&parts, at(&v.now)).unwrap();
        let err = verify(&parts, b"tampered", &claim, &v.secret()).unwrap_err();
        let shown = format!("{err} {err:?} {claim:?}");
        assert!(!shown.contains(&v.secret), "{shown}");
        if let Some(token) = &v.security_token {
            assert!(!shown.contains(token.as_str()), "{shown}");
        }
    }
}

/// botocore_vectors.json is what botocore_vectors.py writes today (run
/// only where the venv with botocore is installed).
#[test]
fn botocore_vectors_are_current() {
    let python = std::path::Path::new("/opt/iam-venv/bin/python");
    if !python.exists() {
        eprintln!("skipped: no {}", python.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("botocore_vectors.py");
    std::fs::write(&script, include_str!("botocore_vectors.py")).unwrap();
    let status = std::process::Command::new(python)
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success());
    let fresh: Vec<serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("botocore_vectors.json")).unwrap(),
    )
    .unwrap();
    let committed: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("botocore_vectors.json")).unwrap();
    // The invocation id and user agent vary; the signature must not.
    let authz = |vs: &[serde_json::Value]| -> Vec<String> {
        vs.iter()
            .flat_map(|v| v["headers"].as_array().unwrap().clone())
            .filter(|h| h[0] == "Authorization")
            .map(|h| h[1].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(authz(&fresh), authz(&committed));
}
