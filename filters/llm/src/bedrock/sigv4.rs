//! AWS Signature Version 4 for Bedrock requests, computed in the filter (HMAC-SHA256).
//! Signed headers: `content-type`, `host`, `x-amz-content-sha256`, `x-amz-date` (and
//! `x-amz-security-token` with temporary credentials): the headers Envoy will not change.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Long-lived or temporary AWS credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// The parts of a request that are signed.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// `:authority` as sent.
    pub host: &'a str,
    /// `:path` as sent (already percent-encoded), without query.
    pub path: &'a str,
    pub content_type: &'a str,
    pub body: &'a [u8],
}

/// The headers to add to the request: `x-amz-date`, `x-amz-content-sha256`, the session token
/// when there is one, and `authorization`.
pub fn sign(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    unix_seconds: u64,
) -> Vec<(&'static str, String)> {
    let amz_date = amz_date(unix_seconds);
    let date = &amz_date[..8];
    let payload_hash = hex(&Sha256::digest(request.body));
    let mut headers: Vec<(&'static str, String)> = vec![
        ("content-type", request.content_type.trim().to_string()),
        ("host", request.host.trim().to_string()),
        ("x-amz-content-sha256", payload_hash.clone()),
        ("x-amz-date", amz_date.clone()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token", token.clone()));
    }
    let signed: Vec<&str> = headers.iter().map(|(k, _)| *k).collect();
    let signed = signed.join(";");
    let canonical = canonical_request(
        request.method,
        &canonical_uri(request.path),
        "",
        &headers,
        &signed,
        &payload_hash,
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = string_to_sign(&amz_date, &scope, &canonical);
    let signature = signature(
        &credentials.secret_access_key,
        date,
        region,
        service,
        &to_sign,
    );
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        credentials.access_key_id
    );
    let mut out: Vec<(&'static str, String)> = headers
        .into_iter()
        .filter(|(k, _)| !matches!(*k, "content-type" | "host"))
        .collect();
    out.push(("authorization", authorization));
    out
}

/// The canonical request; `headers` sorted by lower-case name, values trimmed.
pub fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &[(&str, String)],
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    let mut canonical_headers = String::new();
    for (name, value) in headers {
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(value);
        canonical_headers.push('\n');
    }
    format!("{method}\n{uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}")
}

/// The string to sign.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hash = hex(&Sha256::digest(canonical_request.as_bytes()));
    format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hash}")
}

/// The hex signature of `string_to_sign` under the key derived for date, region and service.
pub fn signature(
    secret: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> String {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    hex(&hmac(&k_signing, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// The canonical URI of a path as sent: every byte but unreserved ones and `/` is
/// percent-encoded once more (services other than S3 sign the path encoded twice).
pub fn canonical_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Percent-encodes one path segment (a model id such as `anthropic.claude-v2:1`).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len() + 8);
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time.
pub fn amz_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64;
    let secs = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const EMPTY_HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// `get-vanilla` of the AWS SigV4 test suite.
    #[test]
    fn get_vanilla_test_vector() {
        let headers = [
            ("host", "example.amazonaws.com".to_string()),
            ("x-amz-date", "20150830T123600Z".to_string()),
        ];
        let canonical = canonical_request("GET", "/", "", &headers, "host;x-amz-date", EMPTY_HASH);
        let to_sign = string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/service/aws4_request",
            &canonical,
        );
        assert_eq!(
            signature(SECRET, "20150830", "us-east-1", "service", &to_sign),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// The IAM `ListUsers` example of the AWS SigV4 documentation.
    #[test]
    fn iam_documentation_example() {
        let headers = [
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            ),
            ("host", "iam.amazonaws.com".to_string()),
            ("x-amz-date", "20150830T123600Z".to_string()),
        ];
        let canonical = canonical_request(
            "GET",
            "/",
            "Action=ListUsers&Version=2010-05-08",
            &headers,
            "content-type;host;x-amz-date",
            EMPTY_HASH,
        );
        assert_eq!(
            hex(&Sha256::digest(canonical.as_bytes())),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        let to_sign = string_to_sign(
            "20150830T123600Z",
            "20150830/us-east-1/iam/aws4_request",
            &canonical,
        );
        assert_eq!(
            signature(SECRET, "20150830", "us-east-1", "iam", &to_sign),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn dates_and_paths_are_formatted_as_aws_expects() {
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
        assert_eq!(
            encode_segment("anthropic.claude-3-5-haiku-20241022-v1:0"),
            "anthropic.claude-3-5-haiku-20241022-v1%3A0"
        );
        assert_eq!(
            canonical_uri("/model/anthropic.claude-v2%3A1/converse"),
            "/model/anthropic.claude-v2%253A1/converse"
        );
    }

    #[test]
    fn signed_request_has_scope_and_headers() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: SECRET.into(),
            session_token: Some("token".into()),
        };
        let req = Request {
            method: "POST",
            host: "bedrock-runtime.us-east-1.amazonaws.com",
            path: "/model/m/converse",
            content_type: "application/json",
            body: b"{}",
        };
        let headers = sign(&req, &creds, "us-east-1", "bedrock", 1_440_938_160);
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("x-amz-date"), "20150830T123600Z");
        assert_eq!(get("x-amz-security-token"), "token");
        let auth = get("authorization");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="), "{auth}");
        assert_eq!(auth.rsplit('=').next().unwrap().len(), 64);
        // Another body, another signature.
        let other = sign(
            &Request {
                body: b"{ }",
                ..req
            },
            &creds,
            "us-east-1",
            "bedrock",
            1_440_938_160,
        );
        assert_ne!(other.last(), headers.last());
    }
}
