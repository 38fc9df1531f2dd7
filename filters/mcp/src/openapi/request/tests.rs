//! Requests built from arguments, against the OpenAPI specification's "Style Examples" table
//! (`color` = `"blue"`, `["blue","black","brown"]`, `{"R":100,"G":200,"B":150}`).

use serde_json::{json, Value};

use super::*;
use crate::openapi::{OpenApi, Selection};

const ARRAY: &str = r#"["blue","black","brown"]"#;
const OBJECT: &str = r#"{"R":100,"G":200,"B":150}"#;

/// One GET operation with the parameter `color` as described.
fn op_with(param: Value) -> Operation {
    let spec = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/c/{color}": {"get": {"operationId": "c", "parameters": [param]}},
                  "/q": {"get": {"operationId": "q"}}}});
    let api = OpenApi::from_spec(&spec, None, &Selection::default()).unwrap();
    let at_path = param_in(&api, "c");
    if at_path.params[0].location == Location::Path {
        at_path
    } else {
        // Query, header and cookie parameters are tested on `/q` (no path template).
        let spec = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/q": {"get": {"operationId": "q", "parameters": [param]}}}});
        param_in(
            &OpenApi::from_spec(&spec, None, &Selection::default()).unwrap(),
            "q",
        )
    }
}

fn param_in(api: &OpenApi, name: &str) -> Operation {
    api.operation(name).unwrap().clone()
}

fn path_of(param: Value, value: &str) -> String {
    let op = op_with(param);
    let args = json!({ "color": serde_json::from_str::<Value>(value).unwrap() });
    build(&op, "", Some(&args), 0).unwrap().path
}

#[test]
fn path_styles_follow_the_style_examples() {
    let cases: &[(&str, bool, &str, &str)] = &[
        ("simple", false, r#""blue""#, "/c/blue"),
        ("simple", false, ARRAY, "/c/blue,black,brown"),
        ("simple", false, OBJECT, "/c/R,100,G,200,B,150"),
        ("simple", true, OBJECT, "/c/R=100,G=200,B=150"),
        ("label", false, r#""blue""#, "/c/.blue"),
        ("label", false, ARRAY, "/c/.blue,black,brown"),
        ("label", true, ARRAY, "/c/.blue.black.brown"),
        ("label", false, OBJECT, "/c/.R,100,G,200,B,150"),
        ("label", true, OBJECT, "/c/.R=100.G=200.B=150"),
        ("matrix", false, r#""blue""#, "/c/;color=blue"),
        ("matrix", false, ARRAY, "/c/;color=blue,black,brown"),
        (
            "matrix",
            true,
            ARRAY,
            "/c/;color=blue;color=black;color=brown",
        ),
        ("matrix", false, OBJECT, "/c/;color=R,100,G,200,B,150"),
        ("matrix", true, OBJECT, "/c/;R=100;G=200;B=150"),
    ];
    for (style, explode, value, expected) in cases {
        let param = json!({"name": "color", "in": "path", "required": true,
                           "style": style, "explode": explode, "schema": {}});
        assert_eq!(
            path_of(param, value),
            *expected,
            "{style} explode={explode} {value}"
        );
    }
}

#[test]
fn query_styles_follow_the_style_examples() {
    let cases: &[(&str, bool, &str, &str)] = &[
        ("form", true, r#""blue""#, "/q?color=blue"),
        ("form", false, ARRAY, "/q?color=blue,black,brown"),
        ("form", true, ARRAY, "/q?color=blue&color=black&color=brown"),
        ("form", false, OBJECT, "/q?color=R,100,G,200,B,150"),
        ("form", true, OBJECT, "/q?R=100&G=200&B=150"),
        (
            "spaceDelimited",
            false,
            ARRAY,
            "/q?color=blue%20black%20brown",
        ),
        (
            "pipeDelimited",
            false,
            ARRAY,
            "/q?color=blue%7Cblack%7Cbrown",
        ),
        (
            "deepObject",
            true,
            OBJECT,
            "/q?color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150",
        ),
    ];
    for (style, explode, value, expected) in cases {
        let param = json!({"name": "color", "in": "query", "style": style,
                           "explode": explode, "schema": {}});
        assert_eq!(
            path_of(param, value),
            *expected,
            "{style} explode={explode} {value}"
        );
    }
}

#[test]
fn values_are_percent_encoded_and_reserved_kept_only_when_allowed() {
    let param = json!({"name": "q", "in": "query", "schema": {"type": "string"}});
    let op = op_with(param);
    let req = build(&op, "/v1", Some(&json!({"q": "a b/c&d"})), 0).unwrap();
    assert_eq!(req.path, "/v1/q?q=a%20b%2Fc%26d");
    let param = json!({"name": "q", "in": "query", "allowReserved": true, "schema": {}});
    let req = build(&op_with(param), "", Some(&json!({"q": "a/b?c&d"})), 0).unwrap();
    assert_eq!(req.path, "/q?q=a/b?c%26d");
    let param = json!({"name": "color", "in": "path", "required": true, "schema": {}});
    assert_eq!(path_of(param, r#""a/b c""#), "/c/a%2Fb%20c");
}

#[test]
fn headers_cookies_and_json_content_parameters() {
    let op = {
        let spec = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/q": {"get": {"operationId": "q", "parameters": [
                {"name": "X-Trace", "in": "header", "schema": {"type": "array"}},
                {"name": "sid", "in": "cookie", "schema": {"type": "string"}},
                {"name": "lang", "in": "cookie", "schema": {"type": "string"}},
                {"name": "where", "in": "query",
                 "content": {"application/json": {"schema": {"type": "object"}}}}]}}}});
        param_in(
            &OpenApi::from_spec(&spec, None, &Selection::default()).unwrap(),
            "q",
        )
    };
    let args = json!({"X-Trace": ["a", "b"], "sid": "s 1", "lang": "en", "where": {"k": 1}});
    let req = build(&op, "", Some(&args), 0).unwrap();
    assert_eq!(req.path, "/q?where=%7B%22k%22%3A1%7D");
    assert_eq!(
        req.headers,
        vec![
            ("x-trace".to_string(), "a,b".to_string()),
            ("cookie".to_string(), "sid=s%201; lang=en".to_string()),
        ]
    );
    let err = build(&op, "", Some(&json!({"X-Trace": "a\r\nx: y"})), 0).unwrap_err();
    assert!(matches!(err, ArgumentError::Invalid { .. }), "{err}");

    let op = {
        let spec = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "paths": {"/q": {"get": {"operationId": "q", "parameters": [
                {"name": "X-Filter", "in": "header",
                 "content": {"application/json": {"schema": {"type": "object"}}}}]}}}});
        param_in(
            &OpenApi::from_spec(&spec, None, &Selection::default()).unwrap(),
            "q",
        )
    };
    let req = build(&op, "", Some(&json!({"X-Filter": {"a": [1, 2]}})), 0).unwrap();
    assert_eq!(
        req.headers,
        vec![("x-filter".to_string(), r#"{"a":[1,2]}"#.to_string())]
    );
    // JSON text escapes control characters: a newline cannot reach the header.
    let req = build(&op, "", Some(&json!({"X-Filter": "a\nb"})), 0).unwrap();
    assert_eq!(req.headers[0].1, r#""a\nb""#);
}

fn body_op(media: &str, required: bool) -> Operation {
    let spec = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "paths": {"/b": {"post": {"operationId": "b", "requestBody": {"required": required,
            "content": {media: {"schema": {"type": "object"}}}}}}}});
    param_in(
        &OpenApi::from_spec(&spec, None, &Selection::default()).unwrap(),
        "b",
    )
}

#[test]
fn bodies_are_encoded_per_media_type() {
    let body = json!({"body": {"name": "Rex Jr", "tags": ["a", "b"]}});
    let req = build(&body_op("application/json", true), "", Some(&body), 7).unwrap();
    assert_eq!(req.method, "POST");
    assert_eq!(req.body, br#"{"name":"Rex Jr","tags":["a","b"]}"#);
    assert_eq!(
        req.headers,
        vec![("content-type".into(), "application/json".into())]
    );

    let form = "application/x-www-form-urlencoded";
    let req = build(&body_op(form, true), "", Some(&body), 7).unwrap();
    assert_eq!(req.body, b"name=Rex+Jr&tags=a&tags=b");
    assert_eq!(req.headers, vec![("content-type".into(), form.into())]);

    let req = build(&body_op("multipart/form-data", true), "", Some(&body), 7).unwrap();
    let boundary = "ai-gateway-0000000000000007";
    assert_eq!(
        req.headers,
        vec![(
            "content-type".into(),
            format!("multipart/form-data; boundary={boundary}")
        )]
    );
    let expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nRex Jr\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\na\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nb\r\n\
         --{boundary}--\r\n"
    );
    assert_eq!(String::from_utf8(req.body).unwrap(), expected);

    let req = build(
        &body_op("text/plain", true),
        "",
        Some(&json!({"body": "hi"})),
        0,
    )
    .unwrap();
    assert_eq!(req.body, b"hi");
    let err = build(&body_op(form, true), "", Some(&json!({"body": "x"})), 0).unwrap_err();
    assert!(matches!(err, ArgumentError::Invalid { .. }), "{err}");
}

#[test]
fn missing_and_malformed_arguments_are_refused() {
    assert_eq!(
        build(&body_op("application/json", true), "", None, 0).unwrap_err(),
        ArgumentError::Missing("body".into())
    );
    let optional = build(&body_op("application/json", false), "", None, 0).unwrap();
    assert!(optional.body.is_empty() && optional.headers.is_empty());
    let param = json!({"name": "color", "in": "path", "required": true, "schema": {}});
    let op = op_with(param);
    assert_eq!(
        build(&op, "", Some(&json!({})), 0).unwrap_err(),
        ArgumentError::Missing("color".into())
    );
    assert_eq!(
        build(&op, "", Some(&json!([1])), 0).unwrap_err(),
        ArgumentError::NotObject
    );
}
