//! A JSON value that matches a JSON schema: what a fake model returns for structured output and
//! forced tool calls, so SDK-side parsing (e.g. pydantic) of the answer succeeds.

use serde_json::{json, Map, Value};

/// Nesting beyond this is answered with `null` (recursive schemas).
const MAX_DEPTH: usize = 16;

/// An instance of `schema` (`$ref`s resolved against its own `$defs`/`definitions`).
pub fn instance(schema: &Value) -> Value {
    generate(schema, schema, 0)
}

fn generate(root: &Value, schema: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    let Some(object) = schema.as_object() else {
        return Value::Null;
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        return resolve(root, reference)
            .map_or(Value::Null, |target| generate(root, target, depth + 1));
    }
    if let Some(value) = object.get("const") {
        return value.clone();
    }
    if let Some(first) = object
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    for alternatives in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = object
            .get(alternatives)
            .and_then(Value::as_array)
            .and_then(|v| v.first())
        {
            return generate(root, first, depth + 1);
        }
    }
    let kind = match object.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        // ["string", "null"]: the first non-null type.
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or("null"),
        _ if object.contains_key("properties") => "object",
        _ => "null",
    };
    match kind {
        "object" => {
            let mut out = Map::new();
            if let Some(properties) = object.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    out.insert(name.clone(), generate(root, property, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let item = object
                .get("items")
                .map_or(Value::Null, |items| generate(root, items, depth + 1));
            let count = object
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            Value::Array(vec![item; count as usize])
        }
        "string" => json!("text"),
        "integer" => json!(object.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        "number" => json!(object.get("minimum").and_then(Value::as_f64).unwrap_or(1.5)),
        "boolean" => json!(true),
        _ => Value::Null,
    }
}

/// `#/$defs/Name` or `#/definitions/Name` (any JSON pointer into the root).
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pydantic_schema_with_refs_gets_every_property() {
        let schema = json!({
            "$defs": { "City": { "type": "object", "properties": {
                "name": { "type": "string" }, "population": { "type": "integer" } },
                "required": ["name", "population"], "additionalProperties": false } },
            "type": "object",
            "properties": {
                "cities": { "type": "array", "items": { "$ref": "#/$defs/City" } },
                "unit": { "enum": ["c", "f"] },
                "note": { "anyOf": [{ "type": "string" }, { "type": "null" }] }
            },
            "required": ["cities", "unit", "note"],
            "additionalProperties": false
        });
        assert_eq!(
            instance(&schema),
            json!({ "cities": [{ "name": "text", "population": 1 }], "unit": "c", "note": "text" })
        );
    }

    #[test]
    fn recursive_schema_terminates() {
        let schema = json!({ "$defs": { "N": { "type": "object", "properties": {
            "next": { "$ref": "#/$defs/N" } } } }, "$ref": "#/$defs/N" });
        assert!(instance(&schema).is_object());
    }
}
