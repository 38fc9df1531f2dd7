//! Golden tool lists of the documents in `testdata/openapi/` and the document-level errors.
//! `UPDATE_GOLDEN=1 cargo test -p ai-gateway-mcp openapi` rewrites the `.tools.json` files
//! (review the diff: it is the contract clients see).

use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/openapi")
        .join(name)
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(testdata(name)).unwrap();
    if name.ends_with(".json") {
        serde_json::from_str(&text).unwrap()
    } else {
        Value::String(text)
    }
}

fn golden(spec: &str) {
    let api = OpenApi::from_spec(&load(spec), None, &Selection::default()).unwrap();
    let actual = serde_json::to_string_pretty(&api.tools).unwrap() + "\n";
    let stem = spec.rsplit_once('.').unwrap().0;
    let path = testdata(&format!("{stem}.tools.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    let expected: Value = serde_json::from_str(&expected).unwrap();
    let actual: Value = serde_json::from_str(&actual).unwrap();
    assert_eq!(actual, expected, "{spec}: tool list differs from {path:?}");
}

#[test]
fn petstore_30_yaml_gives_its_golden_tools() {
    golden("petstore.yaml");
}

#[test]
fn nested_refs_31_json_give_their_golden_tools() {
    golden("nested.json");
}

#[test]
fn one_of_and_body_kinds_give_their_golden_tools() {
    golden("oneof.yaml");
}

#[test]
fn operations_carry_what_requests_need() {
    let api = OpenApi::from_spec(&load("oneof.yaml"), None, &Selection::default()).unwrap();
    let names: Vec<&str> = api.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "get_payments",
            "createPayment",
            "refundPayment",
            "uploadReceipt",
            "putNote"
        ]
    );
    let list = api.operation("get_payments").unwrap();
    assert!(list.wraps_output, "an array response is wrapped");
    let create = api.operation("createPayment").unwrap();
    let body = create.body.as_ref().unwrap();
    assert_eq!(
        (body.kind, body.content_type.as_str()),
        (BodyKind::Json, "application/json")
    );
    let refund = api.operation("refundPayment").unwrap();
    assert_eq!(refund.body.as_ref().unwrap().kind, BodyKind::Form);
    assert!(!refund.body.as_ref().unwrap().required);
    assert_eq!(
        api.operation("uploadReceipt")
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .kind,
        BodyKind::Multipart
    );
    assert_eq!(
        api.operation("putNote")
            .unwrap()
            .body
            .as_ref()
            .unwrap()
            .kind,
        BodyKind::Text
    );
    assert_eq!(api.base_path, "");
    assert_eq!(api.title, "Payments");
}

#[test]
fn base_path_comes_from_the_first_server_unless_configured() {
    let spec = load("petstore.yaml");
    let api = OpenApi::from_spec(&spec, None, &Selection::default()).unwrap();
    assert_eq!(api.base_path, "/v1");
    let api = OpenApi::from_spec(&spec, Some("/api/"), &Selection::default()).unwrap();
    assert_eq!(api.base_path, "/api");
}

#[test]
fn include_and_exclude_select_operations() {
    let spec = load("petstore.yaml");
    let only = Selection {
        include: Some(vec!["listPets".into(), "showPetById".into()]),
        exclude: vec!["showPetById".into()],
    };
    let api = OpenApi::from_spec(&spec, None, &only).unwrap();
    let names: Vec<&str> = api.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["listPets"]);
    let typo = Selection {
        include: None,
        exclude: vec!["deletePet".into(), "listpets".into()],
    };
    let err = OpenApi::from_spec(&spec, None, &typo).unwrap_err();
    assert_eq!(err.field(), "exclude[1]");
    assert_eq!(
        err.to_string(),
        "exclude[1]: `listpets` is neither an operationId nor a tool name of this API"
    );
}

fn minimal(paths: Value) -> Value {
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths})
}

#[test]
fn bad_documents_are_refused_with_reasons() {
    let none = Selection::default();
    let mut cases: Vec<(Value, &str)> = vec![
        (
            Value::String("openapi: [unclosed".into()),
            "not a readable YAML or JSON document",
        ),
        (
            json!({"swagger": "2.0"}),
            "Swagger 2.0 documents are not supported",
        ),
        (
            json!({"openapi": "4.0.0"}),
            "must be a 3.0.x or 3.1.x version string, found \"4.0.0\"",
        ),
        (
            minimal(json!({})),
            "no operation is left to serve as a tool",
        ),
        (
            minimal(json!({"/a": {"get": {"responses": {"200": {"content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Gone"}}}}}}}})),
            "`$ref` \"#/components/schemas/Gone\" at GET /a does not resolve in this document",
        ),
        (
            minimal(json!({
                "/a": {"get": {"operationId": "read item"}},
                "/b": {"get": {"operationId": "read_item"}}})),
            "operations GET /a and GET /b both become the tool name `read_item`",
        ),
        (
            minimal(json!({"/a/{id}": {"get": {"parameters": [
                {"name": "id", "in": "path", "required": true},
                {"name": "id", "in": "query"}]}}})),
            "GET /a/{id}: `id` is used by two inputs (Path and Query parameters)",
        ),
        (
            minimal(json!({"/a": {"post": {"requestBody": {"content": {
                "application/octet-stream": {}}}}}})),
            "POST /a: no supported request body type among [\"application/octet-stream\"]",
        ),
    ];
    let header = |name: &str| {
        minimal(json!({"/a": {"get": {"parameters": [
            {"name": name, "in": "header", "schema": {"type": "string"}}]}}}))
    };
    cases.push((
        header("Content-Length"),
        "GET /a: header parameter `Content-Length` cannot be sent by the gateway",
    ));
    cases.push((
        header("bad header"),
        "GET /a: header parameter `bad header` cannot be sent by the gateway",
    ));
    for (spec, expected) in cases {
        let err = OpenApi::from_spec(&spec, None, &none).unwrap_err();
        assert!(
            err.to_string().contains(expected),
            "{spec}: got {err}, expected {expected}"
        );
        assert_eq!(err.field(), "spec");
    }
}

#[test]
fn a_broken_operation_can_be_excluded() {
    let spec = minimal(json!({
        "/upload": {"post": {"operationId": "upload", "requestBody": {"content": {
            "application/octet-stream": {}}}}},
        "/ok": {"get": {"operationId": "ok"}}}));
    let keep_ok = Selection {
        include: None,
        exclude: vec!["upload".into()],
    };
    let api = OpenApi::from_spec(&spec, None, &keep_ok).unwrap();
    assert_eq!(api.operations.len(), 1);
}

#[test]
fn header_parameters_the_spec_ignores_are_left_out() {
    let spec = minimal(json!({"/a": {"get": {"operationId": "a", "parameters": [
        {"name": "Accept", "in": "header", "schema": {"type": "string"}},
        {"name": "Authorization", "in": "header", "schema": {"type": "string"}},
        {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}]}}}));
    let api = OpenApi::from_spec(&spec, None, &Selection::default()).unwrap();
    let names: Vec<&str> = api.operations[0]
        .params
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["X-Trace"]);
    assert_eq!(
        api.tools[0]["inputSchema"]["properties"],
        json!({"X-Trace": {"type": "string"}})
    );
}

#[test]
fn tool_names_are_sanitised() {
    use derive::tool_name;
    assert_eq!(tool_name(Some("pets.list"), "get", "/p"), "pets.list");
    assert_eq!(tool_name(Some("get pet/{id}"), "get", "/p"), "get_pet__id_");
    assert_eq!(
        tool_name(None, "get", "/pets/{petId}/photos/"),
        "get_pets_petId_photos"
    );
    assert_eq!(
        tool_name(Some(&"x".repeat(200)), "get", "/").len(),
        derive::MAX_NAME_LEN
    );
}
