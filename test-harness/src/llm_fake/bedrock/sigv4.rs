//! AWS Signature Version 4 as Bedrock checks it: the `Authorization` header's shape
//! (algorithm, credential scope with key id, date, region and service, sorted signed headers,
//! hex signature), an `x-amz-date` within five minutes, and then the signature itself,
//! recomputed from the request as received (canonical request with the path's segments
//! URI-encoded twice, as AWS does for every service but S3).

use std::time::{SystemTime, UNIX_EPOCH};

use super::sha256::{hex, hmac, sha256};
use crate::fake_upstream::RecordedRequest;

/// The service name in Bedrock's credential scope.
const SERVICE: &str = "bedrock";

/// How far `x-amz-date` may be from now.
const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// Why a request is refused with 403: (`x-amzn-ErrorType`, message).
pub(crate) type Refusal = (&'static str, String);

/// Checks the request's SigV4 signature by `key_id`/`secret` for `region`.
pub(crate) fn check(
    request: &RecordedRequest,
    key_id: &str,
    secret: &str,
    region: &str,
) -> Result<(), Refusal> {
    let Some(authorization) = request.header("authorization") else {
        return Err((
            "MissingAuthenticationTokenException",
            "Missing Authentication Token".into(),
        ));
    };
    let incomplete = |what: &str| {
        (
            "IncompleteSignatureException",
            format!("{what} Authorization={authorization}"),
        )
    };
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| incomplete("Unsupported algorithm (expected AWS4-HMAC-SHA256)."))?;
    let field = |name: &str| {
        fields
            .split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
    };
    let credential = field("Credential")
        .ok_or_else(|| incomplete("Authorization header requires 'Credential' parameter."))?;
    let signed = field("SignedHeaders")
        .ok_or_else(|| incomplete("Authorization header requires 'SignedHeaders' parameter."))?;
    let given = field("Signature")
        .ok_or_else(|| incomplete("Authorization header requires 'Signature' parameter."))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [id, date, scope_region, service, terminator] = scope[..] else {
        return Err(incomplete(
            "Credential should have 5 slash-separated parts.",
        ));
    };
    if terminator != "aws4_request" {
        return Err(incomplete(
            "Credential should be scoped with a valid terminator: 'aws4_request'.",
        ));
    }
    if id != key_id {
        return Err((
            "UnrecognizedClientException",
            "The security token included in the request is invalid.".into(),
        ));
    }
    if service != SERVICE {
        return Err(incomplete(&format!(
            "Credential should be scoped to correct service: 'bedrock', not '{service}'."
        )));
    }
    if scope_region != region {
        return Err(incomplete(&format!(
            "Credential should be scoped to a valid region, not '{scope_region}'."
        )));
    }
    let Some(amz_date) = request.header("x-amz-date") else {
        return Err(incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let Some(signed_at) = parse_amz_date(amz_date) else {
        return Err(incomplete(&format!("Invalid X-Amz-Date {amz_date}.")));
    };
    if !amz_date.starts_with(date) || date.len() != 8 {
        return Err(incomplete(&format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{date}' != '{}'.", &amz_date[..8])));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    if (now - signed_at).abs() > MAX_SKEW_SECONDS {
        return Err((
            "InvalidSignatureException",
            format!("Signature expired: {amz_date} is not within 5 minutes of the server time."),
        ));
    }
    let headers: Vec<&str> = signed.split(';').collect();
    let sorted_lower = headers.windows(2).all(|w| w[0] < w[1])
        && headers
            .iter()
            .all(|h| !h.is_empty() && *h == h.to_ascii_lowercase());
    if !sorted_lower || !headers.contains(&"host") || !headers.contains(&"x-amz-date") {
        return Err(incomplete(
            "SignedHeaders must be sorted, lower case, and include host and x-amz-date.",
        ));
    }
    if let Some(missing) = headers.iter().find(|h| request.header(h).is_none()) {
        return Err(incomplete(&format!(
            "Header '{missing}' is signed but not present."
        )));
    }
    let is_hex = given.len() == 64
        && given
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !is_hex {
        return Err(incomplete(
            "Signature should be 64 lower-case hex characters.",
        ));
    }
    if let Some(hash) = request.header("x-amz-content-sha256") {
        if hash != hex(&sha256(&request.body)) {
            return Err((
                "InvalidSignatureException",
                "The provided x-amz-content-sha256 header does not match what was computed.".into(),
            ));
        }
    }
    let canonical = canonical_request(request, &headers);
    let expected = signature(&canonical, amz_date, secret, region, SERVICE);
    if given != expected {
        return Err((
            "InvalidSignatureException",
            format!("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'{canonical}'\n"),
        ));
    }
    Ok(())
}

/// The `Authorization` value that signs `request` (its `x-amz-date` header and every header it
/// has except `authorization`) for Bedrock in `region`: what a correct client sends.
pub fn authorization(
    request: &RecordedRequest,
    key_id: &str,
    secret: &str,
    region: &str,
) -> String {
    let amz_date = request.header("x-amz-date").unwrap_or_default();
    let mut names: Vec<String> = request
        .headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| name != "authorization")
        .collect();
    names.sort();
    names.dedup();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let canonical = canonical_request(request, &names);
    let signature = signature(&canonical, amz_date, secret, region, SERVICE);
    format!(
        "AWS4-HMAC-SHA256 Credential={key_id}/{}/{region}/{SERVICE}/aws4_request, SignedHeaders={}, Signature={signature}",
        amz_date.get(..8).unwrap_or_default(),
        names.join(";")
    )
}

/// The canonical request over the headers `signed` (sorted, lower case).
fn canonical_request(request: &RecordedRequest, signed: &[&str]) -> String {
    let (path, query) = request
        .path
        .split_once('?')
        .unwrap_or((request.path.as_str(), ""));
    let canonical_path = path
        .split('/')
        .map(|segment| uri_encode(&uri_encode(&percent_decode(segment))))
        .collect::<Vec<_>>()
        .join("/");
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(key)),
                uri_encode(&percent_decode(value)),
            )
        })
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let headers: String = signed
        .iter()
        .map(|name| {
            let values: Vec<String> = request
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    let payload_hash = request
        .header("x-amz-content-sha256")
        .map_or_else(|| hex(&sha256(&request.body)), str::to_string);
    format!(
        "{}\n{canonical_path}\n{canonical_query}\n{headers}\n{}\n{payload_hash}",
        request.method,
        signed.join(";")
    )
}

/// The hex signature of `canonical` at `amz_date` under the derived signing key.
fn signature(canonical: &str, amz_date: &str, secret: &str, region: &str, service: &str) -> String {
    let date = amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&sha256(canonical.as_bytes()))
    );
    let key = [region, service, "aws4_request"].iter().fold(
        hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes()),
        |key, part| hmac(&key, part.as_bytes()),
    );
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, the rest `%XX` upper case.
fn uri_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `%XX` sequences decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex_pair = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex_pair) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `YYYYMMDDTHHMMSSZ` as Unix seconds.
fn parse_amz_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(4..6)?, number(6..8)?);
    let (hour, minute, second) = (number(9..11)?, number(11..13)?, number(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vanilla_get() -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path: "/".into(),
            headers: vec![
                ("host".into(), "example.amazonaws.com".into()),
                ("x-amz-date".into(), "20150830T123600Z".into()),
            ],
            body: bytes::Bytes::new(),
        }
    }

    #[test]
    fn signature_matches_the_aws_sigv4_suite_get_vanilla() {
        let canonical = canonical_request(&vanilla_get(), &["host", "x-amz-date"]);
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            signature(
                &canonical,
                "20150830T123600Z",
                secret,
                "us-east-1",
                "service"
            ),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn path_segments_are_encoded_twice() {
        let mut request = vanilla_get();
        request.path = "/model/anthropic.claude-v1%3A0/converse".into();
        let canonical = canonical_request(&request, &["host"]);
        assert!(
            canonical.starts_with("GET\n/model/anthropic.claude-v1%253A0/converse\n"),
            "{canonical}"
        );
        request.path = "/model/anthropic.claude-v1:0/converse".into();
        assert_eq!(canonical_request(&request, &["host"]), canonical);
    }

    #[test]
    fn amz_dates_convert_to_unix_seconds() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("2015-08-30T12:36Z"), None);
    }
}
