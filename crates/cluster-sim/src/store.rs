//! The simulated API server: one object store per cluster with `uid`,
//! `resourceVersion`, `creationTimestamp`, finalizers and deletion
//! timestamps, merge patches with preconditions, status subresources,
//! namespace admission, and the garbage collector that deletes dependants
//! whose owners are gone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use serde_json::Value;
use vmbackup_engine::merge_patch;
use vmbackup_engine::{Kind, Object, ObjectRef, Precondition};

use crate::ids::Ids;
use crate::typed::Typed;
use crate::validation;

/// An error the API server answers with. Nothing is changed when one is
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The object does not exist.
    #[error("{object} not found")]
    NotFound {
        /// The object.
        object: String,
    },
    /// An object of that name exists.
    #[error("{object} already exists")]
    AlreadyExists {
        /// The object.
        object: String,
    },
    /// A precondition (`uid`, `resourceVersion`) does not hold.
    #[error("conflict on {object}: the object has been modified ({what})")]
    Conflict {
        /// The object.
        object: String,
        /// Which precondition failed.
        what: String,
    },
    /// The name is held by an object that is being deleted.
    #[error("{object} is being deleted")]
    Terminating {
        /// The object.
        object: String,
    },
    /// The object (or the patched object) is invalid.
    #[error("{object} is invalid: {message}")]
    Invalid {
        /// The object.
        object: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// Which part of an object a patch addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The object itself (`status` is ignored for kinds with a status
    /// subresource).
    Main,
    /// The `status` subresource (only `status` is changed for kinds that
    /// have one; the whole patch applies for kinds that do not).
    Status,
}

/// What a delete request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    /// The object is gone.
    Removed,
    /// The object has finalizers: it now carries a deletion timestamp.
    Marked,
    /// There was no such object.
    Absent,
}

/// The objects of one cluster.
#[derive(Debug, Clone)]
pub struct Store {
    objects: BTreeMap<ObjectRef, Object>,
    resource_version: u64,
    ids: Ids,
    now: DateTime<Utc>,
}

fn k8s_time(t: DateTime<Utc>) -> Option<Time> {
    k8s_openapi::jiff::Timestamp::from_second(t.timestamp())
        .ok()
        .map(Time)
}

/// The engine kind an owner reference names, if the store holds that kind.
fn owner_kind(o: &OwnerReference) -> Option<Kind> {
    Kind::ALL
        .iter()
        .copied()
        .find(|k| k.kind() == o.kind && k.api_version() == o.api_version)
}

impl Store {
    /// An empty store whose UIDs derive from `seed`.
    pub fn new(seed: &str) -> Self {
        Store {
            objects: BTreeMap::new(),
            resource_version: 0,
            ids: Ids::new(format!("{seed}/uid")),
            now: crate::clock::epoch(),
        }
    }

    /// Sets the time used for creation and deletion timestamps.
    pub fn set_time(&mut self, now: DateTime<Utc>) {
        self.now = now;
    }

    /// A counter that grows with every change (the cluster's latest
    /// `resourceVersion`).
    pub fn revision(&self) -> u64 {
        self.resource_version
    }

    fn bump(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// The object, if it exists.
    pub fn get(&self, r: &ObjectRef) -> Option<&Object> {
        self.objects.get(r)
    }

    /// A typed object by namespace (ignored for cluster-scoped kinds) and name.
    pub fn get_as<T: Typed>(&self, namespace: &str, name: &str) -> Option<&T> {
        self.objects
            .get(&ObjectRef::new(T::KIND, Some(namespace), name))
            .and_then(T::from_object)
    }

    /// Every object of a type, by namespace and name.
    pub fn list<T: Typed + 'static>(&self) -> impl Iterator<Item = &T> + '_ {
        self.objects
            .iter()
            .filter(|(r, _)| r.kind == T::KIND)
            .filter_map(|(_, o)| T::from_object(o))
    }

    /// Every object, in a fixed order.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.objects.values()
    }

    /// Creates an object as a client does: for kinds with a status
    /// subresource the status sent is dropped (the API server ignores it);
    /// otherwise as [`Store::create_with_status`].
    pub fn create(&mut self, object: impl Into<Object>) -> Result<Object, ApiError> {
        let object = object.into();
        let object = if object.kind().has_status_subresource() {
            let mut value = object.to_value();
            if let serde_json::Value::Object(map) = &mut value {
                map.remove("status");
            }
            Object::from_value(value).map_err(|e| ApiError::Invalid {
                object: object.reference().to_string(),
                message: e.to_string(),
            })?
        } else {
            object
        };
        self.create_with_status(object)
    }

    /// Creates an object with its status (what a controller does by
    /// creating it and then writing its status): validates it, assigns
    /// `uid`, `resourceVersion` and `creationTimestamp`, and returns it as
    /// stored.
    pub fn create_with_status(&mut self, object: impl Into<Object>) -> Result<Object, ApiError> {
        let mut object = object.into();
        {
            let meta = object.meta_mut();
            if meta.name.as_deref().is_none_or(str::is_empty)
                && let Some(prefix) = meta.generate_name.clone()
            {
                let suffix: String = self
                    .ids
                    .uid()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .take(5)
                    .collect();
                meta.name = Some(format!("{prefix}{suffix}"));
            }
        }
        if object.kind().namespaced()
            && object.meta().namespace.as_deref().is_none_or(str::is_empty)
        {
            object.meta_mut().namespace = Some("default".into());
        }
        let r = object.reference();
        let problems = validation::problems(&object);
        if !problems.is_empty() {
            return Err(ApiError::Invalid {
                object: r.to_string(),
                message: problems.join("; "),
            });
        }
        if let Some(ns) = r.namespace.as_deref() {
            match self.get_as::<crate::typed::Namespace>("", ns) {
                None => {
                    return Err(ApiError::NotFound {
                        object: format!("Namespace {ns} (creating {r})"),
                    });
                }
                Some(n) if n.metadata.deletion_timestamp.is_some() => {
                    return Err(ApiError::Invalid {
                        object: r.to_string(),
                        message: format!("namespace {ns} is being terminated"),
                    });
                }
                Some(_) => {}
            }
        }
        if let Some(existing) = self.objects.get(&r) {
            return Err(if existing.meta().deletion_timestamp.is_some() {
                ApiError::Terminating {
                    object: r.to_string(),
                }
            } else {
                ApiError::AlreadyExists {
                    object: r.to_string(),
                }
            });
        }
        let uid = self.ids.uid();
        let rv = self.bump();
        let now = k8s_time(self.now);
        let meta = object.meta_mut();
        meta.uid = Some(uid);
        meta.resource_version = Some(rv);
        meta.creation_timestamp = now;
        meta.deletion_timestamp = None;
        self.objects.insert(r, object.clone());
        Ok(object)
    }

    fn check(r: &ObjectRef, object: &Object, pre: &Precondition) -> Result<(), ApiError> {
        let meta = object.meta();
        if let Some(uid) = &pre.uid
            && meta.uid.as_ref() != Some(uid)
        {
            return Err(ApiError::Conflict {
                object: r.to_string(),
                what: format!("uid is {:?}, expected {uid}", meta.uid),
            });
        }
        if let Some(rv) = &pre.resource_version
            && meta.resource_version.as_ref() != Some(rv)
        {
            return Err(ApiError::Conflict {
                object: r.to_string(),
                what: format!(
                    "resourceVersion is {:?}, expected {rv}",
                    meta.resource_version
                ),
            });
        }
        Ok(())
    }

    /// Applies a JSON merge patch.
    pub fn merge_patch(
        &mut self,
        r: &ObjectRef,
        pre: &Precondition,
        patch: &Value,
        part: Part,
    ) -> Result<(), ApiError> {
        let existing = self.objects.get(r).ok_or_else(|| ApiError::NotFound {
            object: r.to_string(),
        })?;
        Self::check(r, existing, pre)?;
        let mut patch = patch.clone();
        if r.kind.has_status_subresource()
            && let Value::Object(map) = &mut patch
        {
            match part {
                Part::Main => {
                    map.remove("status");
                }
                Part::Status => map.retain(|k, _| k == "status"),
            }
        }
        let mut value = existing.to_value();
        merge_patch::apply(&mut value, &patch);
        let patched = Object::from_value(value).map_err(|e| ApiError::Invalid {
            object: r.to_string(),
            message: e.to_string(),
        })?;
        self.replace(r, patched)
    }

    /// Replaces the stored object by `new` (an update): identity fields are
    /// kept, the API server's rules are checked, and `resourceVersion` moves
    /// only when something changed. An object being deleted whose last
    /// finalizer is removed is gone afterwards.
    pub fn replace(&mut self, r: &ObjectRef, mut new: Object) -> Result<(), ApiError> {
        let old = self.objects.get(r).ok_or_else(|| ApiError::NotFound {
            object: r.to_string(),
        })?;
        {
            let (om, nm) = (old.meta().clone(), new.meta_mut());
            nm.name = om.name;
            nm.namespace = om.namespace;
            nm.uid = om.uid;
            nm.creation_timestamp = om.creation_timestamp;
            nm.resource_version = om.resource_version;
            if om.deletion_timestamp.is_some() {
                nm.deletion_timestamp = om.deletion_timestamp;
            }
        }
        if old.to_value() == new.to_value() {
            return Ok(());
        }
        let problems = validation::problems(&new);
        if !problems.is_empty() {
            return Err(ApiError::Invalid {
                object: r.to_string(),
                message: problems.join("; "),
            });
        }
        if let Some(p) = validation::immutable_problem(old, &new) {
            return Err(ApiError::Invalid {
                object: r.to_string(),
                message: p,
            });
        }
        if old.meta().deletion_timestamp.is_some() {
            let before: BTreeSet<&String> = old.meta().finalizers.iter().flatten().collect();
            if let Some(added) = new
                .meta()
                .finalizers
                .iter()
                .flatten()
                .find(|f| !before.contains(f))
            {
                return Err(ApiError::Invalid {
                    object: r.to_string(),
                    message: format!(
                        "metadata.finalizers: no new finalizers ({added}) can be added while the object is being deleted"
                    ),
                });
            }
        }
        let rv = self.bump();
        new.meta_mut().resource_version = Some(rv);
        let gone = new.meta().deletion_timestamp.is_some()
            && new.meta().finalizers.as_ref().is_none_or(Vec::is_empty);
        if gone {
            self.objects.remove(r);
            self.collect_garbage();
        } else {
            self.objects.insert(r.clone(), new);
        }
        Ok(())
    }

    /// Changes a typed object in place (what a controller's update does).
    /// Returns whether anything changed.
    pub fn update<T: Typed>(
        &mut self,
        namespace: &str,
        name: &str,
        change: impl FnOnce(&mut T),
    ) -> Result<bool, ApiError> {
        let r = ObjectRef::new(T::KIND, Some(namespace), name);
        let Some(current) = self.get(&r).and_then(T::from_object) else {
            return Err(ApiError::NotFound {
                object: r.to_string(),
            });
        };
        let mut next = current.clone();
        change(&mut next);
        let before = self.revision();
        self.replace(&r, next.into_object())?;
        Ok(self.revision() != before)
    }

    /// Removes `finalizer` from the object, if present.
    pub fn remove_finalizer(&mut self, r: &ObjectRef, finalizer: &str) -> Result<bool, ApiError> {
        let Some(obj) = self.objects.get(r) else {
            return Ok(false);
        };
        if !obj
            .meta()
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == finalizer)
        {
            return Ok(false);
        }
        let mut next = obj.clone();
        if let Some(f) = next.meta_mut().finalizers.as_mut() {
            f.retain(|x| x != finalizer);
        }
        self.replace(r, next)?;
        Ok(true)
    }

    /// Adds `finalizer` to the object unless present or being deleted.
    pub fn add_finalizer(&mut self, r: &ObjectRef, finalizer: &str) -> Result<bool, ApiError> {
        let Some(obj) = self.objects.get(r) else {
            return Ok(false);
        };
        if obj.meta().deletion_timestamp.is_some()
            || obj
                .meta()
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == finalizer)
        {
            return Ok(false);
        }
        let mut next = obj.clone();
        next.meta_mut()
            .finalizers
            .get_or_insert_with(Vec::new)
            .push(finalizer.to_owned());
        self.replace(r, next)?;
        Ok(true)
    }

    /// Deletes an object: objects with finalizers get a deletion timestamp,
    /// others are removed at once, and dependants whose owners are all gone
    /// are deleted in turn.
    pub fn delete(&mut self, r: &ObjectRef, pre: &Precondition) -> Result<Deleted, ApiError> {
        let Some(existing) = self.objects.get(r) else {
            return Ok(Deleted::Absent);
        };
        Self::check(r, existing, pre)?;
        if existing
            .meta()
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty())
        {
            if existing.meta().deletion_timestamp.is_some() {
                return Ok(Deleted::Marked);
            }
            let mut next = existing.clone();
            let rv = self.bump();
            let meta = next.meta_mut();
            meta.deletion_timestamp = k8s_time(self.now);
            meta.resource_version = Some(rv);
            self.objects.insert(r.clone(), next);
            return Ok(Deleted::Marked);
        }
        self.objects.remove(r);
        self.bump();
        self.collect_garbage();
        Ok(Deleted::Removed)
    }

    /// Drops an object without any of the API server's rules (finalizers,
    /// preconditions): what losing it from the control plane's storage
    /// looks like. Returns whether it existed.
    pub fn forget(&mut self, r: &ObjectRef) -> bool {
        let existed = self.objects.remove(r).is_some();
        if existed {
            self.bump();
        }
        existed
    }

    fn owner_present(&self, dependant: &ObjectRef, o: &OwnerReference) -> Option<bool> {
        let kind = owner_kind(o)?;
        let owner_ref = match (dependant.namespace.as_deref(), kind.namespaced()) {
            // A cluster-scoped object cannot be owned by a namespaced one:
            // the reference is unresolvable and the collector leaves it.
            (None, true) => return None,
            (Some(ns), true) => ObjectRef::namespaced(kind, ns, &o.name),
            (_, false) => ObjectRef::cluster(kind, &o.name),
        };
        Some(
            self.objects
                .get(&owner_ref)
                .is_some_and(|x| x.meta().uid.as_deref() == Some(o.uid.as_str())),
        )
    }

    /// The garbage collector: deletes every object whose owner references
    /// all name objects that no longer exist, until nothing more is due.
    pub fn collect_garbage(&mut self) -> Vec<ObjectRef> {
        let mut collected = Vec::new();
        loop {
            let due: Vec<ObjectRef> = self
                .objects
                .iter()
                .filter(|(_, o)| o.meta().deletion_timestamp.is_none())
                .filter(|(r, o)| {
                    let owners = o.meta().owner_references.as_deref().unwrap_or_default();
                    !owners.is_empty()
                        && owners
                            .iter()
                            .all(|owner| self.owner_present(r, owner) == Some(false))
                })
                .map(|(r, _)| r.clone())
                .collect();
            if due.is_empty() {
                return collected;
            }
            for r in due {
                if self.delete(&r, &Precondition::none()).is_ok() {
                    collected.push(r);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        Object::from_value(v).unwrap()
    }

    fn ns(name: &str) -> Object {
        obj(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    }

    fn vs(name: &str, owner: Option<(&str, &str)>) -> Object {
        let mut v = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"source": {"persistentVolumeClaimName": "p"}}});
        if let Some((kind_name, uid)) = owner {
            v["metadata"]["ownerReferences"] = json!([{"apiVersion": "harvesterhci.io/v1beta1",
                "kind": "VirtualMachineBackup", "name": kind_name, "uid": uid}]);
        }
        obj(v)
    }

    fn vmb(name: &str) -> Object {
        obj(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm"}}}),
        )
    }

    #[test]
    fn create_assigns_identity_and_refuses_duplicates_and_missing_namespaces() {
        let mut s = Store::new("t");
        assert!(matches!(
            s.create(vs("a", None)),
            Err(ApiError::NotFound { .. })
        ));
        s.create(ns("default")).unwrap();
        let a = s.create(vs("a", None)).unwrap();
        assert_eq!(a.meta().uid.as_ref().unwrap().len(), 36);
        assert!(a.meta().creation_timestamp.is_some());
        assert!(matches!(
            s.create(vs("a", None)),
            Err(ApiError::AlreadyExists { .. })
        ));
        assert!(matches!(
            s.create(vs("Bad_Name", None)),
            Err(ApiError::Invalid { .. })
        ));
    }

    #[test]
    fn preconditions_finalizers_and_status_subresource() {
        let mut s = Store::new("t");
        s.create(ns("default")).unwrap();
        let a = s.create(vs("a", None)).unwrap();
        let r = a.reference();
        let stale = Precondition {
            uid: None,
            resource_version: Some("0".into()),
        };
        assert!(matches!(
            s.merge_patch(
                &r,
                &stale,
                &json!({"metadata": {"labels": {"x": "y"}}}),
                Part::Main
            ),
            Err(ApiError::Conflict { .. })
        ));
        // Status sent to the main resource is ignored for kinds with a
        // status subresource.
        s.merge_patch(
            &r,
            &Precondition::none(),
            &json!({"status": {"readyToUse": true}}),
            Part::Main,
        )
        .unwrap();
        assert_eq!(s.get(&r).unwrap().to_value()["status"], Value::Null);
        s.merge_patch(
            &r,
            &Precondition::none(),
            &json!({"status": {"readyToUse": true}}),
            Part::Status,
        )
        .unwrap();
        assert_eq!(s.get(&r).unwrap().to_value()["status"]["readyToUse"], true);
        // The source is immutable.
        assert!(matches!(
            s.merge_patch(
                &r,
                &Precondition::none(),
                &json!({"spec": {"source": {"persistentVolumeClaimName": "q"}}}),
                Part::Main
            ),
            Err(ApiError::Invalid { .. })
        ));
        s.add_finalizer(&r, "f").unwrap();
        assert_eq!(
            s.delete(&r, &Precondition::none()).unwrap(),
            Deleted::Marked
        );
        assert!(s.get(&r).unwrap().meta().deletion_timestamp.is_some());
        assert!(!s.add_finalizer(&r, "g").unwrap());
        s.remove_finalizer(&r, "f").unwrap();
        assert!(s.get(&r).is_none());
    }

    #[test]
    fn dependants_of_a_deleted_owner_are_collected() {
        let mut s = Store::new("t");
        s.create(ns("default")).unwrap();
        let owner = s.create(vmb("b")).unwrap();
        let uid = owner.meta().uid.clone().unwrap();
        s.create(vs("child", Some(("b", &uid)))).unwrap();
        s.create(vs("stranger", Some(("b", "other-uid")))).unwrap();
        // A dependant whose owner never existed is collected at once.
        let gone = s.collect_garbage();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].name, "stranger");
        s.delete(&owner.reference(), &Precondition::none()).unwrap();
        assert!(
            s.get_as::<vmbackup_api::VolumeSnapshot>("default", "child")
                .is_none()
        );
    }

    #[test]
    fn a_client_cannot_create_an_object_with_a_status_its_subresource_owns() {
        let mut s = Store::new("t");
        s.create(ns("default")).unwrap();
        let mut v = vs("a", None).to_value();
        v["status"] = json!({"readyToUse": true});
        let created = s.create(Object::from_value(v.clone()).unwrap()).unwrap();
        assert_eq!(created.to_value()["status"], Value::Null);
        v["metadata"]["name"] = json!("b");
        let kept = s
            .create_with_status(Object::from_value(v).unwrap())
            .unwrap();
        assert_eq!(kept.to_value()["status"]["readyToUse"], true);
    }

    #[test]
    fn update_moves_the_resource_version_only_on_change() {
        let mut s = Store::new("t");
        s.create(ns("default")).unwrap();
        s.create(vs("a", None)).unwrap();
        let before = s.revision();
        assert!(
            !s.update::<vmbackup_api::VolumeSnapshot>("default", "a", |_| {})
                .unwrap()
        );
        assert_eq!(s.revision(), before);
        assert!(
            s.update::<vmbackup_api::VolumeSnapshot>("default", "a", |v| {
                v.spec.volume_snapshot_class_name = Some("longhorn".into());
            })
            .unwrap()
        );
        assert!(s.revision() > before);
    }
}
