use super::*;

fn naming(mode: PrefixMode, backends: &[&str]) -> Naming {
    Naming::new("_", mode, backends.iter().copied()).unwrap()
}

fn listing<'a>(backend: &'a str, names: &[&'a str]) -> Listing<'a> {
    Listing {
        backend,
        names: names.to_vec(),
    }
}

fn up(backend: &str, name: &str) -> Upstream {
    Upstream {
        backend: backend.into(),
        name: name.into(),
    }
}

/// The table as sorted (client name, backend, upstream name) rows.
fn rows(table: &NameTable) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = table
        .by_client
        .iter()
        .map(|(c, u)| (c.clone(), u.backend.clone(), u.name.clone()))
        .collect();
    rows.sort();
    rows
}

fn row(client: &str, backend: &str, name: &str) -> (String, String, String) {
    (client.into(), backend.into(), name.into())
}

#[test]
fn each_mode_names_shared_and_unique_tools_as_documented() {
    let listings = [
        listing("alpha", &["search", "echo"]),
        listing("beta", &["search", "add"]),
    ];
    let cases = [
        (
            PrefixMode::Always,
            vec![
                row("alpha_echo", "alpha", "echo"),
                row("alpha_search", "alpha", "search"),
                row("beta_add", "beta", "add"),
                row("beta_search", "beta", "search"),
            ],
            vec![],
        ),
        (
            PrefixMode::Conditional,
            vec![
                row("add", "beta", "add"),
                row("alpha_search", "alpha", "search"),
                row("beta_search", "beta", "search"),
                row("echo", "alpha", "echo"),
            ],
            vec![],
        ),
        (
            PrefixMode::Never,
            vec![row("add", "beta", "add"), row("echo", "alpha", "echo")],
            vec![("search", "alpha"), ("search", "beta")],
        ),
    ];
    let n = |mode| naming(mode, &["alpha", "beta"]);
    for (mode, expected_rows, expected_refused) in cases {
        let out = n(mode).multiplex_names(NameKind::Tool, &listings);
        assert_eq!(rows(&out.table), expected_rows, "{mode:?}");
        let refused: Vec<(&str, &str)> = out
            .refused
            .iter()
            .map(|r| (r.name.as_str(), r.backend.as_str()))
            .collect();
        assert_eq!(refused, expected_refused, "{mode:?}");
        for r in &out.refused {
            assert_eq!(
                r.reason,
                RefusalReason::Collision {
                    backends: vec!["alpha".into(), "beta".into()]
                }
            );
        }
    }
}

#[test]
fn client_names_lead_back_to_the_upstream_name() {
    let n = naming(PrefixMode::Conditional, &["alpha", "beta"]);
    let out = n.multiplex_names(
        NameKind::Prompt,
        &[listing("alpha", &["p", "q"]), listing("beta", &["p"])],
    );
    for (backend, name, client) in [
        ("alpha", "p", "alpha_p"),
        ("beta", "p", "beta_p"),
        ("alpha", "q", "q"),
    ] {
        assert_eq!(out.table.client_name(backend, name), Some(client));
        assert_eq!(
            n.resolve_name(Some(&out.table), client),
            Some(up(backend, name))
        );
    }
    assert_eq!(out.table.client_name("beta", "q"), None);
    assert_eq!(n.resolve_name(Some(&out.table), "p"), None);
}

#[test]
fn separator_inside_backend_and_tool_names_still_resolves() {
    // Backends `a` and `a_b`: `a_b_x` could split either way; the listing decides, and
    // without one the longest backend name wins.
    let n = naming(PrefixMode::Always, &["a", "a_b"]);
    let out = n.multiplex_names(
        NameKind::Tool,
        &[listing("a", &["get_user", "b"]), listing("a_b", &["x"])],
    );
    assert_eq!(
        rows(&out.table),
        vec![
            row("a_b", "a", "b"),
            row("a_b_x", "a_b", "x"),
            row("a_get_user", "a", "get_user"),
        ]
    );
    let cases = [
        ("a_get_user", Some(up("a", "get_user"))),
        ("a_b_x", Some(up("a_b", "x"))),
        ("a_b", Some(up("a", "b"))),
        ("a_b_new_tool", Some(up("a_b", "new_tool"))),
        ("a_", None),
        ("c_x", None),
        ("plain", None),
    ];
    for (client, expected) in cases {
        assert_eq!(
            n.resolve_name(Some(&out.table), client),
            expected,
            "{client}"
        );
    }
    assert_eq!(n.split_prefixed("a_b_x"), Some(up("a_b", "x")));
}

#[test]
fn different_upstream_names_that_prefix_to_the_same_name_are_refused() {
    let n = naming(PrefixMode::Always, &["a", "a_b"]);
    let out = n.multiplex_names(
        NameKind::Tool,
        &[listing("a", &["b_x", "ok"]), listing("a_b", &["x"])],
    );
    assert_eq!(rows(&out.table), vec![row("a_ok", "a", "ok")]);
    assert_eq!(out.refused.len(), 2);
    assert!(out.refused.iter().all(|r| r.name == "a_b_x"
        && r.reason
            == RefusalReason::Collision {
                backends: vec!["a".into(), "a_b".into()]
            }));
}

#[test]
fn conditional_prefixes_a_bare_name_that_equals_a_prefixed_one() {
    let n = naming(PrefixMode::Conditional, &["a", "b", "c"]);
    let out = n.multiplex_names(
        NameKind::Tool,
        &[
            listing("a", &["x"]),
            listing("b", &["x"]),
            listing("c", &["a_x"]),
        ],
    );
    assert_eq!(
        rows(&out.table),
        vec![
            row("a_x", "a", "x"),
            row("b_x", "b", "x"),
            row("c_a_x", "c", "a_x"),
        ]
    );
    assert!(out.refused.is_empty());
}

#[test]
fn prefixing_never_pushes_a_valid_tool_name_past_128_characters() {
    let n = naming(PrefixMode::Always, &["backend"]);
    let fits = "t".repeat(MAX_TOOL_NAME_LEN - "backend_".len());
    let too_long = "u".repeat(MAX_TOOL_NAME_LEN - "backend_".len() + 1);
    let already_invalid = "has space";
    let names = [fits.as_str(), too_long.as_str(), already_invalid];
    let tools = n.multiplex_names(NameKind::Tool, &[listing("backend", &names)]);
    assert_eq!(tools.table.len(), 2);
    assert!(tools.table.client_name("backend", &fits).is_some());
    assert_eq!(
        tools.table.client_name("backend", already_invalid),
        Some("backend_has space")
    );
    assert_eq!(tools.refused.len(), 1);
    assert_eq!(tools.refused[0].reason, RefusalReason::InvalidToolName);
    let prompts = n.multiplex_names(NameKind::Prompt, &[listing("backend", &names)]);
    assert_eq!(prompts.table.len(), 3, "prompt names have no length rule");
}

#[test]
fn a_name_listed_twice_by_one_backend_is_not_a_collision() {
    let n = naming(PrefixMode::Never, &["a"]);
    let out = n.multiplex_names(NameKind::Tool, &[listing("a", &["x", "x"])]);
    assert_eq!(rows(&out.table), vec![row("x", "a", "x")]);
    assert!(out.refused.is_empty());
}

#[test]
fn without_a_listing_only_always_mode_resolves() {
    for (mode, expected) in [
        (PrefixMode::Always, Some(up("a", "x"))),
        (PrefixMode::Conditional, None),
        (PrefixMode::Never, None),
    ] {
        assert_eq!(naming(mode, &["a"]).resolve_name(None, "a_x"), expected);
    }
}

#[test]
fn tool_name_rule_follows_the_spec() {
    let cases = [
        ("getUser", true),
        ("DATA_EXPORT_v2", true),
        ("admin.tools.list", true),
        ("a-b", true),
        ("", false),
        ("with space", false),
        ("a,b", false),
        ("a/b", false),
        ("ünï", false),
    ];
    for (name, valid) in cases {
        assert_eq!(is_valid_tool_name(name), valid, "{name}");
    }
    assert!(is_valid_tool_name(&"x".repeat(128)));
    assert!(!is_valid_tool_name(&"x".repeat(129)));
}

#[test]
fn configurations_that_cannot_name_tools_are_refused() {
    let err = |sep: &str, backends: &[&str]| {
        Naming::new(sep, PrefixMode::Always, backends.iter().copied()).unwrap_err()
    };
    assert_eq!(err("", &["a"]), NamingError::InvalidSeparator("".into()));
    assert_eq!(err("/", &["a"]), NamingError::InvalidSeparator("/".into()));
    assert_eq!(
        err("_", &["a b"]),
        NamingError::InvalidBackendName("a b".into())
    );
    assert_eq!(err("_", &[""]), NamingError::InvalidBackendName("".into()));
    assert_eq!(
        err("_", &["a", "a"]),
        NamingError::DuplicateBackend("a".into())
    );
    assert_eq!(
        err("_", &["my_srv", "my-srv"]),
        NamingError::DuplicateResourceTag("my_srv".into(), "my-srv".into(), "my-srv".into())
    );
    assert!(Naming::new("__", PrefixMode::Always, ["a", "b.c", "D-1"]).is_ok());
}

#[test]
fn longer_separators_work_the_same() {
    let n = Naming::new("__", PrefixMode::Always, ["x"]).unwrap();
    assert_eq!(n.prefixed("x", "a_b"), "x__a_b");
    assert_eq!(n.split_prefixed("x__a_b"), Some(up("x", "a_b")));
    assert_eq!(n.split_prefixed("x_a_b"), None);
}
