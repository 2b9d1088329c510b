//! JSON merge patches (RFC 7386): compute the patch that turns one object
//! into another, and apply a patch. Reconcilers compute the object they
//! want; the patch sent is the difference, so an object already as wanted
//! gives no action at all.

use serde_json::{Map, Value};

/// The merge patch that turns `from` into `to`, or `None` when they are
/// equal. Keys missing from `to` become `null`; arrays and scalars are
/// replaced whole. A `null` inside `to` cannot be expressed by a merge
/// patch and is treated as "absent".
pub fn diff(from: &Value, to: &Value) -> Option<Value> {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = Map::new();
            for (key, old) in a {
                match b.get(key) {
                    None | Some(Value::Null) => {
                        if !old.is_null() {
                            patch.insert(key.clone(), Value::Null);
                        }
                    }
                    Some(new) => {
                        if let Some(p) = diff(old, new) {
                            patch.insert(key.clone(), p);
                        }
                    }
                }
            }
            for (key, new) in b {
                if !a.contains_key(key) && !new.is_null() {
                    patch.insert(key.clone(), strip_nulls(new));
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (a, b) if a == b => None,
        (_, b) => Some(strip_nulls(b)),
    }
}

/// [`diff`], taking `to` by value: what the patch keeps of it is moved
/// rather than copied.
pub fn diff_owned(from: &Value, to: Value) -> Option<Value> {
    match (from, to) {
        (Value::Object(a), Value::Object(mut b)) => {
            let mut patch = Map::new();
            for (key, old) in a {
                match b.remove(key) {
                    None | Some(Value::Null) => {
                        if !old.is_null() {
                            patch.insert(key.clone(), Value::Null);
                        }
                    }
                    Some(new) => {
                        if let Some(p) = diff_owned(old, new) {
                            patch.insert(key.clone(), p);
                        }
                    }
                }
            }
            // What is left of `to` are the keys `from` does not have.
            for (key, new) in b {
                if !new.is_null() {
                    patch.insert(key, strip_nulls_owned(new));
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (a, b) if *a == b => None,
        (_, b) => Some(strip_nulls_owned(b)),
    }
}

/// [`strip_nulls`] of an owned value.
fn strip_nulls_owned(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls_owned(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `value` without object members whose value is `null` (they would read as
/// deletions in a merge patch).
fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Applies the merge patch `patch` to `target` (RFC 7386 §2).
pub fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target_map) = target {
        for (key, value) in patch_map {
            if value.is_null() {
                target_map.remove(key);
            } else {
                let entry = target_map.entry(key.clone()).or_insert(Value::Null);
                apply(entry, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn equal_values_need_no_patch() {
        let v = json!({"a": 1, "b": {"c": [1, 2]}});
        assert_eq!(diff(&v, &v), None);
    }

    #[test]
    fn removed_keys_become_null_and_arrays_are_replaced() {
        let from = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": null});
        let to = json!({"b": {"c": [1]}, "f": {"g": null, "h": 2}});
        let patch = diff(&from, &to).unwrap();
        assert_eq!(
            patch,
            json!({"a": null, "b": {"c": [1], "d": null}, "f": {"h": 2}})
        );
        let mut applied = from.clone();
        apply(&mut applied, &patch);
        assert_eq!(applied, json!({"b": {"c": [1]}, "e": null, "f": {"h": 2}}));
    }

    #[test]
    fn rfc_7386_examples() {
        let mut target = json!({"a": "b"});
        apply(&mut target, &json!({"a": "c"}));
        assert_eq!(target, json!({"a": "c"}));
        let mut target = json!({"a": [{"b": "c"}]});
        apply(&mut target, &json!({"a": [1]}));
        assert_eq!(target, json!({"a": [1]}));
        let mut target = json!(["a", "b"]);
        apply(&mut target, &json!({"a": "b", "c": null}));
        assert_eq!(target, json!({"a": "b"}));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (0i64..5).prop_map(|n| json!(n)),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn applying_the_diff_reaches_the_target(from in arb_json(), to in arb_json()) {
            let to_clean = strip_nulls(&to);
            let mut patched = strip_nulls(&from);
            if let Some(p) = diff(&patched.clone(), &to_clean) {
                apply(&mut patched, &p);
            }
            prop_assert_eq!(patched, to_clean);
        }

        #[test]
        fn the_owned_diff_is_the_diff(from in arb_json(), to in arb_json()) {
            prop_assert_eq!(diff_owned(&from, to.clone()), diff(&from, &to));
        }
    }
}
