//! OpenAPI schemas → self-contained JSON Schema 2020-12 (MCP tool schemas carry no
//! `components` to point into, so every `$ref` is inlined).
//!
//! - Local `$ref`s (`#/components/schemas/Pet`, JSON-pointer escaped) are inlined; 3.1 sibling
//!   keywords of a `$ref` (e.g. a `description`) override the target's.
//! - A schema that refers back to one being inlined (a tree, a linked list) or nests deeper
//!   than [`MAX_DEPTH`] becomes `{}` (any value) at that point: recursion is bounded, and the
//!   schema stays correct, only less precise there.
//! - `allOf` members are merged into one schema (properties and `required` united), which is
//!   what clients and models read best; `oneOf`/`anyOf` stay as they are.
//! - 3.0 dialect is rewritten: `nullable: true` → `type: [T, "null"]`, boolean
//!   `exclusiveMinimum`/`exclusiveMaximum` → numbers, `example` → `examples`; OpenAPI-only
//!   keywords (`discriminator`, `xml`, `externalDocs`) are dropped.
//! - A budget of [`MAX_NODES`] schema nodes per document stops documents whose references
//!   fan out exponentially.

use serde_json::{json, Map, Value};

use super::SpecError;

/// Deepest nesting of inlined references and subschemas.
pub const MAX_DEPTH: usize = 32;
/// Most schema nodes produced for the whole document.
pub const MAX_NODES: usize = 200_000;
/// Longest `$ref` chain (a reference to a reference …) followed for non-schema objects.
const MAX_REF_CHAIN: usize = 16;

/// Keywords whose value is one subschema.
const ONE_SCHEMA: &[&str] = &[
    "items",
    "not",
    "additionalProperties",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of subschemas.
const SCHEMA_LIST: &[&str] = &["oneOf", "anyOf", "prefixItems"];
/// Keywords whose value maps names to subschemas.
const SCHEMA_MAP: &[&str] = &["properties", "patternProperties", "dependentSchemas"];
/// OpenAPI keywords that mean nothing in JSON Schema.
const DROPPED: &[&str] = &["discriminator", "xml", "externalDocs", "nullable"];

/// Inlines references against one document, with a node budget shared by all its schemas.
pub struct Resolver<'a> {
    document: &'a Value,
    nodes: usize,
    is_30: bool,
}

impl<'a> Resolver<'a> {
    /// A resolver for `document` (its `openapi` version picks the 3.0 rewrites).
    pub fn new(document: &'a Value) -> Self {
        let is_30 = document
            .get("openapi")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("3.0."));
        Resolver {
            document,
            nodes: 0,
            is_30,
        }
    }

    /// Follows `$ref`s of a non-schema object (parameter, request body, response) to the
    /// object itself; `at` locates it for errors.
    pub fn object(&self, value: &'a Value, at: &str) -> Result<&'a Value, SpecError> {
        let mut current = value;
        for _ in 0..MAX_REF_CHAIN {
            match current.get("$ref").and_then(Value::as_str) {
                Some(reference) => current = self.lookup(reference, at)?,
                None => return Ok(current),
            }
        }
        Err(SpecError::Invalid {
            at: at.to_string(),
            why: format!("more than {MAX_REF_CHAIN} chained `$ref`s"),
        })
    }

    /// The JSON Schema of an OpenAPI schema at `at`.
    pub fn schema(&mut self, schema: &Value, at: &str) -> Result<Value, SpecError> {
        let mut stack = Vec::new();
        self.convert(schema, at, &mut stack)
    }

    fn lookup(&self, reference: &str, at: &str) -> Result<&'a Value, SpecError> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(SpecError::ExternalRef {
                reference: reference.to_string(),
                at: at.to_string(),
            });
        };
        // JSON pointers in URI fragments may be percent-encoded (`%7B` for `{` in path keys).
        let pointer = percent_decode(pointer);
        self.document
            .pointer(&pointer)
            .ok_or_else(|| SpecError::UnresolvedRef {
                reference: reference.to_string(),
                at: at.to_string(),
            })
    }

    fn convert(
        &mut self,
        schema: &Value,
        at: &str,
        stack: &mut Vec<String>,
    ) -> Result<Value, SpecError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(SpecError::SchemaTooLarge {
                at: at.to_string(),
                limit: MAX_NODES,
            });
        }
        let Some(object) = schema.as_object() else {
            // `true`/`false` schemas (3.1) and anything malformed pass as they are.
            return Ok(schema.clone());
        };
        if stack.len() >= MAX_DEPTH {
            return Ok(json!({}));
        }
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            if stack.iter().any(|r| r == reference) {
                return Ok(recursive_stub(object));
            }
            let target = self.lookup(reference, at)?;
            stack.push(reference.to_string());
            let resolved = self.convert(target, at, stack);
            stack.pop();
            let mut resolved = resolved?;
            if let Value::Object(out) = &mut resolved {
                for (key, value) in object.iter().filter(|(k, _)| *k != "$ref") {
                    let value = self.convert_keyword(key, value, at, stack)?;
                    out.insert(key.clone(), value);
                }
            }
            return Ok(resolved);
        }
        let mut out = Map::new();
        for (key, value) in object {
            if key == "allOf" || DROPPED.contains(&key.as_str()) {
                continue;
            }
            let value = self.convert_keyword(key, value, at, stack)?;
            out.insert(key.clone(), value);
        }
        if self.is_30 {
            rewrite_30(object, &mut out);
        }
        if let Some(members) = object.get("allOf").and_then(Value::as_array) {
            stack.push(String::new());
            let mut merged = Map::new();
            for member in members {
                match self.convert(member, at, stack) {
                    Ok(Value::Object(member)) => merge_into(&mut merged, member),
                    Ok(_) => {}
                    Err(err) => {
                        stack.pop();
                        return Err(err);
                    }
                }
            }
            stack.pop();
            // The schema's own keywords win over its members'.
            merge_into(&mut merged, out);
            return Ok(Value::Object(merged));
        }
        Ok(Value::Object(out))
    }

    fn convert_keyword(
        &mut self,
        key: &str,
        value: &Value,
        at: &str,
        stack: &mut Vec<String>,
    ) -> Result<Value, SpecError> {
        if ONE_SCHEMA.contains(&key) {
            return self.nested(value, at, stack);
        }
        if SCHEMA_LIST.contains(&key) {
            if let Some(items) = value.as_array() {
                return items
                    .iter()
                    .map(|item| self.nested(item, at, stack))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array);
            }
        }
        if SCHEMA_MAP.contains(&key) {
            if let Some(map) = value.as_object() {
                let mut out = Map::new();
                for (name, item) in map {
                    out.insert(name.clone(), self.nested(item, at, stack)?);
                }
                return Ok(Value::Object(out));
            }
        }
        Ok(value.clone())
    }

    /// A subschema one level deeper (counted against [`MAX_DEPTH`]).
    fn nested(
        &mut self,
        value: &Value,
        at: &str,
        stack: &mut Vec<String>,
    ) -> Result<Value, SpecError> {
        stack.push(String::new());
        let out = self.convert(value, at, stack);
        stack.pop();
        out
    }
}

/// What a recursive reference becomes: any value, described.
fn recursive_stub(object: &Map<String, Value>) -> Value {
    let mut stub = Map::new();
    if let Some(description) = object.get("description") {
        stub.insert("description".into(), description.clone());
    }
    Value::Object(stub)
}

/// 3.0 keywords with a different 3.1 (JSON Schema) spelling.
fn rewrite_30(source: &Map<String, Value>, out: &mut Map<String, Value>) {
    if source.get("nullable") == Some(&Value::Bool(true)) {
        match out.get("type").cloned() {
            Some(Value::String(t)) => {
                out.insert("type".into(), json!([t, "null"]));
            }
            Some(_) | None => {
                if let Some(Value::Array(list)) = out.get_mut("enum") {
                    list.push(Value::Null);
                }
            }
        }
    }
    for (flag, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(exclusive)) = out.get(flag).cloned() {
            out.remove(flag);
            if exclusive {
                if let Some(limit) = out.remove(bound) {
                    out.insert(flag.into(), limit);
                }
            }
        }
    }
    if let Some(example) = out.remove("example") {
        out.entry("examples").or_insert_with(|| json!([example]));
    }
}

/// Merges one `allOf` member (or the schema's own keywords) into `target`: properties and
/// `required` are united, other keywords of `source` replace those of `target`.
fn merge_into(target: &mut Map<String, Value>, source: Map<String, Value>) {
    for (key, value) in source {
        match (key.as_str(), target.get_mut(&key), value) {
            ("properties", Some(Value::Object(existing)), Value::Object(more)) => {
                for (name, schema) in more {
                    existing.insert(name, schema);
                }
            }
            ("required", Some(Value::Array(existing)), Value::Array(more)) => {
                for name in more {
                    if !existing.contains(&name) {
                        existing.push(name);
                    }
                }
            }
            (_, _, value) => {
                target.insert(key, value);
            }
        }
    }
}

/// `%XX` sequences of a URI fragment decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(version: &str, schemas: Value) -> Value {
        json!({"openapi": version, "components": {"schemas": schemas}})
    }

    #[test]
    fn refs_are_inlined_and_siblings_override() {
        let d = doc(
            "3.1.0",
            json!({"Id": {"type": "integer", "description": "an id"}}),
        );
        let mut r = Resolver::new(&d);
        let out = r
            .schema(
                &json!({"$ref": "#/components/schemas/Id", "description": "the pet's id"}),
                "x",
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"type": "integer", "description": "the pet's id"})
        );
    }

    #[test]
    fn recursion_is_cut_to_any() {
        let d = doc(
            "3.1.0",
            json!({"Node": {"type": "object", "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}}}),
        );
        let mut r = Resolver::new(&d);
        let out = r
            .schema(&json!({"$ref": "#/components/schemas/Node"}), "x")
            .unwrap();
        assert_eq!(out["properties"]["children"]["items"], json!({}));
        assert_eq!(out["properties"]["value"], json!({"type": "string"}));
    }

    #[test]
    fn all_of_is_merged() {
        let d = doc(
            "3.1.0",
            json!({"Base": {"type": "object", "required": ["id"],
                    "properties": {"id": {"type": "integer"}}}}),
        );
        let mut r = Resolver::new(&d);
        let out = r
            .schema(
                &json!({"allOf": [{"$ref": "#/components/schemas/Base"},
                    {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}],
                    "description": "a pet"}),
                "x",
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"type": "object", "required": ["id", "name"],
                   "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
                   "description": "a pet"})
        );
    }

    #[test]
    fn openapi_30_dialect_is_rewritten() {
        let d = doc("3.0.3", json!({}));
        let mut r = Resolver::new(&d);
        let out = r
            .schema(
                &json!({"type": "number", "nullable": true, "minimum": 0,
                        "exclusiveMinimum": true, "example": 3, "xml": {"name": "n"}}),
                "x",
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"type": ["number", "null"], "exclusiveMinimum": 0, "examples": [3]})
        );
        // 3.1 keeps its own (already JSON Schema) spelling.
        let d = doc("3.1.0", json!({}));
        let out = Resolver::new(&d)
            .schema(&json!({"type": "number", "exclusiveMinimum": 0}), "x")
            .unwrap();
        assert_eq!(out, json!({"type": "number", "exclusiveMinimum": 0}));
    }

    #[test]
    fn bad_references_are_errors() {
        let d = doc("3.1.0", json!({}));
        let mut r = Resolver::new(&d);
        let err = r
            .schema(&json!({"$ref": "#/components/schemas/Nope"}), "GET /pets")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`$ref` \"#/components/schemas/Nope\" at GET /pets does not resolve in this document"
        );
        let err = r
            .schema(&json!({"$ref": "other.yaml#/Pet"}), "GET /pets")
            .unwrap_err();
        assert!(matches!(err, SpecError::ExternalRef { .. }), "{err}");
    }

    #[test]
    fn exponential_documents_hit_the_node_budget() {
        // Each level refers to the next three times: 3^40 nodes if inlined naively, and still
        // 3^16 within the depth bound.
        let mut schemas = Map::new();
        for i in 0..40 {
            let next = format!("#/components/schemas/L{}", i + 1);
            schemas.insert(
                format!("L{i}"),
                json!({"type": "object", "properties":
                    {"a": {"$ref": next}, "b": {"$ref": next}, "c": {"$ref": next}}}),
            );
        }
        schemas.insert("L40".into(), json!({"type": "string"}));
        let d = doc("3.1.0", Value::Object(schemas));
        let err = Resolver::new(&d)
            .schema(&json!({"$ref": "#/components/schemas/L0"}), "x")
            .unwrap_err();
        assert!(matches!(err, SpecError::SchemaTooLarge { .. }), "{err}");
    }
}
