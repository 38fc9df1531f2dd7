use super::*;
use crate::naming::{Listing, NameKind, PrefixMode};
use serde_json::json;

fn message(body: &str) -> Message {
    parse(body.as_bytes()).unwrap()
}

fn request(body: &str) -> Request {
    match message(body) {
        Message::Request(r) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn single(method: SingleMethod, target: Target) -> Route {
    Route::Single(SingleTarget { method, target })
}

#[test]
fn requests_are_classified_by_method_and_target() {
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a_echo","arguments":{}}}"#,
            single(SingleMethod::ToolsCall, Target::Tool("a_echo".into())),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"p"}}"#,
            single(SingleMethod::PromptsGet, Target::Prompt("p".into())),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a+file:///x"}}"#,
            single(
                SingleMethod::ResourcesRead,
                Target::Resource("a+file:///x".into()),
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"u:1"}}"#,
            single(
                SingleMethod::ResourcesSubscribe,
                Target::Resource("u:1".into()),
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/unsubscribe","params":{"uri":"u:1"}}"#,
            single(
                SingleMethod::ResourcesUnsubscribe,
                Target::Resource("u:1".into()),
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"x","value":"y"}}}"#,
            single(SingleMethod::CompletionComplete, Target::Prompt("p".into())),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"a+demo://r/{id}"},"argument":{"name":"id","value":"1"}}}"#,
            single(
                SingleMethod::CompletionComplete,
                Target::Resource("a+demo://r/{id}".into()),
            ),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#,
            Route::FanOut(FanOutMethod::Initialize),
        ),
        (
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            Route::FanOut(FanOutMethod::Initialized),
        ),
        (
            r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#,
            Route::FanOut(FanOutMethod::Ping),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}"#,
            Route::FanOut(FanOutMethod::ToolsList),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/list"}"#,
            Route::FanOut(FanOutMethod::PromptsList),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/list"}"#,
            Route::FanOut(FanOutMethod::ResourcesList),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/templates/list"}"#,
            Route::FanOut(FanOutMethod::ResourceTemplatesList),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"info"}}"#,
            Route::FanOut(FanOutMethod::LoggingSetLevel),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"server/discover"}"#,
            Route::FanOut(FanOutMethod::ServerDiscover),
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"result":{"roots":[]}}"#,
            Route::ClientResponse,
        ),
        (
            r#"{"jsonrpc":"2.0","id":9,"error":{"code":-1,"message":"declined"}}"#,
            Route::ClientResponse,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}}"#,
            Route::ClientNotification("notifications/cancelled".into()),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tasks/get"}"#,
            Route::Unknown("tasks/get".into()),
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"notifications/initialized"}"#,
            Route::Unknown("notifications/initialized".into()),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(classify(&message(body)).unwrap(), expected, "{body}");
    }
}

#[test]
fn method_names_round_trip() {
    for m in [
        SingleMethod::ToolsCall,
        SingleMethod::PromptsGet,
        SingleMethod::ResourcesRead,
        SingleMethod::ResourcesSubscribe,
        SingleMethod::ResourcesUnsubscribe,
        SingleMethod::CompletionComplete,
    ] {
        assert_eq!(SingleMethod::from_method(m.as_str()), Some(m));
    }
    for m in [
        FanOutMethod::Initialize,
        FanOutMethod::Ping,
        FanOutMethod::ToolsList,
        FanOutMethod::PromptsList,
        FanOutMethod::ResourcesList,
        FanOutMethod::ResourceTemplatesList,
        FanOutMethod::LoggingSetLevel,
        FanOutMethod::ServerDiscover,
    ] {
        assert_eq!(FanOutMethod::for_request(m.as_str()), Some(m));
    }
}

#[test]
fn routed_requests_without_their_target_are_invalid_params() {
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            "params.name",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}"#,
            "params.name",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":[]}"#,
            "params.name",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"name":"x"}}"#,
            "params.uri",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{}}"#,
            "params.ref.type",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt"}}}"#,
            "params.ref.name",
        ),
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","name":"x"}}}"#,
            "params.ref.uri",
        ),
    ];
    for (body, field) in cases {
        let err = classify(&message(body)).unwrap_err();
        assert_eq!(err.code(), INVALID_PARAMS, "{body}");
        assert!(err.to_string().contains(field), "{body}: {err}");
    }
    let err = classify(&message(
        r#"{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/other","name":"x"}}}"#,
    ))
    .unwrap_err();
    assert_eq!(err.code(), INVALID_PARAMS);
}

#[test]
fn bad_bodies_get_the_standard_codes() {
    let cases = [
        ("{", -32700),
        ("", -32700),
        ("[1,", -32700),
        ("42", -32600),
        (r#"{"id":1,"method":"tools/call"}"#, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, -32600),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, -32600),
    ];
    for (body, code) in cases {
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(err.code(), code, "{body}");
        let response = err.response(Id::Null);
        assert_eq!(response.error_object().unwrap().code, code);
        assert_eq!(response.id, Id::Null);
    }
}

/// Backends `alpha` and `beta`, always prefixed; `alpha` listed the tool `echo`.
fn gateway() -> (Naming, NameTable) {
    let naming = Naming::new("_", PrefixMode::Always, ["alpha", "beta"]).unwrap();
    let tools = naming.multiplex_names(
        NameKind::Tool,
        &[Listing {
            backend: "alpha",
            names: vec!["echo"],
        }],
    );
    (naming, tools.table)
}

#[test]
fn targets_resolve_to_their_backend_or_name_the_unknown_one() {
    let (naming, tools) = gateway();
    let listings = Listings {
        tools: Some(&tools),
        ..Listings::default()
    };
    let cases = [
        (Target::Tool("alpha_echo".into()), Ok(("alpha", "echo"))),
        (Target::Tool("beta_new".into()), Ok(("beta", "new"))),
        (Target::Prompt("alpha_p".into()), Ok(("alpha", "p"))),
        (
            Target::Resource("beta+file:///x".into()),
            Ok(("beta", "file:///x")),
        ),
        (Target::Tool("gamma_x".into()), Err("Unknown tool: gamma_x")),
        (Target::Prompt("nope".into()), Err("Unknown prompt: nope")),
        (
            Target::Resource("file:///x".into()),
            Err("Unknown resource: file:///x"),
        ),
    ];
    for (target, expected) in cases {
        let got = resolve(&naming, &listings, &target);
        match expected {
            Ok((backend, name)) => {
                let up = got.unwrap();
                assert_eq!((up.backend.as_str(), up.name.as_str()), (backend, name));
            }
            Err(message) => {
                let err = got.unwrap_err();
                assert_eq!(err.code(), INVALID_PARAMS);
                assert_eq!(err.to_string(), message);
            }
        }
    }
}

#[test]
fn an_unknown_prefixed_tool_is_answered_with_minus_32602_naming_it() {
    let (naming, tools) = gateway();
    let listings = Listings {
        tools: Some(&tools),
        ..Listings::default()
    };
    let req = request(
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"zeta_drop","arguments":{}}}"#,
    );
    let Route::Single(single) = classify(&Message::Request(req.clone())).unwrap() else {
        panic!("not single-target");
    };
    let err = resolve(&naming, &listings, &single.target).unwrap_err();
    let value = Message::Response(err.response(req.id)).to_value();
    assert_eq!(
        value,
        json!({"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool: zeta_drop"}})
    );
}

#[test]
fn an_unknown_resource_carries_its_uri_in_data() {
    let err = RouteError::UnknownTarget(Target::Resource("x:y".into()));
    let response = err.response(Id::from(1));
    assert_eq!(
        response.error_object().unwrap().data,
        Some(json!({"uri": "x:y"}))
    );
}

#[test]
fn rewriting_replaces_only_the_target_and_keeps_member_order() {
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"alpha_echo","arguments":{"name":"alpha_echo"},"_meta":{"progressToken":"t"}}}"#,
            "echo",
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"name":"alpha_echo"},"_meta":{"progressToken":"t"}}}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","id":"x","method":"prompts/get","params":{"arguments":{},"name":"beta_p"}}"#,
            "p",
            r#"{"jsonrpc":"2.0","id":"x","method":"prompts/get","params":{"arguments":{},"name":"p"}}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"a+file:///x"}}"#,
            "file:///x",
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///x"}}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"a+demo://r/{id}"},"argument":{"name":"id","value":"1"}}}"#,
            "demo://r/{id}",
            r#"{"jsonrpc":"2.0","id":3,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"demo://r/{id}"},"argument":{"name":"id","value":"1"}}}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","id":4,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"a_p"},"argument":{"name":"n","value":""}}}"#,
            "p",
            r#"{"jsonrpc":"2.0","id":4,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"p"},"argument":{"name":"n","value":""}}}"#,
        ),
    ];
    for (body, upstream, expected) in cases {
        let req = request(body);
        let Route::Single(single) = classify(&Message::Request(req.clone())).unwrap() else {
            panic!("not single-target: {body}");
        };
        let out = rewrite_request(&req, &single, upstream);
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}

#[test]
fn a_routed_request_carries_backend_body_and_mcp_name() {
    let (naming, tools) = gateway();
    let listings = Listings {
        tools: Some(&tools),
        ..Listings::default()
    };
    let req = request(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"alpha_echo","arguments":{"m":"hi"}}}"#,
    );
    let Route::Single(single) = classify(&Message::Request(req.clone())).unwrap() else {
        panic!("not single-target");
    };
    let routed = route_single(&naming, &listings, &req, &single).unwrap();
    assert_eq!(routed.upstream.backend, "alpha");
    assert_eq!(routed.upstream.name, "echo");
    assert_eq!(routed.mcp_name, "echo");
    assert_eq!(
        String::from_utf8(routed.body).unwrap(),
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"m":"hi"}}}"#
    );
}
