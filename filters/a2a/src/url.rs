//! The little URL handling the filter needs: split absolute http(s) URLs, and map an agent's
//! own URL onto the gateway's public URL for that agent.

use crate::config::Agent;

/// An absolute `http`/`https` URL split into its parts (no decoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUrl<'a> {
    /// `http` or `https`, as written.
    pub scheme: &'a str,
    /// `host[:port]` (userinfo included if present).
    pub authority: &'a str,
    /// The path, `""` when the URL has none.
    pub path: &'a str,
    /// `?query` and/or `#fragment`, as written.
    pub suffix: &'a str,
}

impl<'a> AbsoluteUrl<'a> {
    /// Splits `url`; `None` unless it is an absolute http(s) URL.
    pub fn parse(url: &'a str) -> Option<AbsoluteUrl<'a>> {
        let (scheme, rest) = url.split_once("://")?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(authority_end);
        let path_end = rest.find(['?', '#']).unwrap_or(rest.len());
        let (path, suffix) = rest.split_at(path_end);
        Some(AbsoluteUrl {
            scheme,
            authority,
            path,
            suffix,
        })
    }
}

/// Whether a Host/`:authority` value is safe to put into a URL: host name, IPv4 or bracketed
/// IPv6, optional port. Anything else (spaces, slashes, `@`) is refused.
pub fn is_valid_authority(authority: &str) -> bool {
    !authority.is_empty()
        && authority.len() <= 255
        && authority.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
}

/// A request path without its query and fragment (a byte scan: this runs on every request).
pub fn path_only(path: &str) -> &str {
    match path.bytes().position(|b| b == b'?' || b == b'#') {
        Some(end) => &path[..end],
        None => path,
    }
}

/// Builds the public base URL from the request when none is configured:
/// `X-Forwarded-Proto` (default `http`) and `Host`/`:authority`.
pub fn base_from_request(forwarded_proto: Option<&str>, authority: Option<&str>) -> Option<String> {
    let authority = authority?.trim();
    if !is_valid_authority(authority) {
        return None;
    }
    // X-Forwarded-Proto may list several hops; the first is the client's.
    let proto = forwarded_proto
        .and_then(|p| p.split(',').next())
        .map(|p| p.trim().to_ascii_lowercase());
    let scheme = match proto.as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    Some(format!("{scheme}://{authority}"))
}

/// Why an agent URL was left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotRewritten {
    /// Not an absolute http(s) URL.
    NotHttp,
    /// Its path is outside the agent's upstream path prefix, so the gateway route cannot reach it.
    OutsideUpstreamPrefix,
    /// A gRPC interface, which a path-prefix HTTP route cannot carry.
    GrpcBinding,
}

/// Maps an agent URL `<anything><upstreamPathPrefix>rest` onto `<public_base><pathPrefix>/rest`,
/// keeping query and fragment.
pub fn to_gateway_url(url: &str, public_base: &str, agent: &Agent) -> Result<String, NotRewritten> {
    let parts = AbsoluteUrl::parse(url).ok_or(NotRewritten::NotHttp)?;
    let path = if parts.path.is_empty() {
        "/"
    } else {
        parts.path
    };
    let upstream = agent.upstream_path_prefix.as_str();
    let rest = if let Some(rest) = path.strip_prefix(upstream) {
        Some(rest)
    } else if path == upstream.trim_end_matches('/') {
        None
    } else {
        return Err(NotRewritten::OutsideUpstreamPrefix);
    };
    let mut out = String::with_capacity(
        public_base.len() + agent.path_prefix.len() + path.len() + parts.suffix.len() + 1,
    );
    out.push_str(public_base);
    out.push_str(&agent.path_prefix);
    match rest {
        Some(rest) => {
            out.push('/');
            out.push_str(rest);
        }
        // The agent URL named the upstream prefix without its slash: keep that form.
        None if agent.path_prefix.is_empty() => out.push('/'),
        None => {}
    }
    out.push_str(parts.suffix);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_only_cuts_the_query_and_fragment() {
        let cases = [
            ("/a/b", "/a/b"),
            ("/a/b?x=1", "/a/b"),
            ("/a/b#frag", "/a/b"),
            ("/a?x=/y#z", "/a"),
            ("?x", ""),
            ("", ""),
        ];
        for (path, want) in cases {
            assert_eq!(path_only(path), want, "{path}");
        }
    }

    fn agent(prefix: &str, upstream: &str) -> Agent {
        Agent {
            name: "a".into(),
            path_prefix: prefix.into(),
            upstream_path_prefix: upstream.into(),
        }
    }

    #[test]
    fn agent_urls_map_under_the_gateway_prefix() {
        let gw = "http://127.0.0.1:10000";
        let cases: &[(&str, &str, &str, Result<&str, NotRewritten>)] = &[
            (
                "/a2a/demo",
                "/",
                "http://localhost:9999/",
                Ok("http://127.0.0.1:10000/a2a/demo/"),
            ),
            (
                "/a2a/demo",
                "/",
                "http://localhost:9999",
                Ok("http://127.0.0.1:10000/a2a/demo/"),
            ),
            (
                "/a2a/demo",
                "/",
                "https://agent.internal/rpc?x=1#f",
                Ok("http://127.0.0.1:10000/a2a/demo/rpc?x=1#f"),
            ),
            (
                "/a2a/demo",
                "/v1/",
                "http://h/v1/jsonrpc",
                Ok("http://127.0.0.1:10000/a2a/demo/jsonrpc"),
            ),
            (
                "/a2a/demo",
                "/v1/",
                "http://h/v1",
                Ok("http://127.0.0.1:10000/a2a/demo"),
            ),
            (
                "/a2a/demo",
                "/v1/",
                "http://h/other",
                Err(NotRewritten::OutsideUpstreamPrefix),
            ),
            ("", "/", "http://h/x", Ok("http://127.0.0.1:10000/x")),
            ("", "/v1/", "http://h/v1", Ok("http://127.0.0.1:10000/")),
            ("/a", "/", "grpc://h:50051", Err(NotRewritten::NotHttp)),
            ("/a", "/", "h:50051", Err(NotRewritten::NotHttp)),
        ];
        for (prefix, upstream, url, expected) in cases {
            let got = to_gateway_url(url, gw, &agent(prefix, upstream));
            assert_eq!(
                got.as_deref().map_err(Clone::clone),
                expected.clone(),
                "{url} via {prefix} <- {upstream}"
            );
        }
    }

    #[test]
    fn base_url_comes_from_forwarded_proto_and_host() {
        assert_eq!(
            base_from_request(None, Some("gw:8080")).as_deref(),
            Some("http://gw:8080")
        );
        assert_eq!(
            base_from_request(Some("https"), Some("gw")).as_deref(),
            Some("https://gw")
        );
        assert_eq!(
            base_from_request(Some("HTTPS, http"), Some("gw")).as_deref(),
            Some("https://gw")
        );
        assert_eq!(
            base_from_request(Some("gopher"), Some("gw")).as_deref(),
            Some("http://gw")
        );
        assert_eq!(
            base_from_request(None, Some("[::1]:10000")).as_deref(),
            Some("http://[::1]:10000")
        );
        assert_eq!(base_from_request(None, Some("evil.com/path")), None);
        assert_eq!(base_from_request(None, Some("user@evil")), None);
        assert_eq!(base_from_request(None, None), None);
    }
}
