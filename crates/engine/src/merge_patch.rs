//! JSON merge patches (RFC 7386): compute the patch that turns one object
//! into another, and apply a patch. Reconcilers compute the object they
//! want; the patch sent is the difference, so an object already as wanted
//! gives no action at all.
//!
//! A plan holds its patches as [`MergePatch`]: the patch as compact JSON
//! text, which costs a fraction of a JSON value tree.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

/// A JSON merge patch as compact JSON text, written as `serde_json` writes
/// the patch's value (object keys sorted, no spaces).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MergePatch(Box<str>);

impl MergePatch {
    /// The patch as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The patch as a JSON value.
    pub fn to_value(&self) -> Value {
        // The text was written from a value: it always reads back.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The string at `pointer` (RFC 6901) in the patch, if there is one.
    pub fn string_at(&self, pointer: &str) -> Option<String> {
        self.to_value()
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// Applies the patch to `target` ([`apply`]).
    pub fn apply_to(&self, target: &mut Value) {
        apply(target, &self.to_value());
    }

    /// Merges a later patch of the same object into this one, by applying
    /// it to this patch ([`apply`]).
    pub fn merge(&mut self, later: &MergePatch) {
        let mut value = self.to_value();
        apply(&mut value, &later.to_value());
        *self = MergePatch::from(&value);
    }
}

impl From<&Value> for MergePatch {
    fn from(value: &Value) -> Self {
        MergePatch(value.to_string().into_boxed_str())
    }
}

impl From<Value> for MergePatch {
    fn from(value: Value) -> Self {
        MergePatch::from(&value)
    }
}

impl PartialEq<Value> for MergePatch {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Display for MergePatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MergePatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Written as the JSON value it holds, in any format.
impl Serialize for MergePatch {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

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

    #[test]
    fn a_merge_patch_is_written_as_its_value() {
        let value = json!({"status": {"volumeBackups": [{"name": "a", "size": 1.5}], "x": null},
            "metadata": {"annotations": {"b": "2", "a": "1"}}});
        let patch = MergePatch::from(&value);
        assert_eq!(patch.as_str(), value.to_string());
        assert_eq!(patch.to_string(), value.to_string());
        assert_eq!(patch.to_value(), value);
        assert_eq!(patch, value);
        assert_eq!(
            serde_json::to_string(&patch).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
        assert_eq!(
            serde_yaml_ng::to_string(&patch).unwrap(),
            serde_yaml_ng::to_string(&value).unwrap()
        );
        assert_eq!(
            patch.string_at("/metadata/annotations/a").as_deref(),
            Some("1")
        );
        assert_eq!(patch.string_at("/status/x"), None);
    }

    #[test]
    fn merging_patches_applies_the_later_one_to_the_first() {
        let mut first = MergePatch::from(json!({"spec": {"a": 1, "b": 2}, "status": {"c": [1]}}));
        first.merge(&MergePatch::from(
            json!({"spec": {"b": 3}, "status": {"c": [2]}}),
        ));
        assert_eq!(
            first,
            json!({"spec": {"a": 1, "b": 3}, "status": {"c": [2]}})
        );
        let mut target = json!({"spec": {"a": 0, "z": 9}});
        first.apply_to(&mut target);
        assert_eq!(
            target,
            json!({"spec": {"a": 1, "b": 3, "z": 9}, "status": {"c": [2]}})
        );
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
