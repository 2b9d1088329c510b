//! Schema pieces for the CRDs: objects whose unknown fields are preserved,
//! base64 maps, and the cleanup that turns schemars output into a
//! Kubernetes structural schema.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

/// `{type: object, x-kubernetes-preserve-unknown-fields: true}`.
pub fn preserved_object() -> Schema {
    json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// A map of base64 strings (`map[string][]byte` in Go).
pub fn byte_map(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "object", "additionalProperties": { "type": "string", "format": "byte" } })
}

/// Turns a schemars schema into a structural OpenAPI v3 schema: optional
/// values lose their `null` alternative, and the keywords Kubernetes does not
/// accept (`$schema`, `title`, `nullable`, `components`) are dropped.
pub fn structural(value: &mut Value) {
    match value {
        Value::Object(map) => {
            merge_string_enums(map);
            collapse_optional(map);
            merge_string_enums(map);
            for key in [
                "$schema",
                "title",
                "nullable",
                "components",
                "definitions",
                "$defs",
            ] {
                map.remove(key);
            }
            for child in map.values_mut() {
                structural(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(structural),
        _ => {}
    }
}

/// `type: [T, "null"]` → `type: T`; `anyOf: [X, null]` → X; `null` removed
/// from `enum`.
fn collapse_optional(map: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = map.get("type") {
        let non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if non_null.len() == 1 {
            map.insert("type".into(), non_null[0].clone());
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = map.get(key) {
            let rest: Vec<&Value> = options.iter().filter(|o| !is_null_schema(o)).collect();
            if rest.len() == 1 && rest.len() < options.len() {
                let chosen = rest[0].clone();
                map.remove(key);
                if let Value::Object(inner) = chosen {
                    for (k, v) in inner {
                        map.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
}

/// `oneOf`/`anyOf` of string constants (how schemars writes documented enum
/// variants) → one `enum`.
fn merge_string_enums(map: &mut Map<String, Value>) {
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(options)) = map.get(key) else {
            continue;
        };
        let mut values = Vec::new();
        for option in options.iter().filter(|o| !is_null_schema(o)) {
            let is_string = option.get("type").and_then(Value::as_str) == Some("string");
            match option.get("enum").and_then(Value::as_array) {
                Some(items) if is_string || option.get("type").is_none() => {
                    values.extend(items.iter().filter(|v| v.is_string()).cloned());
                }
                _ => return,
            }
        }
        if values.is_empty() {
            return;
        }
        map.remove(key);
        map.insert("type".into(), Value::String("string".into()));
        map.insert("enum".into(), Value::Array(values));
    }
}

fn is_null_schema(schema: &Value) -> bool {
    match schema {
        Value::Object(map) => {
            map.get("type").and_then(Value::as_str) == Some("null")
                || map
                    .get("enum")
                    .and_then(Value::as_array)
                    .is_some_and(|e| e.iter().all(Value::is_null))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_enum_variants_merge() {
        let mut v = json!({"oneOf": [{"type": "string", "enum": ["backup"], "description": "a"},
            {"type": "string", "enum": ["snapshot"]}, {"enum": [null]}], "default": "backup"});
        structural(&mut v);
        assert_eq!(
            v,
            json!({"type": "string", "enum": ["backup", "snapshot"], "default": "backup"})
        );
    }

    #[test]
    fn optional_types_collapse() {
        let mut v = json!({"type": "object", "properties": {
            "a": {"type": ["string", "null"]},
            "b": {"anyOf": [{"type": "object", "properties": {"x": {"type": "integer"}}}, {"type": "null"}], "description": "d"},
            "c": {"type": ["string", "null"], "enum": ["x", "y", null]}
        }});
        structural(&mut v);
        assert_eq!(
            v,
            json!({"type": "object", "properties": {
                "a": {"type": "string"},
                "b": {"type": "object", "properties": {"x": {"type": "integer"}}, "description": "d"},
                "c": {"type": "string", "enum": ["x", "y"]}
            }})
        );
    }
}
