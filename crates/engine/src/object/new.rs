//! [`NewObject`]: an object a plan creates, as the compact JSON text that is
//! sent to the API server.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Kind, Object, ObjectError, ObjectRef};

/// An object to create. A plan may create tens of thousands of objects; as
/// JSON text each costs its length, a fraction of the typed object with all
/// its unset fields.
#[derive(Clone, PartialEq, Eq)]
pub struct NewObject {
    kind: Kind,
    /// The object as `serde_json` writes it (with `apiVersion` and `kind`).
    text: Box<str>,
}

/// The part of an object's text that names it.
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow, default)]
    metadata: Meta<'a>,
}

#[derive(Default, Deserialize)]
struct Meta<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
}

impl NewObject {
    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The object as compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A reference to the object (a namespaced object without a namespace
    /// is in `default`, as with [`Object::reference`]).
    pub fn reference(&self) -> ObjectRef {
        let (namespace, name) = self.namespace_and_name();
        ObjectRef::new(self.kind, namespace.as_deref(), name.into_owned())
    }

    /// The namespace the object is in ([`Kind::filed_namespace`]) and its
    /// name, borrowed from the text where they need no unescaping: what
    /// [`NewObject::reference`] holds, without building it.
    pub(crate) fn namespace_and_name(&self) -> (Option<Cow<'_, str>>, Cow<'_, str>) {
        // The text was written from an object: it always has this shape.
        let meta = serde_json::from_str::<Named<'_>>(&self.text)
            .map(|n| n.metadata)
            .unwrap_or_default();
        (
            self.kind.filed_namespace(meta.namespace),
            meta.name.unwrap_or_default(),
        )
    }

    /// The object as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The object, typed again.
    pub fn object(&self) -> Result<Object, ObjectError> {
        Object::from_value(self.to_value())
    }
}

impl From<&Object> for NewObject {
    fn from(object: &Object) -> Self {
        NewObject {
            kind: object.kind(),
            // Writing typed objects cannot fail: every field is a string,
            // number, bool, list or string-keyed map.
            text: serde_json::to_string(object)
                .unwrap_or_default()
                .into_boxed_str(),
        }
    }
}

impl From<Object> for NewObject {
    fn from(object: Object) -> Self {
        NewObject::from(&object)
    }
}

impl fmt::Debug for NewObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Written as the object it holds, in any format.
impl Serialize for NewObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_new_object_keeps_the_object_exactly() {
        let value = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "vs-\"1\"", "namespace": "ns",
                "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                    "name": "b", "uid": "u", "controller": true}]},
            "spec": {"source": {"volumeSnapshotContentName": "c"}, "volumeSnapshotClassName": "longhorn"}});
        let object = Object::from_value(value.clone()).unwrap();
        let new = NewObject::from(&object);
        assert_eq!(new.kind(), Kind::VolumeSnapshot);
        assert_eq!(new.to_value(), value);
        assert_eq!(new.object().unwrap(), object);
        assert_eq!(new.reference(), object.reference());
        assert_eq!(new.reference().name, "vs-\"1\"");
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            serde_json::to_string(&value).unwrap()
        );
    }

    #[test]
    fn a_new_object_is_referred_to_as_the_object_is() {
        for value in [
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p"}}),
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": "s", "namespace": "ns"}, "spec": {"source": {}}}),
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": "c", "namespace": "ignored"}, "spec": {"source": {}, "volumeSnapshotRef": {}}}),
        ] {
            let object = Object::from_value(value).unwrap();
            assert_eq!(NewObject::from(&object).reference(), object.reference());
        }
        let pvc = Object::from_value(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "p"}}))
        .unwrap();
        let r = NewObject::from(&pvc).reference();
        assert_eq!(r.namespace.as_deref(), Some("default"));
    }
}
