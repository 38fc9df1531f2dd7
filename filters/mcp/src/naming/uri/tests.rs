use super::super::{Listing, Naming, PrefixMode, RefusalReason, Upstream};
use super::*;

fn naming(mode: PrefixMode, backends: &[&str]) -> Naming {
    Naming::new("_", mode, backends.iter().copied()).unwrap()
}

fn up(backend: &str, name: &str) -> Upstream {
    Upstream {
        backend: backend.into(),
        name: name.into(),
    }
}

fn listing<'a>(backend: &'a str, names: &[&'a str]) -> Listing<'a> {
    Listing {
        backend,
        names: names.to_vec(),
    }
}

/// A loose RFC 3986 check: a valid scheme, then only characters a URI may hold
/// (unreserved, reserved, `%`), with `{}` allowed for templates.
fn is_uri_shaped(uri: &str, template: bool) -> bool {
    scheme_of(uri).is_some()
        && uri.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
                || (template && (b == b'{' || b == b'}'))
        })
}

#[test]
fn prefixed_uris_round_trip_and_stay_valid() {
    let n = naming(PrefixMode::Always, &["files", "Demo_1", "web"]);
    let cases = [
        ("files", "file:///x", "files+file:///x", false),
        (
            "web",
            "https://host/p?q=1#f",
            "web+https://host/p?q=1#f",
            false,
        ),
        (
            "Demo_1",
            "demo://resource/1",
            "demo-1+demo://resource/1",
            false,
        ),
        (
            "Demo_1",
            "demo://resource/{id}",
            "demo-1+demo://resource/{id}",
            true,
        ),
        ("files", "file:///{+path}", "files+file:///{+path}", true),
        (
            "web",
            "urn:isbn:0451450523",
            "web+urn:isbn:0451450523",
            false,
        ),
        ("web", "git+ssh://h/r.git", "web+git+ssh://h/r.git", false),
        ("web", "s3://b/a%2Fb?x=%20", "web+s3://b/a%2Fb?x=%20", false),
    ];
    for (backend, upstream, client, template) in cases {
        let prefixed = n.prefix_uri(backend, upstream).unwrap();
        assert_eq!(prefixed, client);
        assert!(is_uri_shaped(&prefixed, template), "{prefixed}");
        assert_eq!(n.resolve_uri(None, &prefixed), Some(up(backend, upstream)));
    }
}

#[test]
fn an_expanded_prefixed_template_resolves_to_the_expanded_upstream_uri() {
    let n = naming(PrefixMode::Always, &["everything"]);
    let template = n.prefix_uri("everything", "demo://resource/{id}").unwrap();
    let expanded = template.replace("{id}", "a%2Fb");
    assert_eq!(
        n.resolve_uri(None, &expanded),
        Some(up("everything", "demo://resource/a%2Fb"))
    );
}

#[test]
fn tags_match_case_insensitively_like_schemes() {
    let n = naming(PrefixMode::Always, &["files"]);
    assert_eq!(
        n.resolve_uri(None, "FILES+file:///x"),
        Some(up("files", "file:///x"))
    );
}

#[test]
fn uris_without_a_scheme_cannot_be_prefixed() {
    let n = naming(PrefixMode::Always, &["a"]);
    for uri in ["", "relative/path", "/abs", "1x:y", "{scheme}://x", "a b:c"] {
        assert_eq!(
            n.prefix_uri("a", uri),
            Err(UriError::NoScheme(uri.into())),
            "{uri}"
        );
    }
    let out = n.multiplex_uris(&[listing("a", &["relative", "ok:x"])]);
    assert_eq!(out.refused.len(), 1);
    assert_eq!(out.refused[0].reason, RefusalReason::InvalidUri);
}

#[test]
fn resource_tags_are_scheme_safe() {
    let cases = [
        ("files", "files"),
        ("Demo_1", "demo-1"),
        ("a.b-c", "a.b-c"),
        ("1st", "b-1st"),
        ("_x", "b--x"),
    ];
    for (backend, tag) in cases {
        assert_eq!(resource_tag(backend), tag);
        assert!(scheme_of(&format!("{tag}:")).is_some(), "{tag}");
    }
}

#[test]
fn bare_uris_route_by_the_scheme_each_mode_leaves_bare() {
    // `a` and `b` share `file`; `a` alone uses `demo`; `c` alone uses `a+x`, which reads as
    // backend a's prefix.
    let listings = [
        listing("a", &["file:///one", "demo://r/{id}"]),
        listing("b", &["file:///two"]),
        listing("c", &["a+x://thing"]),
    ];
    let cases = [
        (PrefixMode::Always, vec![], 0),
        (PrefixMode::Conditional, vec![("demo", "a")], 0),
        (PrefixMode::Never, vec![("demo", "a")], 3),
    ];
    for (mode, bare, refused) in cases {
        let n = naming(mode, &["a", "b", "c"]);
        let out = n.multiplex_uris(&listings);
        for scheme in ["file", "demo", "a+x"] {
            let expected = bare.iter().find(|(s, _)| *s == scheme).map(|(_, b)| *b);
            assert_eq!(out.table.bare_owner(scheme), expected, "{mode:?} {scheme}");
        }
        assert_eq!(out.refused.len(), refused, "{mode:?}: {:?}", out.refused);
    }
}

#[test]
fn never_mode_explains_each_refused_uri() {
    let n = naming(PrefixMode::Never, &["a", "b", "c"]);
    let out = n.multiplex_uris(&[
        listing("a", &["file:///one"]),
        listing("b", &["file:///two"]),
        listing("c", &["a+x://thing"]),
    ]);
    let reasons: Vec<(&str, &RefusalReason)> = out
        .refused
        .iter()
        .map(|r| (r.name.as_str(), &r.reason))
        .collect();
    let shared = RefusalReason::Collision {
        backends: vec!["a".into(), "b".into()],
    };
    assert_eq!(
        reasons,
        vec![
            ("a+x://thing", &RefusalReason::LooksPrefixed),
            ("file:///one", &shared),
            ("file:///two", &shared),
        ]
    );
}

#[test]
fn client_uris_follow_the_table_and_resolve_back() {
    let listings = [
        listing("a", &["file:///one", "demo://r/{id}"]),
        listing("b", &["file:///two"]),
    ];
    let cases = [
        (PrefixMode::Always, "a", "demo://r/1", Some("a+demo://r/1")),
        (
            PrefixMode::Always,
            "b",
            "file:///two",
            Some("b+file:///two"),
        ),
        (
            PrefixMode::Conditional,
            "a",
            "demo://r/1",
            Some("demo://r/1"),
        ),
        (
            PrefixMode::Conditional,
            "a",
            "file:///one",
            Some("a+file:///one"),
        ),
        (
            PrefixMode::Conditional,
            "b",
            "other://new",
            Some("b+other://new"),
        ),
        (PrefixMode::Never, "a", "demo://r/1", Some("demo://r/1")),
        (PrefixMode::Never, "b", "file:///two", None),
        (PrefixMode::Never, "b", "no-scheme", None),
    ];
    for (mode, backend, upstream, client) in cases {
        let n = naming(mode, &["a", "b"]);
        let out = n.multiplex_uris(&listings);
        let got = n.client_uri(&out.table, backend, upstream);
        assert_eq!(got.as_deref(), client, "{mode:?} {upstream}");
        if let Some(client) = got {
            assert_eq!(
                n.resolve_uri(Some(&out.table), &client),
                Some(up(backend, upstream)),
                "{mode:?} {client}"
            );
        }
    }
}

#[test]
fn unknown_uris_do_not_resolve() {
    let n = naming(PrefixMode::Conditional, &["a", "b"]);
    let out = n.multiplex_uris(&[listing("a", &["demo://x"])]);
    for uri in ["zzz+file:///x", "file:///x", "a+", "a+:x", "nothing"] {
        assert_eq!(n.resolve_uri(Some(&out.table), uri), None, "{uri}");
    }
}
