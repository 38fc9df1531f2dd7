//! `"type": "openapi"` backends: accepted shapes and every error naming its field.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use super::*;

const PETSTORE: &str = include_str!("../../testdata/openapi/petstore.yaml");

fn with_api(api: Value) -> Value {
    json!({
        "backends": [{"name": "weather", "cluster": "mcp_weather"}, api],
        "session": {"keys": [STANDARD.encode([1u8; 32])]}
    })
}

fn spec_31() -> Value {
    json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
           "paths": {"/items/{id}": {"get": {"operationId": "getItem",
               "parameters": [{"name": "id", "in": "path", "required": true,
                               "schema": {"type": "string"}}]}}}})
}

fn error_of(config: &Value) -> (String, String) {
    match Settings::from_json(&config.to_string()) {
        Err(ConfigError::Invalid { field, message }) => (field, message),
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn yaml_and_json_specs_make_openapi_backends() {
    let config = with_api(
        json!({"name": "pets", "type": "openapi", "cluster": "petstore",
        "host": "petstore.test", "spec": PETSTORE, "headers": {"x-api-key": "k"},
        "exclude": ["deletePet"]}),
    );
    let settings = Settings::from_json(&config.to_string()).unwrap();
    assert!(settings.backends[0].openapi.is_none());
    let pets = &settings.backends[1];
    let api = pets.openapi.as_ref().expect("an openapi backend");
    assert_eq!(api.base_path, "/v1");
    let names: Vec<&str> = api.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["listPets", "createPets", "showPetById"]);
    assert_eq!(pets.headers, vec![("x-api-key".into(), "k".into())]);
    assert_eq!(pets.host.as_deref(), Some("petstore.test"));

    let config = with_api(
        json!({"name": "items", "type": "openapi", "cluster": "items",
        "spec": spec_31(), "basePath": "/api", "include": ["getItem"]}),
    );
    let settings = Settings::from_json(&config.to_string()).unwrap();
    let api = settings.backends[1].openapi.as_ref().unwrap();
    assert_eq!((api.base_path.as_str(), api.tools.len()), ("/api", 1));
}

#[test]
fn openapi_errors_name_their_field() {
    let base = json!({"name": "items", "type": "openapi", "cluster": "items", "spec": spec_31()});
    let edit = |key: &str, value: Option<Value>| {
        let mut api = base.clone();
        match value {
            Some(v) => api[key] = v,
            None => {
                api.as_object_mut().unwrap().remove(key);
            }
        }
        with_api(api)
    };
    let mut broken_ref = spec_31();
    broken_ref["paths"]["/items/{id}"]["get"]["parameters"][0] =
        json!({"$ref": "#/components/parameters/Nope"});
    let mut duplicate = spec_31();
    duplicate["paths"]["/other"] = json!({"get": {"operationId": "getItem"}});
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            edit("spec", None),
            "backends[1].spec",
            "needs its OpenAPI document",
        ),
        (
            edit("spec", Some(json!("openapi: 3.1.0\npaths: [oops"))),
            "backends[1].spec",
            "not a readable YAML or JSON document",
        ),
        (
            edit("spec", Some(json!({"swagger": "2.0"}))),
            "backends[1].spec",
            "Swagger 2.0",
        ),
        (
            edit("spec", Some(broken_ref)),
            "backends[1].spec",
            "`$ref` \"#/components/parameters/Nope\" at GET /items/{id} does not resolve",
        ),
        (
            edit("spec", Some(duplicate)),
            "backends[1].spec",
            "operations GET /items/{id} and GET /other both become the tool name `getItem`",
        ),
        (
            edit("include", Some(json!(["getItem", "nope"]))),
            "backends[1].include[1]",
            "`nope` is neither an operationId nor a tool name",
        ),
        (
            edit("exclude", Some(json!(["getItem"]))),
            "backends[1].spec",
            "no operation is left",
        ),
        (
            edit("path", Some(json!("/mcp"))),
            "backends[1].path",
            "not `path`",
        ),
        (
            edit("basePath", Some(json!("api"))),
            "backends[1].basePath",
            "absolute path",
        ),
        (
            edit("type", Some(json!("rest"))),
            "backends[1].type",
            "unknown variant",
        ),
    ];
    for (config, field, message) in cases {
        let (got_field, got_message) = error_of(&config);
        assert_eq!(got_field, field, "{got_message}");
        assert!(got_message.contains(message), "{field}: {got_message}");
    }
}

#[test]
fn openapi_fields_are_refused_on_mcp_backends() {
    for key in ["spec", "basePath", "include", "exclude"] {
        let mut config = with_api(
            json!({"name": "items", "type": "openapi", "cluster": "items",
            "spec": spec_31()}),
        );
        config["backends"][0][key] = json!(["x"]);
        if key == "basePath" {
            config["backends"][0][key] = json!("/x");
        }
        let (field, message) = error_of(&config);
        assert_eq!(field, format!("backends[0].{key}"));
        assert!(
            message.contains("only for backends of \"type\": \"openapi\""),
            "{message}"
        );
    }
}
