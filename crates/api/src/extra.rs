//! Lossless round-trips: the fields a type does not model.
//!
//! Every struct in this crate that maps a JSON object ends with
//! `#[serde(flatten)] pub extra: Extra`. [`Extra`] keeps, verbatim:
//!
//! * every key the struct does not model, with its value;
//! * the modelled keys that arrived as an explicit `null` (Go writes `null`
//!   for unset non-`omitempty` fields such as `creationTimestamp`) or as an
//!   empty string where the field is not written when empty, so that they
//!   are written back as they were rather than dropped;
//! * for fields typed with another crate's types (the top-level
//!   `metadata`), whatever those types dropped.
//!
//! Parsing an object and serialising it again therefore gives back an equal
//! JSON value, and a repair never drops what it did not understand.
//!
//! The serde glue lives in [`preserving_serde!`](crate::preserving_serde):
//! it wraps the derived (`#[serde(remote = "Self")]`) implementations.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::{LazyLock, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The part of a JSON object that its Rust type does not model.
///
/// Dereferences to the map of unknown fields, so `extra.get("someField")`
/// and `extra.insert(...)` work directly. Two values compare equal when their
/// unknown fields are equal: an explicit `null` and an absent key mean the
/// same thing to Kubernetes.
///
/// Most objects keep nothing here, so an empty `Extra` is one null pointer:
/// what it keeps is allocated only when there is something to keep. Unknown
/// fields are held as compact JSON text until they are read as a map (which
/// is then kept alongside) or changed (the map replaces the text).
#[derive(Clone, Debug, Default)]
pub struct Extra(Option<Box<Kept>>);

/// What an [`Extra`] keeps, once it keeps anything.
#[derive(Clone, Debug, Default)]
struct Kept {
    fields: Fields,
    /// Modelled keys that were `null` or `""` in the input, with that value.
    blanks: BTreeMap<String, Value>,
    /// Per-key remainder of fields typed with foreign types: the parts of the
    /// input those types did not keep.
    residue: BTreeMap<String, Value>,
    /// The `apiVersion` an object was read with, when it is not the one its
    /// type writes by default (e.g. `snapshot.storage.k8s.io/v1beta1`).
    api_version: Option<String>,
}

/// Unknown fields: a JSON object as text while they are only carried along
/// (a small map costs a whole B-tree node per level), a map once changed.
#[derive(Debug, Default)]
struct Fields {
    /// When set, the fields: a non-empty JSON object as `serde_json` writes
    /// it (keys sorted, no spaces).
    json: Option<Box<str>>,
    /// The map parsed from `json` on first read.
    parsed: OnceLock<Map<String, Value>>,
    /// The fields when `json` is not set.
    map: Map<String, Value>,
}

impl Clone for Fields {
    /// A copy of text stays text: the parsed map is not copied.
    fn clone(&self) -> Self {
        Fields {
            json: self.json.clone(),
            parsed: OnceLock::new(),
            map: self.map.clone(),
        }
    }
}

impl Fields {
    fn from_map(map: Map<String, Value>) -> Self {
        match serde_json::to_string(&map) {
            Ok(json) if !map.is_empty() => Fields {
                json: Some(json.into_boxed_str()),
                ..Fields::default()
            },
            _ => Fields {
                map,
                ..Fields::default()
            },
        }
    }

    /// The map, parsed (and kept) on first read.
    fn map(&self) -> &Map<String, Value> {
        match &self.json {
            Some(json) => self.parsed.get_or_init(|| parse(json)),
            None => &self.map,
        }
    }

    /// The map, to change: the text is dropped.
    fn map_mut(&mut self) -> &mut Map<String, Value> {
        if let Some(json) = self.json.take() {
            self.map = self.parsed.take().unwrap_or_else(|| parse(&json));
        }
        &mut self.map
    }

    /// Runs `f` on the map without keeping a parsed copy.
    fn with<R>(&self, f: impl FnOnce(&Map<String, Value>) -> R) -> R {
        match (&self.json, self.parsed.get()) {
            (Some(_), Some(map)) => f(map),
            (Some(json), None) => f(&parse(json)),
            (None, _) => f(&self.map),
        }
    }

    fn is_empty(&self) -> bool {
        self.json.is_none() && self.map.is_empty()
    }
}

/// Reads text [`Fields::from_map`] wrote; it is always a JSON object.
fn parse(json: &str) -> Map<String, Value> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The unknown fields of an `Extra` that keeps nothing.
static NO_FIELDS: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);

impl Extra {
    /// What is kept, allocated on first use.
    fn kept(&mut self) -> &mut Kept {
        self.0.get_or_insert_with(Box::default)
    }

    /// Runs `f` on the unknown fields without keeping a parsed copy.
    fn with_fields<R>(&self, f: impl FnOnce(&Map<String, Value>) -> R) -> R {
        match &self.0 {
            Some(kept) => kept.fields.with(f),
            None => f(&NO_FIELDS),
        }
    }

    /// Unknown fields, by JSON key.
    pub fn fields(&self) -> &Map<String, Value> {
        match &self.0 {
            Some(kept) => kept.fields.map(),
            None => &NO_FIELDS,
        }
    }

    /// Modelled keys that were an explicit `null` (or an empty string) in
    /// the input and are written back that way while the field stays unset.
    pub fn null_fields(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .flat_map(|kept| kept.blanks.keys().map(String::as_str))
    }

    /// Whether nothing at all is kept.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|kept| {
            kept.fields.is_empty() && kept.blanks.is_empty() && kept.residue.is_empty()
        })
    }

    /// The `apiVersion` this object was read with, if it differs from the
    /// version its type writes by default. It is written back unchanged.
    pub fn read_api_version(&self) -> Option<&str> {
        self.0.as_ref()?.api_version.as_deref()
    }

    /// Serialization glue: remembers a non-default `apiVersion`.
    #[doc(hidden)]
    pub fn remember_api_version(&mut self, api_version: Option<String>) {
        match (api_version, &mut self.0) {
            (None, None) => {}
            (None, Some(kept)) => kept.api_version = None,
            (Some(version), _) => self.kept().api_version = Some(version),
        }
    }

    /// Serialization glue: records the keys of the input that were `null`
    /// or `""` and are not unknown fields (so they belong to modelled fields).
    #[doc(hidden)]
    pub fn remember_nulls(&mut self, blanks: Vec<(String, Value)>) {
        if blanks.is_empty() {
            return;
        }
        let blanks: Vec<_> = self.with_fields(|fields| {
            blanks
                .into_iter()
                .filter(|(key, _)| !fields.contains_key(key))
                .collect()
        });
        for (key, value) in blanks {
            self.kept().blanks.insert(key, value);
        }
    }

    /// Serialization glue: remembers what a foreign type dropped from the
    /// value under `key`.
    #[doc(hidden)]
    pub fn remember_residue(&mut self, key: &str, raw: &Value, typed: &Value) {
        if let Some(rest) = residue(raw, typed) {
            self.kept().residue.insert(key.to_owned(), rest);
        }
    }

    /// Serialization glue: whether [`Extra::restore_into`] adds anything.
    #[doc(hidden)]
    pub fn restores_anything(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|kept| !kept.blanks.is_empty() || !kept.residue.is_empty())
    }

    /// Serialization glue: writes the remembered nulls and residues back
    /// into the serialised object.
    #[doc(hidden)]
    pub fn restore_into(&self, object: &mut Map<String, Value>) {
        let Some(kept) = &self.0 else {
            return;
        };
        for (key, value) in &kept.blanks {
            object.entry(key.clone()).or_insert_with(|| value.clone());
        }
        for (key, rest) in &kept.residue {
            if let Some(target) = object.get_mut(key) {
                merge_residue(target, rest);
            }
        }
    }
}

impl PartialEq for Extra {
    fn eq(&self, other: &Self) -> bool {
        // Equal text is equal fields; otherwise compare the maps (equal
        // numbers can be written differently, e.g. `0.0` and `-0.0`).
        fn json(extra: &Extra) -> Option<&str> {
            extra.0.as_ref()?.fields.json.as_deref()
        }
        if let (Some(a), Some(b)) = (json(self), json(other))
            && a == b
        {
            return true;
        }
        self.with_fields(|a| other.with_fields(|b| a == b))
    }
}

impl Eq for Extra {}

impl std::ops::Deref for Extra {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        self.fields()
    }
}

impl std::ops::DerefMut for Extra {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.kept().fields.map_mut()
    }
}

impl From<Map<String, Value>> for Extra {
    fn from(fields: Map<String, Value>) -> Self {
        if fields.is_empty() {
            return Extra::default();
        }
        Extra(Some(Box::new(Kept {
            fields: Fields::from_map(fields),
            ..Kept::default()
        })))
    }
}

impl Serialize for Extra {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_fields(|fields| fields.serialize(serializer))
    }
}

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Extra::from)
    }
}

/// Unknown fields add nothing to a schema: the CRD describes the modelled
/// fields only, as Harvester's does.
impl schemars::JsonSchema for Extra {
    fn schema_name() -> Cow<'static, str> {
        "Extra".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "object" })
    }
}

/// What `raw` has that `typed` (its re-serialisation through a lossy type)
/// lost: missing keys (including `null`s) at any depth of objects, and in
/// arrays of equal length element by element. `None` when nothing was lost.
fn residue(raw: &Value, typed: &Value) -> Option<Value> {
    match (raw, typed) {
        (Value::Object(raw), Value::Object(typed)) => {
            let mut rest = Map::new();
            for (key, raw_value) in raw {
                match typed.get(key) {
                    None => {
                        rest.insert(key.clone(), raw_value.clone());
                    }
                    Some(typed_value) => {
                        if let Some(inner) = residue(raw_value, typed_value) {
                            rest.insert(key.clone(), inner);
                        }
                    }
                }
            }
            (!rest.is_empty()).then_some(Value::Object(rest))
        }
        (Value::Array(raw), Value::Array(typed)) if raw.len() == typed.len() => {
            let items: Vec<Value> = raw
                .iter()
                .zip(typed)
                .map(|(r, t)| residue(r, t).unwrap_or(Value::Null))
                .collect();
            items
                .iter()
                .any(|item| !item.is_null())
                .then_some(Value::Array(items))
        }
        _ => None,
    }
}

/// Puts a [`residue`] back: only keys the target lacks are added, so values
/// set since parsing always win.
fn merge_residue(target: &mut Value, rest: &Value) {
    match (target, rest) {
        (Value::Object(target), Value::Object(rest)) => {
            for (key, value) in rest {
                match target.get_mut(key) {
                    None => {
                        target.insert(key.clone(), value.clone());
                    }
                    Some(existing) => merge_residue(existing, value),
                }
            }
        }
        (Value::Array(target), Value::Array(rest)) if target.len() == rest.len() => {
            for (item, value) in target.iter_mut().zip(rest) {
                merge_residue(item, value);
            }
        }
        _ => {}
    }
}

/// Implements `Serialize` and `Deserialize` for a struct that derives them
/// with `#[serde(remote = "Self")]` and has a flattened `extra: Extra` field,
/// adding `null` preservation and error messages that name the field path.
#[macro_export]
#[doc(hidden)]
macro_rules! preserving_serde {
    ($ty:ty) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let map = <::serde_json::Map<String, ::serde_json::Value> as ::serde::Deserialize>::deserialize(
                    deserializer,
                )?;
                let nulls = $crate::extra::null_keys(&map);
                let mut this: Self = $crate::extra::from_map(map, |de| <$ty>::deserialize(de))
                    .map_err(<D::Error as ::serde::de::Error>::custom)?;
                this.extra.remember_nulls(nulls);
                Ok(this)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                // Inside a JSON value being built, key order does not matter:
                // write straight into it unless something must be restored.
                if $crate::extra::building_value() && !self.extra.restores_anything() {
                    return <$ty>::serialize(self, serializer);
                }
                let mut value =
                    $crate::extra::build_value(|| <$ty>::serialize(self, ::serde_json::value::Serializer))
                        .map_err(<S::Error as ::serde::ser::Error>::custom)?;
                if let ::serde_json::Value::Object(object) = &mut value {
                    self.extra.restore_into(object);
                }
                ::serde::Serialize::serialize(&value, serializer)
            }
        }
    };
}

thread_local! {
    /// Set while a preserving type serialises itself into a JSON value.
    static BUILDING_VALUE: Cell<bool> = const { Cell::new(false) };
}

/// Serialization glue: runs `f`, which serialises into a JSON value, with
/// [`building_value`] set, so that nested preserving types with nothing to
/// restore write straight into that value instead of building their own
/// and copying it (their keys are sorted by the value's map either way).
#[doc(hidden)]
pub fn build_value<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BUILDING_VALUE.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(BUILDING_VALUE.with(|flag| flag.replace(true)));
    f()
}

/// Serialization glue: whether the serializer at hand is building a JSON
/// value for a preserving type (see [`build_value`]).
#[doc(hidden)]
pub fn building_value() -> bool {
    BUILDING_VALUE.with(Cell::get)
}

/// Keys whose value is `null` or `""`, with that value.
#[doc(hidden)]
pub fn null_keys(map: &Map<String, Value>) -> Vec<(String, Value)> {
    map.iter()
        .filter(|(_, value)| value.is_null() || value.as_str() == Some(""))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// `skip_serializing_if` for strings that Kubernetes requires but that a
/// truncated or hand-written object may lack: they read as `""`, and an
/// empty string is written only if it was in the input.
#[doc(hidden)]
pub fn is_empty(value: &str) -> bool {
    value.is_empty()
}

/// Runs a derived deserializer on a buffered object; errors name the path
/// of the offending field (`volumeBackups[0].volumeSize: invalid type ...`).
#[doc(hidden)]
pub fn from_map<T>(
    map: Map<String, Value>,
    deserialize: impl for<'a, 'b> FnOnce(
        serde_path_to_error::Deserializer<'a, 'b, Value>,
    ) -> Result<T, serde_json::Error>,
) -> Result<T, String> {
    let mut track = serde_path_to_error::Track::new();
    let result = deserialize(serde_path_to_error::Deserializer::new(
        Value::Object(map),
        &mut track,
    ));
    result.map_err(|err| join_path(&track.path().to_string(), &err.to_string()))
}

/// `volumeBackups[0]` + `volumeSize: bad` → `volumeBackups[0].volumeSize: bad`.
fn join_path(path: &str, message: &str) -> String {
    if path.is_empty() || path == "." || path == "?" {
        return message.to_owned();
    }
    // Messages from nested preserving types already start with their path.
    match message.split_once(": ") {
        Some((head, rest)) if is_path(head) => format!("{path}.{head}: {rest}"),
        _ => format!("{path}: {message}"),
    }
}

fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_' | '-' | '/'))
        && text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn residue_keeps_unknown_and_null_keys_at_depth() {
        let raw =
            json!({"a": 1, "b": null, "c": {"d": 2, "e": {"f": null}}, "l": [{"x": 1, "y": 2}]});
        let typed = json!({"a": 1, "c": {"d": 2, "e": {}}, "l": [{"x": 1}]});
        let rest = residue(&raw, &typed);
        assert_eq!(
            rest,
            Some(json!({"b": null, "c": {"e": {"f": null}}, "l": [{"y": 2}]}))
        );
        let mut back = typed.clone();
        merge_residue(&mut back, rest.as_ref().unwrap());
        assert_eq!(back, raw);
    }

    #[test]
    fn residue_never_overwrites_new_values() {
        let mut target = json!({"a": 5});
        merge_residue(&mut target, &json!({"a": null, "b": null}));
        assert_eq!(target, json!({"a": 5, "b": null}));
    }

    #[test]
    fn nothing_lost_means_no_residue() {
        assert_eq!(residue(&json!({"a": [1, 2]}), &json!({"a": [1, 2]})), None);
    }

    #[test]
    fn error_paths_join() {
        assert_eq!(
            join_path("status", "volumeBackups[0].volumeSize: bad"),
            "status.volumeBackups[0].volumeSize: bad"
        );
        assert_eq!(
            join_path("spec", "invalid type: string \"x\", expected i64"),
            "spec: invalid type: string \"x\", expected i64"
        );
        assert_eq!(
            join_path(".", "missing field `kind`"),
            "missing field `kind`"
        );
    }

    #[test]
    fn an_empty_extra_is_one_null_pointer() {
        assert_eq!(std::mem::size_of::<Extra>(), std::mem::size_of::<usize>());
        let extra: Extra = serde_json::from_value(json!({})).unwrap();
        assert!(extra.0.is_none());
        assert!(extra.is_empty());
        assert!(extra.fields().is_empty());
        assert_eq!(extra.null_fields().count(), 0);
        assert_eq!(extra.read_api_version(), None);
        assert_eq!(serde_json::to_value(&extra).unwrap(), json!({}));
    }

    #[test]
    fn an_extra_keeps_what_is_inserted_and_compares_by_fields() {
        let mut extra = Extra::default();
        extra.insert("a".into(), json!(1));
        assert_eq!(extra.get("a"), Some(&json!(1)));
        assert_eq!(extra, Extra::from(Map::from_iter([("a".into(), json!(1))])));
        assert_ne!(extra, Extra::default());
        let mut versioned = Extra::default();
        versioned.remember_api_version(Some("snapshot.storage.k8s.io/v1beta1".into()));
        assert_eq!(
            versioned.read_api_version(),
            Some("snapshot.storage.k8s.io/v1beta1")
        );
        assert_eq!(versioned, Extra::default());
        versioned.remember_api_version(None);
        assert_eq!(versioned.read_api_version(), None);
    }

    #[test]
    fn unknown_fields_read_change_and_compare_whether_text_or_map() {
        let input = json!({"cpu": {"cores": 2}, "memory": {"guest": "4Gi"}, "x": [1, null]});
        let read: Extra = serde_json::from_value(input.clone()).unwrap();
        assert!(read.0.as_ref().unwrap().fields.json.is_some());
        let copy = read.clone();
        assert_eq!(read, copy);
        assert_eq!(read, Extra::from(input.as_object().unwrap().clone()));
        assert_eq!(copy.get("cpu"), Some(&json!({"cores": 2})));
        assert_eq!(serde_json::to_value(&copy).unwrap(), input);

        let mut changed = read.clone();
        changed.insert("memory".into(), json!({"guest": "8Gi"}));
        assert!(changed.0.as_ref().unwrap().fields.json.is_none());
        assert_ne!(changed, read);
        assert_eq!(changed.get("cpu"), Some(&json!({"cores": 2})));
        assert_eq!(changed["memory"], json!({"guest": "8Gi"}));
        changed.insert("memory".into(), json!({"guest": "4Gi"}));
        assert_eq!(changed, read);
        changed.clear();
        assert!(changed.is_empty());
        assert_eq!(changed, Extra::default());
    }

    #[test]
    fn equal_numbers_written_differently_are_equal() {
        let a = Extra::from(Map::from_iter([("n".into(), json!(0.0))]));
        let b = Extra::from(Map::from_iter([("n".into(), json!(-0.0))]));
        assert_eq!(a, b);
    }

    #[test]
    fn nested_types_write_the_same_sorted_text_and_value() {
        let input = json!({"volumeName": "disk-0", "csiDriverName": "d", "name": "x",
            "persistentVolumeClaim": {
                "metadata": {"name": "p", "creationTimestamp": null, "zz": 1},
                "spec": {"volumeMode": "Block", "resources": {"requests": {"storage": "1Gi"}},
                    "future": {"b": 1, "a": 2}}},
            "error": {"message": "m", "time": null}});
        let vb: crate::harvester::VolumeBackup = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&vb).unwrap(), input);
        // Keys sorted at every level, as a JSON value writes them.
        assert_eq!(
            serde_json::to_string(&vb).unwrap(),
            serde_json::to_string(&input).unwrap()
        );
        assert!(!building_value());
    }

    #[test]
    fn extra_equality_ignores_remembered_nulls() {
        let mut a = Extra::default();
        a.remember_nulls(vec![("x".into(), Value::Null)]);
        assert_eq!(a, Extra::default());
        assert!(!a.is_empty());
    }
}
