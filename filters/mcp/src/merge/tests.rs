use ai_gateway_core::jsonrpc::{ErrorObject, Id, Outcome, INTERNAL_ERROR, INVALID_PARAMS};
use serde_json::{json, Value};

use super::*;
use crate::cursor::{Ask, Page, PageCursor};
use crate::naming::{Listing, Naming, PrefixMode, RefusalReason};
use crate::session_token::{Sealer, SessionKey, SessionPayload, NONCE_LEN};

const BACKENDS: [&str; 3] = ["a", "b", "c"];
const SUPPORTED: [&str; 4] = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];

fn naming(mode: PrefixMode) -> Naming {
    Naming::new("_", mode, BACKENDS).unwrap()
}

fn sealer() -> Sealer {
    Sealer::new(&[SessionKey::from_bytes([1; 32])], 3600).unwrap()
}

fn gateway() -> GatewayInfo {
    GatewayInfo {
        name: "ai-gateway".into(),
        version: "1.0.0".into(),
    }
}

fn reply(backend: &'static str, mode: FailureMode, reply: Reply) -> BackendReply<'static> {
    BackendReply {
        backend,
        failure_mode: mode,
        reply,
    }
}

fn ok(backend: &'static str, result: Value) -> BackendReply<'static> {
    reply(backend, FailureMode::FailOpen, Reply::Result(result))
}

fn timeout(backend: &'static str, mode: FailureMode) -> BackendReply<'static> {
    reply(backend, mode, Reply::Failed("timeout".into()))
}

fn tools(names: &[&str]) -> Value {
    let items: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "description": format!("does {n}")}))
        .collect();
    json!({ "tools": items })
}

fn with_cursor(mut result: Value, cursor: &str) -> Value {
    result["nextCursor"] = json!(cursor);
    result
}

struct Merger {
    naming: Naming,
    sealer: Sealer,
    style: ResultStyle,
}

impl Merger {
    fn new(mode: PrefixMode) -> Merger {
        Merger {
            naming: naming(mode),
            sealer: sealer(),
            style: ResultStyle::SessionBased,
        }
    }

    fn list_with(
        &self,
        kind: ListKind,
        known: &[Listing<'_>],
        replies: &[BackendReply<'_>],
    ) -> Result<Merged<ListPage>, FanOutError> {
        let gateway = gateway();
        let ctx = ListContext {
            naming: &self.naming,
            sealer: &self.sealer,
            nonce: [9; NONCE_LEN],
            style: self.style,
            gateway: &gateway,
            known,
        };
        merge_list(kind, &ctx, replies)
    }

    fn list(&self, kind: ListKind, replies: &[BackendReply<'_>]) -> Merged<ListPage> {
        self.list_with(kind, &[], replies).unwrap()
    }
}

fn names(page: &ListPage, kind: ListKind) -> Vec<String> {
    page.result[kind.items_key()]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[kind.name_key()].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn colliding_tool_names_are_prefixed_in_conditional_mode() {
    let merged = Merger::new(PrefixMode::Conditional).list(
        ListKind::Tools,
        &[ok("a", tools(&["x", "y"])), ok("b", tools(&["x", "z"]))],
    );
    assert_eq!(
        names(&merged.value, ListKind::Tools),
        ["a_x", "y", "b_x", "z"]
    );
    assert!(merged.value.refused.is_empty());
}

#[test]
fn tool_names_follow_the_prefix_mode_in_backend_then_upstream_order() {
    let cases: [(PrefixMode, &[&str], usize); 3] = [
        (PrefixMode::Always, &["a_x", "a_y", "b_x", "b_z"], 0),
        (PrefixMode::Conditional, &["a_x", "y", "b_x", "z"], 0),
        (PrefixMode::Never, &["y", "z"], 2),
    ];
    for (mode, expected, refused) in cases {
        let merged = Merger::new(mode).list(
            ListKind::Tools,
            &[ok("a", tools(&["x", "y"])), ok("b", tools(&["x", "z"]))],
        );
        assert_eq!(names(&merged.value, ListKind::Tools), expected, "{mode:?}");
        assert_eq!(merged.value.refused.len(), refused, "{mode:?}");
        let ListTable::Names(table) = &merged.value.table else {
            panic!("tools give a name table");
        };
        assert_eq!(table.len(), expected.len(), "{mode:?}");
    }
}

#[test]
fn items_keep_every_other_field_and_the_table_routes_back() {
    let merged = Merger::new(PrefixMode::Always).list(
        ListKind::Tools,
        &[ok(
            "a",
            json!({"tools": [{"name": "x", "inputSchema": {"type": "object"}, "title": "X"}]}),
        )],
    );
    let item = &merged.value.result["tools"][0];
    assert_eq!(
        item,
        &json!({"name": "a_x", "inputSchema": {"type": "object"}, "title": "X"})
    );
    let ListTable::Names(table) = &merged.value.table else {
        panic!("name table");
    };
    let upstream = table.resolve("a_x").unwrap();
    assert_eq!(
        (upstream.backend.as_str(), upstream.name.as_str()),
        ("a", "x")
    );
}

#[test]
fn refused_names_are_reported_for_this_page_only() {
    let known = [Listing {
        backend: "c",
        names: vec!["k", "y"],
    }];
    let merged = Merger::new(PrefixMode::Never)
        .list_with(
            ListKind::Prompts,
            &known,
            &[
                ok("a", json!({"prompts": [{"name": "x"}, {"name": "k"}]})),
                ok("b", json!({"prompts": [{"name": "x"}, {"name": "y"}]})),
            ],
        )
        .unwrap();
    assert!(names(&merged.value, ListKind::Prompts).is_empty());
    let refused: Vec<(&str, &str)> = merged
        .value
        .refused
        .iter()
        .map(|r| (r.name.as_str(), r.backend.as_str()))
        .collect();
    // c's own refusals (k, y) belong to the listing it came from, not to this page.
    assert_eq!(refused, [("k", "a"), ("x", "a"), ("x", "b"), ("y", "b")]);
    assert!(matches!(
        merged.value.refused[1].reason,
        RefusalReason::Collision { .. }
    ));
}

#[test]
fn items_without_a_name_are_left_out_and_counted() {
    let merged = Merger::new(PrefixMode::Always).list(
        ListKind::Tools,
        &[ok("a", json!({"tools": [{"name": "x"}, {"name": 7}, {}]}))],
    );
    assert_eq!(names(&merged.value, ListKind::Tools), ["a_x"]);
    assert_eq!(merged.value.malformed, ["a", "a"]);
}

#[test]
fn resource_uris_and_templates_get_a_scheme_prefix() {
    let cases = [
        (
            ListKind::Resources,
            json!({"resources": [{"uri": "file:///x", "name": "x"}]}),
            "a+file:///x",
        ),
        (
            ListKind::ResourceTemplates,
            json!({"resourceTemplates": [{"uriTemplate": "demo://r/{id}", "name": "r"}]}),
            "a+demo://r/{id}",
        ),
    ];
    for (kind, result, expected) in cases {
        let merged = Merger::new(PrefixMode::Always).list(kind, &[ok("a", result)]);
        assert_eq!(names(&merged.value, kind), [expected], "{kind:?}");
        assert!(matches!(merged.value.table, ListTable::Uris(_)));
    }
}

#[test]
fn shared_uri_schemes_are_refused_in_never_mode() {
    let merged = Merger::new(PrefixMode::Never).list(
        ListKind::Resources,
        &[
            ok(
                "a",
                json!({"resources": [{"uri": "demo://1"}, {"uri": "a-only://x"}]}),
            ),
            ok(
                "b",
                json!({"resources": [{"uri": "demo://2"}, {"uri": "no scheme"}]}),
            ),
        ],
    );
    assert_eq!(names(&merged.value, ListKind::Resources), ["a-only://x"]);
    let refused: Vec<(&str, &RefusalReason)> = merged
        .value
        .refused
        .iter()
        .map(|r| (r.name.as_str(), &r.reason))
        .collect();
    let shared = RefusalReason::Collision {
        backends: vec!["a".into(), "b".into()],
    };
    assert_eq!(
        refused,
        [
            ("demo://1", &shared),
            ("demo://2", &shared),
            ("no scheme", &RefusalReason::InvalidUri)
        ]
    );
}

#[test]
fn known_listings_make_resources_and_templates_agree_on_bare_schemes() {
    let merger = Merger::new(PrefixMode::Conditional);
    let resources = [ok(
        "a",
        json!({"resources": [{"uri": "demo://x", "name": "x"}]}),
    )];
    let alone = merger.list(ListKind::Resources, &resources);
    assert_eq!(names(&alone.value, ListKind::Resources), ["demo://x"]);
    let templates = [Listing {
        backend: "b",
        names: vec!["demo://{id}"],
    }];
    let together = merger
        .list_with(ListKind::Resources, &templates, &resources)
        .unwrap();
    assert_eq!(names(&together.value, ListKind::Resources), ["a+demo://x"]);
}

#[test]
fn failed_backend_is_left_out_when_fail_open() {
    let error = Reply::Error(ErrorObject::new(-32000, "boom"));
    let cases = [
        (Reply::Failed("HTTP 503".into()), "HTTP 503"),
        (error, "JSON-RPC error -32000: boom"),
        (
            Reply::Result(json!({"resultType": "input_required"})),
            "unexpected resultType \"input_required\"",
        ),
        (
            Reply::Result(json!({"prompts": []})),
            "result has no tools array",
        ),
        (Reply::Result(json!([])), "result is not an object"),
    ];
    for (bad, reason) in cases {
        let merged = Merger::new(PrefixMode::Always).list(
            ListKind::Tools,
            &[
                ok("a", tools(&["x"])),
                reply("b", FailureMode::FailOpen, bad),
                ok("c", tools(&["z"])),
            ],
        );
        assert_eq!(names(&merged.value, ListKind::Tools), ["a_x", "c_z"]);
        assert_eq!(
            merged.left_out,
            [Failure {
                backend: "b".into(),
                reason: reason.into()
            }]
        );
    }
}

#[test]
fn failed_backend_is_a_json_rpc_error_naming_it_when_fail_closed() {
    let err = Merger::new(PrefixMode::Always)
        .list_with(
            ListKind::Tools,
            &[],
            &[
                ok("a", tools(&["x"])),
                timeout("b", FailureMode::FailClosed),
                timeout("c", FailureMode::FailOpen),
            ],
        )
        .unwrap_err();
    assert_eq!(err.code(), INTERNAL_ERROR);
    assert_eq!(
        err.to_string(),
        "tools/list failed on backend b (timeout), backend c (timeout)"
    );
    assert_eq!(err.failures().len(), 2);
    let response = err.response(Id::from(4));
    let Outcome::Error(error) = &response.outcome else {
        panic!("an error response");
    };
    assert_eq!(
        error.data,
        Some(json!({"backends": [
            {"name": "b", "reason": "timeout"},
            {"name": "c", "reason": "timeout"}
        ]}))
    );
}

#[test]
fn every_backend_failing_is_an_error_even_when_fail_open() {
    let err = Merger::new(PrefixMode::Always)
        .list_with(
            ListKind::Tools,
            &[],
            &[
                timeout("a", FailureMode::FailOpen),
                timeout("b", FailureMode::FailOpen),
            ],
        )
        .unwrap_err();
    assert_eq!(err.failures().len(), 2);
}

#[test]
fn a_backend_without_the_feature_adds_nothing_and_is_no_failure() {
    let not_found = Reply::Error(ErrorObject::new(-32601, "Method not found"));
    let merged = Merger::new(PrefixMode::Always).list(
        ListKind::Prompts,
        &[
            reply("a", FailureMode::FailClosed, not_found.clone()),
            ok("b", json!({"prompts": [{"name": "p"}]})),
        ],
    );
    assert_eq!(names(&merged.value, ListKind::Prompts), ["b_p"]);
    assert!(merged.left_out.is_empty());
    // Only backends lacking the feature: an empty list, not an outage.
    let merged = Merger::new(PrefixMode::Always).list(
        ListKind::Prompts,
        &[reply("a", FailureMode::FailClosed, not_found)],
    );
    assert!(names(&merged.value, ListKind::Prompts).is_empty());
}

#[test]
fn stateless_results_carry_result_type_cache_hints_and_the_gateway() {
    let mut merger = Merger::new(PrefixMode::Always);
    merger.style = ResultStyle::Stateless;
    let cases = [
        (
            json!({"ttlMs": 500, "cacheScope": "public"}),
            json!({"ttlMs": 90, "cacheScope": "public"}),
            90,
            "public",
        ),
        (
            json!({"ttlMs": 500, "cacheScope": "public"}),
            json!({}),
            500,
            "private",
        ),
        (json!({}), json!({}), 0, "private"),
    ];
    for (a, b, ttl, scope) in cases {
        let mut a_result = tools(&["x"]);
        let mut b_result = tools(&["y"]);
        a_result
            .as_object_mut()
            .unwrap()
            .extend(a.as_object().unwrap().clone());
        b_result
            .as_object_mut()
            .unwrap()
            .extend(b.as_object().unwrap().clone());
        let merged = merger.list(ListKind::Tools, &[ok("a", a_result), ok("b", b_result)]);
        let result = &merged.value.result;
        assert_eq!(result["resultType"], "complete");
        assert_eq!(result["ttlMs"], ttl);
        assert_eq!(result["cacheScope"], scope);
        assert_eq!(
            result["_meta"]["io.modelcontextprotocol/serverInfo"],
            json!({"name": "ai-gateway", "version": "1.0.0"})
        );
    }
    let session_based =
        Merger::new(PrefixMode::Always).list(ListKind::Tools, &[ok("a", tools(&["x"]))]);
    assert_eq!(
        session_based.value.result,
        json!({"tools": [{"name": "a_x", "description": "does x"}]})
    );
    assert_eq!(
        ResultStyle::for_version("2025-11-25"),
        ResultStyle::SessionBased
    );
    assert_eq!(
        ResultStyle::for_version("2026-07-28"),
        ResultStyle::Stateless
    );
}

#[test]
fn ping_and_set_level_answer_empty_by_the_failure_rules() {
    let not_found = Reply::Error(ErrorObject::new(-32601, "no logging"));
    let cases: Vec<(
        FanOutMethod,
        Vec<BackendReply<'static>>,
        Result<usize, usize>,
    )> = vec![
        (
            FanOutMethod::Ping,
            vec![ok("a", json!({})), ok("b", json!({}))],
            Ok(0),
        ),
        (
            FanOutMethod::Ping,
            vec![ok("a", json!({})), timeout("b", FailureMode::FailOpen)],
            Ok(1),
        ),
        (
            FanOutMethod::Ping,
            vec![ok("a", json!({})), timeout("b", FailureMode::FailClosed)],
            Err(1),
        ),
        (
            FanOutMethod::Ping,
            vec![
                timeout("a", FailureMode::FailOpen),
                timeout("b", FailureMode::FailOpen),
            ],
            Err(2),
        ),
        (
            FanOutMethod::Ping,
            vec![
                ok("a", json!({})),
                reply("b", FailureMode::FailClosed, not_found.clone()),
            ],
            Ok(0),
        ),
        (
            FanOutMethod::LoggingSetLevel,
            vec![
                ok("a", json!({})),
                reply("b", FailureMode::FailClosed, not_found),
            ],
            Ok(0),
        ),
        (
            FanOutMethod::LoggingSetLevel,
            vec![ok("a", json!({})), timeout("b", FailureMode::FailClosed)],
            Err(1),
        ),
    ];
    for (method, replies, expected) in cases {
        let merged = merge_empty(method, ResultStyle::SessionBased, &gateway(), &replies);
        match (merged, expected) {
            (Ok(m), Ok(left_out)) => {
                assert_eq!(m.value, json!({}), "{method:?}");
                assert_eq!(m.left_out.len(), left_out, "{method:?}");
            }
            (Err(e), Err(failures)) => assert_eq!(e.failures().len(), failures, "{method:?}"),
            (got, want) => panic!("{method:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn long_failure_reasons_are_shortened() {
    let merged = Merger::new(PrefixMode::Always).list(
        ListKind::Tools,
        &[
            ok("a", tools(&["x"])),
            reply("b", FailureMode::FailOpen, Reply::Failed("é".repeat(500))),
        ],
    );
    assert_eq!(merged.left_out[0].reason.chars().count(), 201);
}

mod cursor;
mod identity;
