//! How a [`View`](super::View) holds its objects: each kind is one vector
//! sorted by the objects' own names and found through a sorted table of name
//! hashes, so no name is stored a second time as a map key; secondary
//! indexes are vectors of positions into those vectors, sorted by the field
//! they index.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::core::Lossless;

use crate::context::{name_of, ns_of};

/// An object that carries top-level metadata (every kind a View holds).
pub trait HasMeta {
    /// Its metadata.
    fn meta(&self) -> &ObjectMeta;
}

macro_rules! has_meta {
    ($($ty:ty),* $(,)?) => {
        $(impl HasMeta for $ty {
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
        })*
    };
}

has_meta!(
    vmbackup_api::VirtualMachineBackup,
    vmbackup_api::VirtualMachineRestore,
    vmbackup_api::harvester::Setting,
    vmbackup_api::VolumeSnapshot,
    vmbackup_api::VolumeSnapshotContent,
    vmbackup_api::VolumeSnapshotClass,
    vmbackup_api::longhorn::Backup,
    vmbackup_api::longhorn::BackupVolume,
    vmbackup_api::longhorn::BackupTarget,
    vmbackup_api::longhorn::Volume,
    vmbackup_api::longhorn::Engine,
    vmbackup_api::kubevirt::VirtualMachine,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::storage::v1::StorageClass,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::Secret,
);

impl<T: HasMeta> HasMeta for Lossless<T> {
    fn meta(&self) -> &ObjectMeta {
        self.object.meta()
    }
}

/// Objects of one kind, sorted by a key read from each object, with a
/// table of key hashes that finds an object without walking the objects.
#[derive(Clone)]
struct Sorted<T> {
    items: Vec<Box<T>>,
    /// `(hash of the key, position)` for every object, sorted: a lookup
    /// bisects this compact table and compares keys only on a hash match.
    hashes: Vec<(u64, u32)>,
}

impl<T> Default for Sorted<T> {
    fn default() -> Self {
        Sorted {
            items: Vec::new(),
            hashes: Vec::new(),
        }
    }
}

/// The hash of a `(namespace, name)` key; cluster-scoped keys have an empty
/// namespace. Fixed (no random seed), so that a View behaves the same in
/// every process, and fast on short keys.
fn key_hash(namespace: &str, name: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    (namespace, name).hash(&mut h);
    h.finish()
}

impl<T> Sorted<T> {
    fn push(&mut self, item: Box<T>) {
        self.items.push(item);
    }

    /// Sorts by `order`; of objects equal in that order, the one added
    /// last stays. `hash` is the [`key_hash`] of an object.
    fn seal(&mut self, order: impl Fn(&T, &T) -> Ordering, hash: impl Fn(&T) -> u64) {
        // A stable sort keeps equal objects in the order they were added;
        // reversed, the latest comes first and `dedup` keeps it.
        self.items.sort_by(|a, b| order(a, b));
        self.items.reverse();
        self.items.dedup_by(|a, b| order(a, b) == Ordering::Equal);
        self.items.reverse();
        self.items.shrink_to_fit();
        self.hashes = self
            .items
            .iter()
            .zip(0u32..)
            .map(|(o, i)| (hash(o), i))
            .collect();
        self.hashes.sort_unstable();
    }

    /// The object whose key hashes to `hash` and for which `is` holds.
    fn find(&self, hash: u64, is: impl Fn(&T) -> bool) -> Option<&T> {
        let start = self.hashes.partition_point(|(h, _)| *h < hash);
        self.hashes[start..]
            .iter()
            .take_while(|(h, _)| *h == hash)
            .map(|(_, i)| self.items[*i as usize].as_ref())
            .find(|o| is(o))
    }
}

/// The objects of a namespaced kind, in (namespace, name) order.
#[derive(Clone)]
pub struct Namespaced<T>(Sorted<T>);

/// The objects of a kind found by name alone (cluster-scoped kinds, and
/// Longhorn's kinds, which all live in `longhorn-system`), in name order.
#[derive(Clone)]
pub struct Named<T>(Sorted<T>);

impl<T> Default for Namespaced<T> {
    fn default() -> Self {
        Namespaced(Sorted::default())
    }
}

impl<T> Default for Named<T> {
    fn default() -> Self {
        Named(Sorted::default())
    }
}

/// What [`Namespaced`] and [`Named`] share: counting, the objects in order
/// and (inside the View) the object at a position.
macro_rules! in_order {
    ($store:ident) => {
        impl<T> $store<T> {
            /// Number of objects.
            pub fn len(&self) -> usize {
                self.0.items.len()
            }

            /// Whether there is none.
            pub fn is_empty(&self) -> bool {
                self.0.items.is_empty()
            }

            /// Every object, in key order.
            pub fn values(&self) -> impl Iterator<Item = &T> {
                self.0.items.iter().map(Box::as_ref)
            }

            pub(crate) fn at(&self, position: u32) -> &T {
                &self.0.items[position as usize]
            }

            pub(crate) fn boxed(&self) -> impl Iterator<Item = &Box<T>> {
                self.0.items.iter()
            }
        }
    };
}

in_order!(Namespaced);
in_order!(Named);

fn pair<T: HasMeta>(o: &T) -> (&str, &str) {
    let meta = o.meta();
    (ns_of(meta), name_of(meta))
}

fn name<T: HasMeta>(o: &T) -> &str {
    name_of(o.meta())
}

impl<T: HasMeta> Namespaced<T> {
    pub(crate) fn push(&mut self, item: Box<T>) {
        self.0.push(item);
    }

    pub(crate) fn seal(&mut self) {
        self.0.seal(
            |a, b| pair(a).cmp(&pair(b)),
            |o| {
                let (namespace, name) = pair(o);
                key_hash(namespace, name)
            },
        );
    }

    /// The object `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&T> {
        self.0
            .find(key_hash(namespace, name), |o| pair(o) == (namespace, name))
    }

    /// Whether `namespace/name` is here.
    pub fn contains(&self, namespace: &str, name: &str) -> bool {
        self.get(namespace, name).is_some()
    }

    /// Every object with its `(namespace, name)`, in that order.
    pub fn iter(&self) -> <&Self as IntoIterator>::IntoIter {
        self.into_iter()
    }

    /// Every `(namespace, name)`, in order.
    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.items.iter().map(|o| pair(o.as_ref()))
    }
}

impl<T: HasMeta> Named<T> {
    pub(crate) fn push(&mut self, item: Box<T>) {
        self.0.push(item);
    }

    pub(crate) fn seal(&mut self) {
        self.0
            .seal(|a, b| name(a).cmp(name(b)), |o| key_hash("", name(o)));
    }

    /// The object named `name`.
    pub fn get(&self, name_wanted: &str) -> Option<&T> {
        self.0
            .find(key_hash("", name_wanted), |o| name(o) == name_wanted)
    }

    /// Every object with its name, in name order.
    pub fn iter(&self) -> <&Self as IntoIterator>::IntoIter {
        self.into_iter()
    }

    /// Every name, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.items.iter().map(|o| name(o.as_ref()))
    }
}

impl<'a, T: HasMeta> IntoIterator for &'a Namespaced<T> {
    type Item = ((&'a str, &'a str), &'a T);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Box<T>>, fn(&'a Box<T>) -> Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.items.iter().map(|o| (pair(o.as_ref()), o.as_ref()))
    }
}

impl<'a, T: HasMeta> IntoIterator for &'a Named<T> {
    type Item = (&'a str, &'a T);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Box<T>>, fn(&'a Box<T>) -> Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.items.iter().map(|o| (name(o.as_ref()), o.as_ref()))
    }
}

impl<T> fmt::Debug for Namespaced<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} objects", self.0.items.len())
    }
}

impl<T> fmt::Debug for Named<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} objects", self.0.items.len())
    }
}

/// A secondary index: entries (positions of objects, or of parts of
/// objects) sorted by the key a function reads from each entry; entries
/// without a key are left out. Holds no key of its own, so it costs a few
/// bytes per entry. Built and searched with the same key function.
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookup<E>(Vec<E>);

impl<E: Copy> Lookup<E> {
    /// The entries that have a key, sorted by it; entries with equal keys
    /// keep their order.
    pub(crate) fn new<K: Ord>(
        entries: impl IntoIterator<Item = E>,
        key: impl Fn(E) -> Option<K>,
    ) -> Self {
        let mut entries: Vec<E> = entries.into_iter().filter(|e| key(*e).is_some()).collect();
        entries.sort_by_key(|e| key(*e));
        entries.shrink_to_fit();
        Lookup(entries)
    }

    /// The entries whose key equals `wanted`, in order.
    pub(crate) fn find<K: Ord>(&self, wanted: K, key: impl Fn(E) -> Option<K>) -> &[E] {
        let wanted = Some(wanted);
        let start = self.0.partition_point(|e| key(*e) < wanted);
        let end = start + self.0[start..].partition_point(|e| key(*e) <= wanted);
        &self.0[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(
        namespace: &str,
        name: &str,
        label: &str,
    ) -> Box<Lossless<k8s_openapi::api::core::v1::Secret>> {
        let mut s = k8s_openapi::api::core::v1::Secret::default();
        s.metadata.namespace = Some(namespace.to_owned());
        s.metadata.name = Some(name.to_owned());
        s.metadata.labels = Some([("v".to_owned(), label.to_owned())].into());
        Box::new(Lossless::new(s))
    }

    fn label(s: &Lossless<k8s_openapi::api::core::v1::Secret>) -> &str {
        s.object
            .metadata
            .labels
            .as_ref()
            .map_or("", |l| l["v"].as_str())
    }

    #[test]
    fn objects_are_found_by_their_own_names_and_the_last_one_added_wins() {
        let mut store = Namespaced::default();
        for (n, name, l) in [
            ("b", "x", "1"),
            ("a", "y", "2"),
            ("", "z", "3"),
            ("a", "y", "4"),
            ("ab", "", "5"),
        ] {
            store.push(ns(n, name, l));
        }
        store.seal();
        assert_eq!(store.len(), 4);
        let keys: Vec<_> = store.keys().collect();
        assert_eq!(keys, [("a", "y"), ("ab", ""), ("b", "x"), ("default", "z")]);
        assert_eq!(store.get("a", "y").map(label), Some("4"));
        assert_eq!(store.get("default", "z").map(label), Some("3"));
        assert!(store.get("a", "x").is_none());
        assert!(store.get("b", "").is_none());
        assert!(store.contains("ab", ""));
    }

    #[test]
    fn a_lookup_finds_every_entry_with_the_key_in_order() {
        // "-" stands for an entry without a key: it is left out.
        let words = ["b", "a", "b", "c", "b", "a", "-"];
        let key = |i: u32| Some(words[i as usize]).filter(|w| *w != "-");
        let index = Lookup::new(0..words.len() as u32, key);
        assert_eq!(index.find("b", key), [0, 2, 4]);
        assert_eq!(index.find("a", key), [1, 5]);
        assert_eq!(index.find("c", key), [3]);
        assert!(index.find("d", key).is_empty());
        assert!(index.find("", key).is_empty());
        assert!(index.find("-", key).is_empty());
    }
}
