//! Where the bearer token comes from: `Authorization: Bearer` (scheme case-insensitive, RFC 6750
//! §2.1 and RFC 9110 §11.1), or a configured header or cookie.

/// Where the filter looks for the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Authorization,
    /// A header whose whole value is the token, optionally after a prefix (e.g. `Token `).
    Header { name: String, prefix: String },
    /// A cookie of this name.
    Cookie { name: String },
}

/// Why no usable token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No credential at all: the 401 carries no `error=` (RFC 6750 §3.1).
    #[error("no token")]
    Missing,
    /// A credential that is not a bearer token (another scheme, empty, or with spaces).
    #[error("malformed credential")]
    Malformed,
}

impl TokenSource {
    /// The header this source reads (lower-case).
    pub fn header_name(&self) -> &str {
        match self {
            TokenSource::Authorization => "authorization",
            TokenSource::Header { name, .. } => name,
            TokenSource::Cookie { .. } => "cookie",
        }
    }

    /// The token in `value`, the value of [`TokenSource::header_name`] (`None`: header absent).
    pub fn extract<'a>(&self, value: Option<&'a str>) -> Result<&'a str, TokenError> {
        let value = value.ok_or(TokenError::Missing)?;
        let token = match self {
            TokenSource::Authorization => bearer(value)?,
            TokenSource::Header { prefix, .. } => strip_prefix_ignore_case(value.trim(), prefix)
                .ok_or(TokenError::Malformed)?
                .trim(),
            TokenSource::Cookie { name } => cookie(value, name).ok_or(TokenError::Missing)?,
        };
        // Whitespace inside is refused by `has_whitespace` once the token is not a cached
        // one: scanning every byte of an 800-byte token on every request costs more than the
        // cache lookup.
        if token.is_empty() {
            return Err(TokenError::Malformed);
        }
        Ok(token)
    }
}

/// Whether a token has whitespace inside (a malformed token).
pub fn has_whitespace(token: &str) -> bool {
    token.bytes().any(|b| b.is_ascii_whitespace())
}

/// The credentials of a `Bearer` authorization value; the scheme is case-insensitive.
fn bearer(value: &str) -> Result<&str, TokenError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(TokenError::Missing);
    }
    let (scheme, rest) = value.split_once(' ').ok_or(TokenError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(TokenError::Malformed);
    }
    Ok(rest.trim_start_matches(' '))
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

/// The value of cookie `name` in a `Cookie` header (RFC 6265 §5.4: `a=b; c=d`).
fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then(|| value.trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_header_cases() {
        let source = TokenSource::Authorization;
        let cases: &[(Option<&str>, Result<&str, TokenError>)] = &[
            (Some("Bearer abc.def.ghi"), Ok("abc.def.ghi")),
            (Some("bearer abc.def.ghi"), Ok("abc.def.ghi")),
            (Some("BEARER abc.def.ghi"), Ok("abc.def.ghi")),
            (Some("Bearer   abc"), Ok("abc")),
            (None, Err(TokenError::Missing)),
            (Some(""), Err(TokenError::Missing)),
            (Some("Basic dXNlcjpwYXNz"), Err(TokenError::Malformed)),
            (Some("Bearer"), Err(TokenError::Malformed)),
            (Some("Bearer "), Err(TokenError::Malformed)),
            (Some("Bearerabc"), Err(TokenError::Malformed)),
        ];
        for (value, expected) in cases {
            assert_eq!(source.extract(*value), *expected, "{value:?}");
        }
        // Whitespace inside is left to `has_whitespace`, checked before a token is parsed.
        assert_eq!(source.extract(Some("Bearer a b")), Ok("a b"));
        assert!(has_whitespace("a b") && has_whitespace("a\tb") && !has_whitespace("a.b.c"));
    }

    #[test]
    fn configured_header_with_prefix() {
        let source = TokenSource::Header {
            name: "x-token".into(),
            prefix: "Token ".into(),
        };
        assert_eq!(source.header_name(), "x-token");
        assert_eq!(source.extract(Some("token abc")), Ok("abc"));
        assert_eq!(source.extract(Some("abc")), Err(TokenError::Malformed));
        let bare = TokenSource::Header {
            name: "x-token".into(),
            prefix: String::new(),
        };
        assert_eq!(bare.extract(Some(" abc ")), Ok("abc"));
    }

    #[test]
    fn cookie_by_name() {
        let source = TokenSource::Cookie {
            name: "session".into(),
        };
        assert_eq!(source.extract(Some("a=1; session=tok; b=2")), Ok("tok"));
        assert_eq!(source.extract(Some("session=\"tok\"")), Ok("tok"));
        assert_eq!(source.extract(Some("a=1")), Err(TokenError::Missing));
        assert_eq!(
            source.extract(Some("xsession=tok")),
            Err(TokenError::Missing)
        );
    }
}
