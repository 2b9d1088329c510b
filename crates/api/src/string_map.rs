//! [`StringMap`]: a small map of strings to strings, sorted by key.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A map of strings to strings kept as one vector of pairs sorted by key.
///
/// Maps such as `resources.requests` or the CSI driver → class names of a
/// backup hold one or two entries; a `BTreeMap` would allocate a whole node
/// for them. Serialised and compared like `BTreeMap<String, String>` (keys
/// in order, each once).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StringMap(Vec<(String, String)>);

impl StringMap {
    /// An empty map.
    pub fn new() -> Self {
        StringMap(Vec::new())
    }

    fn find(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&String> {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: String) -> Option<String> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries, in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&String, &String)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values, in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }
}

impl fmt::Debug for StringMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FromIterator<(String, String)> for StringMap {
    /// Later pairs replace earlier ones with the same key.
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        let map: BTreeMap<String, String> = iter.into_iter().collect();
        StringMap::from(map)
    }
}

impl Extend<(String, String)> for StringMap {
    fn extend<I: IntoIterator<Item = (String, String)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl From<BTreeMap<String, String>> for StringMap {
    fn from(map: BTreeMap<String, String>) -> Self {
        // A B-tree's entries come in key order, each key once.
        StringMap(map.into_iter().collect())
    }
}

impl From<StringMap> for BTreeMap<String, String> {
    fn from(map: StringMap) -> Self {
        map.into_iter().collect()
    }
}

impl<const N: usize> From<[(String, String); N]> for StringMap {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl IntoIterator for StringMap {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a StringMap {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl std::ops::Index<&str> for StringMap {
    type Output = String;
    /// The value of `key`; panics when there is none, as a `BTreeMap` does.
    fn index(&self, key: &str) -> &String {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no entry for key {key:?}"),
        }
    }
}

impl Serialize for StringMap {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer).map(StringMap::from)
    }
}

/// The schema of a map of strings, as `BTreeMap<String, String>` has.
impl schemars::JsonSchema for StringMap {
    fn schema_name() -> Cow<'static, str> {
        <BTreeMap<String, String> as schemars::JsonSchema>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <BTreeMap<String, String> as schemars::JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn reads_writes_and_compares_as_a_btree_map() {
        let input = json!({"storage": "10Gi", "cpu": "2", "a": ""});
        let map: StringMap = serde_json::from_value(input.clone()).unwrap();
        let btree: BTreeMap<String, String> = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&map).unwrap(), input);
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            serde_json::to_string(&btree).unwrap()
        );
        assert_eq!(map, StringMap::from(btree.clone()));
        assert_eq!(BTreeMap::from(map.clone()), btree);
        assert!(map.iter().eq(btree.iter()));
        assert_eq!(map.get("storage").map(String::as_str), Some("10Gi"));
        assert_eq!(map["cpu"], "2");
        assert_eq!(map.get("memory"), None);
        assert_eq!(format!("{map:?}"), format!("{btree:?}"));
        assert!(serde_json::from_value::<StringMap>(json!({"a": 1})).is_err());
    }

    #[test]
    fn inserts_replace_and_keep_keys_in_order() {
        let mut map = StringMap::new();
        assert_eq!(map.insert("b".into(), "1".into()), None);
        assert_eq!(map.insert("a".into(), "2".into()), None);
        assert_eq!(map.insert("b".into(), "3".into()), Some("1".into()));
        assert_eq!(map, StringMap::from([pair("a", "2"), pair("b", "3")]));
        assert!(map.keys().eq(["a", "b"]));
        assert_eq!(map.remove("a"), Some("2".into()));
        assert!(!map.contains_key("a"));
        let collected: StringMap = [pair("x", "1"), pair("x", "2")].into_iter().collect();
        assert_eq!(collected.len(), 1);
        assert_eq!(collected["x"], "2");
    }
}
