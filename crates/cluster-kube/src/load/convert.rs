//! From what the API server returned to the engine's typed objects.

use std::fmt;

use kube::api::DynamicObject;
use serde::Serialize;
use serde_json::Value;
use vmbackup_engine::{Kind, Object};

/// An object of a listed kind that does not have its kind's shape. It is
/// left out, and its kind does not count as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvalidObject {
    /// The kind.
    pub kind: Kind,
    /// Its namespace, for namespaced kinds.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// What is wrong, starting with the field.
    pub message: String,
}

impl fmt::Display for InvalidObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(
                f,
                "{} {ns}/{} left out: {}",
                self.kind, self.name, self.message
            ),
            None => write!(f, "{} {} left out: {}", self.kind, self.name, self.message),
        }
    }
}

/// Types the listed `items` of `kind`; returns the objects and those that
/// could not be typed.
pub(crate) fn objects(kind: Kind, items: Vec<DynamicObject>) -> (Vec<Object>, Vec<InvalidObject>) {
    let mut good = Vec::with_capacity(items.len());
    let mut bad = Vec::new();
    for item in items {
        let namespace = item.metadata.namespace.clone();
        let name = item.metadata.name.clone().unwrap_or_default();
        match object(kind, item) {
            Ok(o) => good.push(o),
            Err(message) => bad.push(InvalidObject {
                kind,
                namespace,
                name,
                message,
            }),
        }
    }
    (good, bad)
}

/// Types one object the API server returned for `kind`. Items of a list
/// often come without `apiVersion` and `kind`: the listed kind's are used.
pub(crate) fn object(kind: Kind, item: DynamicObject) -> Result<Object, String> {
    let mut value = serde_json::to_value(&item).map_err(|e| e.to_string())?;
    let Value::Object(map) = &mut value else {
        return Err("not a JSON object".into());
    };
    for (key, default) in [("apiVersion", kind.api_version()), ("kind", kind.kind())] {
        if map
            .get(key)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            map.insert(key.into(), Value::String(default.into()));
        }
    }
    let object = Object::from_value(value).map_err(|e| match e {
        vmbackup_engine::object::ObjectError::Invalid { message, .. } => message,
        other => other.to_string(),
    })?;
    if object.kind() != kind {
        return Err(format!(
            "the API server returned a {} where a {kind} was asked for",
            object.kind()
        ));
    }
    Ok(object)
}

/// The JSON body to send for `object`.
pub(crate) fn dynamic(object: &Object) -> Result<DynamicObject, String> {
    serde_json::from_value(object.to_value()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dynobj(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn list_items_without_type_meta_get_the_listed_kind() {
        let item = dynobj(
            json!({"metadata": {"name": "pvc-1", "resourceVersion": "9"},
            "spec": {"capacity": {"storage": "1Gi"}}, "futureField": {"kept": true}}),
        );
        let o = object(Kind::PersistentVolume, item).unwrap();
        assert_eq!(o.kind(), Kind::PersistentVolume);
        let v = o.to_value();
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["futureField"], json!({"kept": true}));
        assert_eq!(v["metadata"]["resourceVersion"], "9");
    }

    #[test]
    fn an_object_of_the_wrong_shape_is_left_out_with_its_field_named() {
        let good = dynobj(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": "ok", "namespace": "default"},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}}}),
        );
        let bad = dynobj(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}},
            "status": {"volumeBackups": [{"volumeSize": "ten"}]}}),
        );
        let (ok, left) = objects(Kind::VirtualMachineBackup, vec![good, bad]);
        assert_eq!(ok.len(), 1);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].name, "bad");
        assert!(
            left[0].message.contains("volumeSize"),
            "{}",
            left[0].message
        );
        assert!(
            left[0]
                .to_string()
                .starts_with("VirtualMachineBackup default/bad left out: "),
            "{}",
            left[0]
        );
    }

    #[test]
    fn a_different_kind_than_asked_for_is_refused() {
        let item =
            dynobj(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}));
        let err = object(Kind::PersistentVolume, item).unwrap_err();
        assert!(err.contains("Namespace"), "{err}");
    }
}
