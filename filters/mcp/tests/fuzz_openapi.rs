//! Fuzz target: the OpenAPI parameter and body encoder. For the documented example APIs in
//! `testdata/openapi/` and for one operation per style × location, arbitrary `tools/call`
//! arguments either are refused or build a request whose path is a valid request target and
//! whose headers cannot be split (no CR, LF or NUL), with a body bounded by the arguments.

use std::path::Path;

use ai_gateway_core::fuzz::{self, check};
use ai_gateway_mcp::openapi::derive::{Body, BodyKind, Location, Operation, Param, Style};
use ai_gateway_mcp::openapi::request::build;
use ai_gateway_mcp::openapi::{OpenApi, Selection};
use proptest::prelude::*;
use serde_json::Value;

fn documented() -> Vec<Operation> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/openapi");
    ["petstore.yaml", "oneof.yaml", "nested.json"]
        .iter()
        .flat_map(|name| {
            let text = std::fs::read_to_string(root.join(name)).expect("testdata");
            let spec = match name.ends_with(".json") {
                true => serde_json::from_str(&text).expect("JSON document"),
                false => Value::String(text),
            };
            OpenApi::from_spec(&spec, None, &Selection::default())
                .expect("documented API")
                .operations
        })
        .collect()
}

/// One operation per location × style × explode × allowReserved, each with every body kind.
fn synthetic() -> Vec<Operation> {
    use Location::*;
    use Style::*;
    let styles = [
        Simple,
        Label,
        Matrix,
        Form,
        SpaceDelimited,
        PipeDelimited,
        DeepObject,
        Json,
    ];
    let kinds = [
        BodyKind::Json,
        BodyKind::Form,
        BodyKind::Multipart,
        BodyKind::Text,
    ];
    let mut out = Vec::new();
    for location in [Path, Query, Header, Cookie] {
        for (i, style) in styles.into_iter().enumerate() {
            for flags in 0..4 {
                let param = Param {
                    name: "p".into(),
                    location,
                    style,
                    explode: flags & 1 == 1,
                    required: false,
                    allow_reserved: flags & 2 == 2,
                };
                out.push(Operation {
                    name: format!("op{}", out.len()),
                    operation_id: None,
                    method: "POST".into(),
                    path: "/items/{p}/x".into(),
                    params: vec![param],
                    body: Some(Body {
                        kind: kinds[(i + flags) % kinds.len()],
                        content_type: "application/json".into(),
                        required: false,
                    }),
                    wraps_output: false,
                    tool: Value::Null,
                });
            }
        }
    }
    out
}

/// Argument values that stress encoders: line breaks, NUL, `%`, braces, non-ASCII.
fn argument() -> impl Strategy<Value = Value> {
    prop_oneof![
        fuzz::json_value(2),
        "[\\r\\n\\x00%{}#&=;, /?é\u{202e}a-z]{0,16}".prop_map(Value::String),
    ]
}

#[test]
fn fuzz_openapi_encoder() {
    let operations: Vec<Operation> = documented().into_iter().chain(synthetic()).collect();
    let names: Vec<String> = operations
        .iter()
        .flat_map(|op| op.params.iter().map(|p| p.name.clone()))
        .chain(["body".to_string(), "other".to_string()])
        .collect();
    let arguments =
        proptest::collection::btree_map(proptest::sample::select(names), argument(), 0..6)
            .prop_map(|map| Value::Object(map.into_iter().collect()));
    let input = (
        proptest::sample::select(operations),
        arguments,
        any::<u64>(),
    );
    fuzz::run("openapi_encoder", input, |(op, args, seed)| {
        let Ok(request) = build(&op, "/api", Some(&args), seed) else {
            return Ok(());
        };
        let target_byte = |b: u8| (0x21..=0x7e).contains(&b) && b != b'#';
        check(
            request.path.starts_with("/api/") && request.path.bytes().all(target_byte),
            || format!("path {:?}", request.path),
        )?;
        for (name, value) in &request.headers {
            let token = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b);
            check(!name.is_empty() && name.bytes().all(token), || {
                format!("header name {name:?}")
            })?;
            check(
                !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0),
                || format!("header {name}: {value:?}"),
            )?;
        }
        let size = args.to_string().len();
        check(request.body.len() <= 128 * size + 1024, || {
            format!("{} body bytes from {size}", request.body.len())
        })
    });
}
