//! Whether an object found in the cluster is the one a plan wanted to
//! create: every field the wanted object sets must hold the same value in
//! the found one. Fields the API server fills in (defaults, status, system
//! metadata) are not differences.

use serde_json::Value;

/// Top-level metadata fields the server sets; never compared.
const SYSTEM_METADATA: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
];

/// The paths (`spec.source.snapshotHandle`) where `wanted` sets a value
/// that `found` does not hold. `status` is not compared: the server ignores
/// it on create for kinds with a status subresource.
pub(crate) fn differences(wanted: &Value, found: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let (Value::Object(w), Value::Object(f)) = (wanted, found) else {
        if wanted != found {
            out.push("the whole object".into());
        }
        return out;
    };
    for (key, value) in w {
        match key.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                let empty = Value::Object(serde_json::Map::new());
                let found_meta = f.get("metadata").unwrap_or(&empty);
                if let Value::Object(meta) = value {
                    for (mk, mv) in meta {
                        if SYSTEM_METADATA.contains(&mk.as_str()) {
                            continue;
                        }
                        contained(mv, found_meta.get(mk), &format!("metadata.{mk}"), &mut out);
                    }
                }
            }
            _ => contained(value, f.get(key), key, &mut out),
        }
    }
    out.sort();
    out
}

/// Records `path` when `wanted` is not contained in `found`: objects
/// recursively (keys `wanted` does not set are free), everything else by
/// equality. A wanted `null` means "absent".
fn contained(wanted: &Value, found: Option<&Value>, path: &str, out: &mut Vec<String>) {
    match (wanted, found) {
        (Value::Null, None | Some(Value::Null)) => {}
        (Value::Object(w), Some(Value::Object(f))) => {
            for (k, v) in w {
                contained(v, f.get(k), &format!("{path}.{k}"), out);
            }
        }
        (w, Some(f)) if w == f => {}
        _ => out.push(path.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn server_filled_fields_are_not_differences() {
        let wanted = json!({"apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "labels": {"l": "1"}},
            "spec": {"handle": "bak://v/b", "optional": null}, "status": {"ready": false}});
        let found = json!({"apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "5", "labels": {"l": "1", "other": "x"}},
            "spec": {"handle": "bak://v/b", "defaulted": "Delete"}, "status": {"ready": true}});
        assert!(differences(&wanted, &found).is_empty());
    }

    #[test]
    fn a_different_value_or_missing_field_is_named_by_its_path() {
        let wanted = json!({"metadata": {"name": "a", "annotations": {"k": "v"}},
            "spec": {"source": {"snapshotHandle": "bak://pvc-1/b"}, "list": [1, 2]}});
        let found = json!({"metadata": {"name": "a"},
            "spec": {"source": {"snapshotHandle": "bs://disk/b"}, "list": [1]}});
        assert_eq!(
            differences(&wanted, &found),
            [
                "metadata.annotations",
                "spec.list",
                "spec.source.snapshotHandle"
            ]
        );
    }
}
