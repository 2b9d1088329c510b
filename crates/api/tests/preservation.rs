//! Whatever a newer Harvester, Longhorn or KubeVirt adds to an object, and
//! whichever modelled fields arrive as `null`, reading and writing the
//! object gives it back unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use vmbackup_api::document::Object;

fn sample(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z0-9 ./:-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// Every JSON object inside `value`, by JSON pointer.
fn object_pointers(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            out.push(pointer.clone());
            for (key, child) in map {
                object_pointers(
                    child,
                    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                object_pointers(child, format!("{pointer}/{index}"), out);
            }
        }
        _ => {}
    }
}

/// Adds `unknown` keys (prefixed so they cannot collide with modelled
/// ones) to the object at `pick`, and turns the string or boolean field at
/// `null_pick` (if any) into `null`.
fn mutate(base: &Value, pick: usize, unknown: &[(String, Value)], null_pick: usize) -> Value {
    let mut value = base.clone();
    let mut pointers = Vec::new();
    object_pointers(&value, String::new(), &mut pointers);
    pointers.retain(|p| !is_string_map(p));
    let target = &pointers[pick % pointers.len()];
    if let Some(Value::Object(map)) = value.pointer_mut(target) {
        for (key, v) in unknown {
            map.insert(format!("zz{key}"), v.clone());
        }
    }
    let mut leaves = Vec::new();
    collect_scalar_pointers(&value, String::new(), &mut leaves);
    // Owner references are k8s-openapi's, whose required fields read `null`
    // as empty (and `null` there is invalid anyway).
    leaves.retain(|p| !p.starts_with("/metadata/ownerReferences"));
    if !leaves.is_empty() {
        let leaf = &leaves[null_pick % leaves.len()];
        if let Some(slot) = value.pointer_mut(leaf) {
            *slot = Value::Null;
        }
    }
    value
}

/// Optional scalar fields of the typed model (not `apiVersion`/`kind`, not
/// array elements, not values of string maps).
fn collect_scalar_pointers(value: &Value, pointer: String, out: &mut Vec<String>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            let child_pointer = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
            let map_of_strings = [
                "labels",
                "annotations",
                "data",
                "requests",
                "csiDriverVolumeSnapshotClassNames",
            ]
            .iter()
            .any(|m| pointer.ends_with(m));
            match child {
                Value::String(_) | Value::Bool(_) | Value::Number(_)
                    if !map_of_strings && !pointer.is_empty() && !is_required(key) =>
                {
                    out.push(child_pointer)
                }
                Value::Object(_) => collect_scalar_pointers(child, child_pointer, out),
                Value::Array(items) => {
                    for (index, item) in items.iter().enumerate() {
                        collect_scalar_pointers(item, format!("{child_pointer}/{index}"), out);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Maps of strings (labels, quantities, secret data, ...), not objects.
fn is_string_map(pointer: &str) -> bool {
    [
        "labels",
        "annotations",
        "data",
        "requests",
        "limits",
        "parameters",
        "csiDriverVolumeSnapshotClassNames",
    ]
    .iter()
    .any(|m| pointer.ends_with(&format!("/{m}")))
}

/// Fields that are plain (non-optional) in the model: a `null` there is an
/// error, not something to keep.
fn is_required(key: &str) -> bool {
    matches!(
        key,
        "kind"
            | "name"
            | "type"
            | "status"
            | "volumeName"
            | "csiDriverName"
            | "claimName"
            | "virtualMachineBackupName"
            | "virtualMachineBackupNamespace"
    )
}

fn round_trips(input: &Value) -> Result<(), TestCaseError> {
    let object = Object::from_value(input.clone()).map_err(TestCaseError::fail)?;
    prop_assert!(object.is_modelled());
    prop_assert_eq!(&object.to_value().unwrap(), input);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn backups_keep_unknown_fields_and_nulls_anywhere(
        pick in any::<usize>(),
        null_pick in any::<usize>(),
        unknown in prop::collection::vec(("[a-zA-Z]{1,10}", any_json()), 1..4),
    ) {
        let input = mutate(&sample("vmbackup-ready.yaml"), pick, &unknown, null_pick);
        round_trips(&input)?;
    }

    #[test]
    fn restores_keep_unknown_fields_and_nulls_anywhere(
        pick in any::<usize>(),
        null_pick in any::<usize>(),
        unknown in prop::collection::vec(("[a-zA-Z]{1,10}", any_json()), 1..4),
    ) {
        let input = mutate(&sample("vmrestore-complete.yaml"), pick, &unknown, null_pick);
        round_trips(&input)?;
    }
}

#[test]
fn nulls_in_required_fields_are_errors_not_silently_changed() {
    let mut input = sample("vmbackup-ready.yaml");
    input["status"]["volumeBackups"][0]["volumeName"] = Value::Null;
    let err = Object::from_value(input).unwrap_err();
    assert!(err.contains("volumeBackups[0].volumeName"), "{err}");
}
