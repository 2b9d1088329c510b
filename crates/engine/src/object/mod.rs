//! Objects the engine reads and writes: one enum over the typed API objects,
//! with their kinds and references.

mod new;
mod reference;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use serde_json::Value;
use vmbackup_api::core::{
    Lossless, Namespace, PersistentVolume, PersistentVolumeClaim, Secret, StorageClass,
};
use vmbackup_api::harvester::Setting;
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_api::longhorn::{Backup, BackupTarget, BackupVolume, Engine, Volume};
use vmbackup_api::{
    VirtualMachineBackup, VirtualMachineRestore, VolumeSnapshot, VolumeSnapshotClass,
    VolumeSnapshotContent,
};

pub use new::NewObject;
pub use reference::{Kind, ObjectRef};

/// Any object the engine knows, typed. Each is boxed: an `Object` is two
/// words, whatever its kind, so plans and lists of objects cost what their
/// objects hold and no more.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    /// A VM backup (or VM snapshot).
    VirtualMachineBackup(Box<VirtualMachineBackup>),
    /// A VM restore.
    VirtualMachineRestore(Box<VirtualMachineRestore>),
    /// A Harvester setting.
    Setting(Box<Setting>),
    /// A CSI VolumeSnapshot.
    VolumeSnapshot(Box<VolumeSnapshot>),
    /// A CSI VolumeSnapshotContent.
    VolumeSnapshotContent(Box<VolumeSnapshotContent>),
    /// A CSI VolumeSnapshotClass.
    VolumeSnapshotClass(Box<VolumeSnapshotClass>),
    /// A Longhorn Backup.
    LonghornBackup(Box<Backup>),
    /// A Longhorn BackupVolume.
    LonghornBackupVolume(Box<BackupVolume>),
    /// A Longhorn BackupTarget.
    LonghornBackupTarget(Box<BackupTarget>),
    /// A Longhorn Volume.
    LonghornVolume(Box<Volume>),
    /// A Longhorn Engine.
    LonghornEngine(Box<Engine>),
    /// A KubeVirt VirtualMachine.
    VirtualMachine(Box<VirtualMachine>),
    /// A PersistentVolumeClaim.
    PersistentVolumeClaim(Box<Lossless<PersistentVolumeClaim>>),
    /// A PersistentVolume.
    PersistentVolume(Box<Lossless<PersistentVolume>>),
    /// A StorageClass.
    StorageClass(Box<Lossless<StorageClass>>),
    /// A Namespace.
    Namespace(Box<Lossless<Namespace>>),
    /// A Secret.
    Secret(Box<Lossless<Secret>>),
}

/// Applies `$body` to the inner object of every variant.
macro_rules! each_variant {
    ($value:expr, $inner:ident => $body:expr) => {
        match $value {
            Object::VirtualMachineBackup($inner) => $body,
            Object::VirtualMachineRestore($inner) => $body,
            Object::Setting($inner) => $body,
            Object::VolumeSnapshot($inner) => $body,
            Object::VolumeSnapshotContent($inner) => $body,
            Object::VolumeSnapshotClass($inner) => $body,
            Object::LonghornBackup($inner) => $body,
            Object::LonghornBackupVolume($inner) => $body,
            Object::LonghornBackupTarget($inner) => $body,
            Object::LonghornVolume($inner) => $body,
            Object::LonghornEngine($inner) => $body,
            Object::VirtualMachine($inner) => $body,
            Object::PersistentVolumeClaim($inner) => $body,
            Object::PersistentVolume($inner) => $body,
            Object::StorageClass($inner) => $body,
            Object::Namespace($inner) => $body,
            Object::Secret($inner) => $body,
        }
    };
}

/// Why a JSON value is not an object the engine knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// `apiVersion`/`kind` name a kind the engine does not read.
    #[error("{api_version} {kind} {name:?} is not a kind vmbackup reads")]
    UnknownKind {
        /// The `apiVersion` as given.
        api_version: String,
        /// The `kind` as given.
        kind: String,
        /// `metadata.name`, if any.
        name: String,
    },
    /// The value is not a JSON object with string `apiVersion` and `kind`.
    #[error("not a Kubernetes object: {0}")]
    NotAnObject(String),
    /// The object does not match its kind's schema.
    #[error("{kind} {name:?}: {message}")]
    Invalid {
        /// The kind.
        kind: String,
        /// `metadata.name`, if any.
        name: String,
        /// The decoder's message, naming the field.
        message: String,
    },
}

impl Object {
    /// The kind.
    pub fn kind(&self) -> Kind {
        match self {
            Object::VirtualMachineBackup(_) => Kind::VirtualMachineBackup,
            Object::VirtualMachineRestore(_) => Kind::VirtualMachineRestore,
            Object::Setting(_) => Kind::Setting,
            Object::VolumeSnapshot(_) => Kind::VolumeSnapshot,
            Object::VolumeSnapshotContent(_) => Kind::VolumeSnapshotContent,
            Object::VolumeSnapshotClass(_) => Kind::VolumeSnapshotClass,
            Object::LonghornBackup(_) => Kind::LonghornBackup,
            Object::LonghornBackupVolume(_) => Kind::LonghornBackupVolume,
            Object::LonghornBackupTarget(_) => Kind::LonghornBackupTarget,
            Object::LonghornVolume(_) => Kind::LonghornVolume,
            Object::LonghornEngine(_) => Kind::LonghornEngine,
            Object::VirtualMachine(_) => Kind::VirtualMachine,
            Object::PersistentVolumeClaim(_) => Kind::PersistentVolumeClaim,
            Object::PersistentVolume(_) => Kind::PersistentVolume,
            Object::StorageClass(_) => Kind::StorageClass,
            Object::Namespace(_) => Kind::Namespace,
            Object::Secret(_) => Kind::Secret,
        }
    }

    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        each_variant!(self, o => &o.metadata)
    }

    /// The object's metadata, mutable.
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each_variant!(self, o => &mut o.metadata)
    }

    /// A reference to the object. A namespaced object without a namespace is
    /// taken to be in `default`, as `kubectl apply` would place it.
    pub fn reference(&self) -> ObjectRef {
        let meta = self.meta();
        ObjectRef::new(
            self.kind(),
            meta.namespace.as_deref(),
            meta.name.clone().unwrap_or_default(),
        )
    }

    /// The object as JSON (with `apiVersion` and `kind`).
    pub fn to_value(&self) -> Value {
        // Serialising typed objects into a JSON value cannot fail: every
        // field is a string, number, bool, list or string-keyed map.
        each_variant!(self, o => serde_json::to_value(o).unwrap_or(Value::Null))
    }

    /// Reads an object from JSON, dispatching on `apiVersion` (its group)
    /// and `kind`.
    pub fn from_value(value: Value) -> Result<Object, ObjectError> {
        let Value::Object(map) = &value else {
            return Err(ObjectError::NotAnObject(format!(
                "expected a JSON object, found {}",
                type_name(&value)
            )));
        };
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let api_version = text("apiVersion");
        let kind = text("kind");
        let name = map
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if kind.is_empty() {
            return Err(ObjectError::NotAnObject(format!(
                "object {name:?} has no kind"
            )));
        }
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        fn typed<T: serde::de::DeserializeOwned>(
            value: Value,
            kind: &str,
            name: &str,
            wrap: fn(T) -> Object,
        ) -> Result<Object, ObjectError> {
            serde_json::from_value(value)
                .map(wrap)
                .map_err(|e| ObjectError::Invalid {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    message: e.to_string(),
                })
        }
        match (group, kind.as_str()) {
            ("harvesterhci.io", "VirtualMachineBackup") => {
                typed(value, &kind, &name, Object::VirtualMachineBackup)
            }
            ("harvesterhci.io", "VirtualMachineRestore") => {
                typed(value, &kind, &name, Object::VirtualMachineRestore)
            }
            ("harvesterhci.io", "Setting") => typed(value, &kind, &name, Object::Setting),
            ("snapshot.storage.k8s.io", "VolumeSnapshot") => {
                typed(value, &kind, &name, Object::VolumeSnapshot)
            }
            ("snapshot.storage.k8s.io", "VolumeSnapshotContent") => {
                typed(value, &kind, &name, Object::VolumeSnapshotContent)
            }
            ("snapshot.storage.k8s.io", "VolumeSnapshotClass") => {
                typed(value, &kind, &name, Object::VolumeSnapshotClass)
            }
            ("longhorn.io", "Backup") => typed(value, &kind, &name, Object::LonghornBackup),
            ("longhorn.io", "BackupVolume") => {
                typed(value, &kind, &name, Object::LonghornBackupVolume)
            }
            ("longhorn.io", "BackupTarget") => {
                typed(value, &kind, &name, Object::LonghornBackupTarget)
            }
            ("longhorn.io", "Volume") => typed(value, &kind, &name, Object::LonghornVolume),
            ("longhorn.io", "Engine") => typed(value, &kind, &name, Object::LonghornEngine),
            ("kubevirt.io", "VirtualMachine") => typed(value, &kind, &name, Object::VirtualMachine),
            ("", "PersistentVolumeClaim") => {
                typed(value, &kind, &name, Object::PersistentVolumeClaim)
            }
            ("", "PersistentVolume") => typed(value, &kind, &name, Object::PersistentVolume),
            ("storage.k8s.io", "StorageClass") => typed(value, &kind, &name, Object::StorageClass),
            ("", "Namespace") => typed(value, &kind, &name, Object::Namespace),
            ("", "Secret") => typed(value, &kind, &name, Object::Secret),
            _ => Err(ObjectError::UnknownKind {
                api_version,
                kind,
                name,
            }),
        }
    }

    /// The `apiVersion` the object was read with when it differs from the
    /// one the engine writes (an old served version such as
    /// `snapshot.storage.k8s.io/v1beta1`).
    pub fn read_api_version(&self) -> Option<&str> {
        match self {
            Object::VolumeSnapshot(o) => o.extra.read_api_version(),
            Object::VolumeSnapshotContent(o) => o.extra.read_api_version(),
            Object::VolumeSnapshotClass(o) => o.extra.read_api_version(),
            Object::LonghornBackup(o) => o.extra.read_api_version(),
            Object::LonghornBackupVolume(o) => o.extra.read_api_version(),
            Object::LonghornBackupTarget(o) => o.extra.read_api_version(),
            Object::LonghornVolume(o) => o.extra.read_api_version(),
            Object::LonghornEngine(o) => o.extra.read_api_version(),
            _ => None,
        }
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

macro_rules! from_typed {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for Object {
            fn from(value: $ty) -> Self {
                Object::$variant(Box::new(value))
            }
        }

        impl From<Box<$ty>> for Object {
            fn from(value: Box<$ty>) -> Self {
                Object::$variant(value)
            }
        })*
    };
}

from_typed!(
    VirtualMachineBackup(VirtualMachineBackup),
    VirtualMachineRestore(VirtualMachineRestore),
    Setting(Setting),
    VolumeSnapshot(VolumeSnapshot),
    VolumeSnapshotContent(VolumeSnapshotContent),
    VolumeSnapshotClass(VolumeSnapshotClass),
    LonghornBackup(Backup),
    LonghornBackupVolume(BackupVolume),
    LonghornBackupTarget(BackupTarget),
    LonghornVolume(Volume),
    LonghornEngine(Engine),
    VirtualMachine(VirtualMachine),
    PersistentVolumeClaim(Lossless<PersistentVolumeClaim>),
    PersistentVolume(Lossless<PersistentVolume>),
    StorageClass(Lossless<StorageClass>),
    Namespace(Lossless<Namespace>),
    Secret(Lossless<Secret>),
);

macro_rules! from_core {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl From<$ty> for Object {
            fn from(value: $ty) -> Self {
                Object::$variant(Box::new(Lossless::new(value)))
            }
        })*
    };
}

from_core!(
    PersistentVolumeClaim(PersistentVolumeClaim),
    PersistentVolume(PersistentVolume),
    StorageClass(StorageClass),
    Namespace(Namespace),
    Secret(Secret),
);

impl TryFrom<vmbackup_api::document::Object> for Object {
    type Error = ObjectError;

    /// Converts an object read by the API crate's document reader; values of
    /// kinds that reader does not type (StorageClass, Namespace, Secret) are
    /// typed here, anything else is [`ObjectError::UnknownKind`].
    fn try_from(value: vmbackup_api::document::Object) -> Result<Self, ObjectError> {
        use vmbackup_api::document::Object as Doc;
        Ok(match value {
            Doc::VirtualMachineBackup(o) => Object::VirtualMachineBackup(o),
            Doc::VirtualMachineRestore(o) => Object::VirtualMachineRestore(o),
            Doc::Setting(o) => Object::Setting(o),
            Doc::VolumeSnapshot(o) => Object::VolumeSnapshot(o),
            Doc::VolumeSnapshotContent(o) => Object::VolumeSnapshotContent(o),
            Doc::VolumeSnapshotClass(o) => Object::VolumeSnapshotClass(o),
            Doc::LonghornBackup(o) => Object::LonghornBackup(o),
            Doc::LonghornBackupVolume(o) => Object::LonghornBackupVolume(o),
            Doc::LonghornBackupTarget(o) => Object::LonghornBackupTarget(o),
            Doc::LonghornVolume(o) => Object::LonghornVolume(o),
            Doc::LonghornEngine(o) => Object::LonghornEngine(o),
            Doc::VirtualMachine(o) => Object::VirtualMachine(o),
            Doc::PersistentVolumeClaim(o) => Object::PersistentVolumeClaim(o),
            Doc::PersistentVolume(o) => Object::PersistentVolume(o),
            Doc::Other(value) => Object::from_value(value)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_by_group_and_kind() {
        let obj = Object::from_value(json!({
            "apiVersion": "snapshot.storage.k8s.io/v1beta1",
            "kind": "VolumeSnapshotClass",
            "metadata": {"name": "c"},
            "driver": "driver.longhorn.io",
            "deletionPolicy": "Delete"
        }))
        .unwrap();
        assert_eq!(obj.kind(), Kind::VolumeSnapshotClass);
        assert_eq!(
            obj.read_api_version(),
            Some("snapshot.storage.k8s.io/v1beta1")
        );
        assert_eq!(
            obj.reference(),
            ObjectRef::cluster(Kind::VolumeSnapshotClass, "c")
        );
    }

    #[test]
    fn unknown_kinds_and_bad_fields_are_typed_errors() {
        let err = Object::from_value(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
        )
        .unwrap_err();
        assert!(matches!(err, ObjectError::UnknownKind { .. }), "{err}");
        let err = Object::from_value(
            json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
            "metadata": {"name": "b"}, "status": {"volumeName": 5}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("volumeName"), "{err}");
        assert!(Object::from_value(json!([1])).is_err());
    }

    #[test]
    fn namespaced_objects_without_namespace_land_in_default() {
        let obj = Object::from_value(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "s"}, "spec": {"source": {"volumeSnapshotContentName": "c"}}}),
        )
        .unwrap();
        assert_eq!(
            obj.reference(),
            ObjectRef::namespaced(Kind::VolumeSnapshot, "default", "s")
        );
    }
}
