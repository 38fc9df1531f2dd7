use std::sync::Arc;

use serde_json::json;

use super::*;

fn rule(name: &str, when: Option<&str>, allow: &str) -> RuleConfig {
    RuleConfig {
        name: name.into(),
        when: when.map(str::to_string),
        allow: allow.into(),
        scope: None,
    }
}

fn context(claims: serde_json::Value, method: &str, path: &str) -> Context {
    Context {
        jwt: Some(Arc::new(Claims::from_json(&claims))),
        request: RequestInfo {
            method: method.into(),
            path: path.into(),
            headers: vec![("x-tenant".into(), "blue".into())],
        },
        ..Context::default()
    }
}

fn alice() -> serde_json::Value {
    json!({"sub": "alice", "roles": ["reader"], "scope": "tools:read", "exp": 1700000300, "tier": 2})
}

#[test]
fn rules_over_every_variable() {
    let mut mcp = context(alice(), "POST", "/mcp");
    mcp.mcp = McpInfo {
        method: "tools/call".into(),
        backend: "github".into(),
        tool: "github_search".into(),
        arguments: json!({"query": "rust", "limit": 5}),
        ..McpInfo::default()
    };
    mcp.a2a.method = "SendMessage".into();
    mcp.llm = LlmInfo {
        model: "gpt-4o".into(),
        provider: "openai".into(),
    };
    let cases: &[(&str, bool)] = &[
        ("jwt.sub == 'alice'", true),
        ("'reader' in jwt.roles", true),
        ("'admin' in jwt.roles", false),
        ("jwt.scope.split(' ').exists(s, s == 'tools:read')", true),
        ("jwt.tier >= 2 && jwt.exp > 1700000000", true),
        (
            "request.method == 'POST' && request.path.startsWith('/mcp')",
            true,
        ),
        ("request.headers['x-tenant'] == 'blue'", true),
        (
            "mcp.method == 'tools/call' && mcp.backend == 'github'",
            true,
        ),
        ("mcp.tool.startsWith('github_')", true),
        (
            "mcp.arguments.limit <= 10 && mcp.arguments.query == 'rust'",
            true,
        ),
        ("a2a.method == 'SendMessage'", true),
        ("llm.model == 'gpt-4o' && llm.provider == 'openai'", true),
        ("llm.model.matches('^claude-')", false),
    ];
    for (expr, expected) in cases {
        let policy = PolicySet::compile(&[rule("r", None, expr)]).unwrap();
        let decision = policy.allows(&mcp);
        assert_eq!(
            decision == Decision::Allow,
            *expected,
            "{expr}: {decision:?}"
        );
    }
}

#[test]
fn first_applicable_denial_decides() {
    let policy = PolicySet::compile(&[
        rule(
            "deletes-need-admin",
            Some("request.method == 'DELETE'"),
            "'admin' in jwt.roles",
        ),
        rule("no-internal", None, "!request.path.startsWith('/internal')"),
    ])
    .unwrap();
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/public", None),
        ("DELETE", "/public", Some("deletes-need-admin")),
        ("GET", "/internal/x", Some("no-internal")),
    ];
    for (method, path, denier) in cases {
        let decision = policy.allows(&context(alice(), method, path));
        let got = match &decision {
            Decision::Allow => None,
            Decision::Deny { policy, error, .. } => {
                assert!(error.is_none(), "{error:?}");
                Some(policy.as_str())
            }
        };
        assert_eq!(got, *denier, "{method} {path}");
    }
}

#[test]
fn evaluation_errors_and_non_booleans_deny() {
    let cases = [
        "jwt.missing_claim == 'x'",
        "jwt.sub",
        "1 / 0 == 1",
        "request.headers['absent'] == 'x'",
    ];
    for expr in cases {
        let policy = PolicySet::compile(&[rule("r", None, expr)]).unwrap();
        let mut outcomes = Vec::new();
        let decision = policy.evaluate(&context(alice(), "GET", "/"), |name, o| {
            outcomes.push((name.to_string(), o))
        });
        assert!(
            matches!(&decision, Decision::Deny { error: Some(_), .. }),
            "{expr}: {decision:?}"
        );
        assert_eq!(outcomes, vec![("r".to_string(), Outcome::Error)], "{expr}");
    }
}

#[test]
fn a_failing_when_denies_too() {
    let policy = PolicySet::compile(&[rule("r", Some("jwt.nope"), "true")]).unwrap();
    assert!(matches!(
        policy.allows(&context(alice(), "GET", "/")),
        Decision::Deny { error: Some(_), .. }
    ));
}

#[test]
fn anonymous_requests_see_an_empty_jwt() {
    let policy = PolicySet::compile(&[rule("r", None, "!has(jwt.sub) && size(jwt) == 0")]).unwrap();
    let anonymous = Context {
        jwt: None,
        ..context(json!({}), "GET", "/")
    };
    assert_eq!(policy.allows(&anonymous), Decision::Allow);
}

#[test]
fn outcomes_are_reported_per_rule() {
    let policy = PolicySet::compile(&[
        rule("a", None, "true"),
        rule("skipped", Some("false"), "false"),
        rule("b", None, "false"),
        rule("never", None, "true"),
    ])
    .unwrap();
    let mut outcomes = Vec::new();
    policy.evaluate(&context(alice(), "GET", "/"), |name, o| {
        outcomes.push((name.to_string(), o))
    });
    assert_eq!(
        outcomes,
        vec![
            ("a".to_string(), Outcome::Allow),
            ("b".to_string(), Outcome::Deny)
        ]
    );
}

#[test]
fn listings_are_filtered_per_item() {
    let policy = PolicySet::compile(&[
        rule(
            "readers-search-only",
            Some("mcp.tool != ''"),
            "'admin' in jwt.roles || mcp.tool.endsWith('_search')",
        ),
        rule(
            "no-secret-prompts",
            Some("mcp.prompt != ''"),
            "!mcp.prompt.contains('secret')",
        ),
    ])
    .unwrap();
    let base = context(alice(), "POST", "/mcp");
    assert_eq!(
        policy.filter_names(
            &base,
            ItemKind::Tool,
            &["gh_search", "gh_delete", "db_search"]
        ),
        vec![true, false, true]
    );
    assert_eq!(
        policy.filter_names(&base, ItemKind::Prompt, &["hello", "secret_plan"]),
        vec![true, false]
    );
    let admin = context(json!({"roles": ["admin"]}), "POST", "/mcp");
    assert_eq!(
        policy.filter_names(&admin, ItemKind::Tool, &["gh_delete"]),
        vec![true]
    );
}

#[test]
fn compile_errors_name_the_rule_and_field() {
    let err = PolicySet::compile(&[rule("ok", None, "true"), rule("bad", Some("(("), "true")])
        .err()
        .unwrap();
    assert_eq!((err.index, err.field), (1, "when"));
    let err = PolicySet::compile(&[rule("bad", None, "a +")])
        .err()
        .unwrap();
    assert_eq!((err.index, err.field), (0, "allow"));
    let err = PolicySet::compile(&[rule("", None, "true")]).err().unwrap();
    assert_eq!(err.field, "name");
}

#[test]
fn policy_set_is_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicySet>();
    assert_send_sync::<Context>();
}
