//! Reading objects of any kind this crate models from text: one JSON
//! document, or one or more YAML documents (`---`), where a `...List` kind
//! (as `kubectl get -o yaml` prints) stands for its items.

use serde::Serialize;
use serde_json::Value;

use crate::core::{Lossless, PersistentVolume, PersistentVolumeClaim};
use crate::harvester::{Setting, VirtualMachineBackup, VirtualMachineRestore};
use crate::kubevirt::VirtualMachine;
use crate::longhorn;
use crate::object::TypeInfo;
use crate::snapshot::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent};

/// An object of one of the modelled kinds, or any other JSON value.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Object {
    /// `harvesterhci.io` VirtualMachineBackup.
    VirtualMachineBackup(Box<VirtualMachineBackup>),
    /// `harvesterhci.io` VirtualMachineRestore.
    VirtualMachineRestore(Box<VirtualMachineRestore>),
    /// `harvesterhci.io` Setting.
    Setting(Box<Setting>),
    /// `snapshot.storage.k8s.io` VolumeSnapshot.
    VolumeSnapshot(Box<VolumeSnapshot>),
    /// `snapshot.storage.k8s.io` VolumeSnapshotContent.
    VolumeSnapshotContent(Box<VolumeSnapshotContent>),
    /// `snapshot.storage.k8s.io` VolumeSnapshotClass.
    VolumeSnapshotClass(Box<VolumeSnapshotClass>),
    /// `longhorn.io` Backup.
    LonghornBackup(Box<longhorn::Backup>),
    /// `longhorn.io` BackupVolume.
    LonghornBackupVolume(Box<longhorn::BackupVolume>),
    /// `longhorn.io` BackupTarget.
    LonghornBackupTarget(Box<longhorn::BackupTarget>),
    /// `longhorn.io` Volume.
    LonghornVolume(Box<longhorn::Volume>),
    /// `longhorn.io` Engine.
    LonghornEngine(Box<longhorn::Engine>),
    /// `kubevirt.io` VirtualMachine.
    VirtualMachine(Box<VirtualMachine>),
    /// Core PersistentVolumeClaim.
    PersistentVolumeClaim(Box<Lossless<PersistentVolumeClaim>>),
    /// Core PersistentVolume.
    PersistentVolume(Box<Lossless<PersistentVolume>>),
    /// Anything else, kept as JSON.
    Other(Value),
}

/// Where in a text an object was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// 0-based index of the YAML document (0 for JSON).
    pub document: usize,
    /// 0-based index in the `items` of a `List`, if the object was one.
    pub item: Option<usize>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "document {}", self.document + 1)?;
        if let Some(item) = self.item {
            write!(f, ", items[{item}]")?;
        }
        Ok(())
    }
}

/// Errors reading objects from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    /// The text is not valid JSON.
    #[error("not valid JSON: {message}")]
    Json {
        /// Parser message with line and column.
        message: String,
    },
    /// A YAML document is not valid YAML.
    #[error("document {document}: not valid YAML: {message}")]
    Yaml {
        /// 1-based document number.
        document: usize,
        /// Parser message with line and column.
        message: String,
    },
    /// An object of a modelled kind does not have the expected shape.
    #[error("{location}: {kind} {name:?}: {message}")]
    Object {
        /// Where the object is.
        location: Location,
        /// Its `kind`.
        kind: String,
        /// Its `metadata.name` (empty if absent).
        name: String,
        /// What is wrong, starting with the field path.
        message: String,
    },
}

impl Object {
    /// Types a JSON value by its `apiVersion` and `kind`. Values that are
    /// not of a modelled kind become [`Object::Other`]; a modelled kind with
    /// the wrong shape (or an API version that is not understood) is an
    /// error whose message names the field.
    pub fn from_value(value: Value) -> Result<Object, String> {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let api_version = value
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        fn typed<T: TypeInfo + serde::de::DeserializeOwned>(
            value: Value,
        ) -> Result<Box<T>, String> {
            serde_json::from_value(value)
                .map(Box::new)
                .map_err(|e| e.to_string())
        }
        fn is<T: TypeInfo>(group: &str, kind: &str) -> bool {
            group == T::GROUP && kind == T::KIND
        }
        Ok(match () {
            () if is::<VirtualMachineBackup>(group, kind) => {
                Object::VirtualMachineBackup(typed(value)?)
            }
            () if is::<VirtualMachineRestore>(group, kind) => {
                Object::VirtualMachineRestore(typed(value)?)
            }
            () if is::<Setting>(group, kind) => Object::Setting(typed(value)?),
            () if is::<VolumeSnapshot>(group, kind) => Object::VolumeSnapshot(typed(value)?),
            () if is::<VolumeSnapshotContent>(group, kind) => {
                Object::VolumeSnapshotContent(typed(value)?)
            }
            () if is::<VolumeSnapshotClass>(group, kind) => {
                Object::VolumeSnapshotClass(typed(value)?)
            }
            () if is::<longhorn::Backup>(group, kind) => Object::LonghornBackup(typed(value)?),
            () if is::<longhorn::BackupVolume>(group, kind) => {
                Object::LonghornBackupVolume(typed(value)?)
            }
            () if is::<longhorn::BackupTarget>(group, kind) => {
                Object::LonghornBackupTarget(typed(value)?)
            }
            () if is::<longhorn::Volume>(group, kind) => Object::LonghornVolume(typed(value)?),
            () if is::<longhorn::Engine>(group, kind) => Object::LonghornEngine(typed(value)?),
            () if is::<VirtualMachine>(group, kind) => Object::VirtualMachine(typed(value)?),
            () if api_version == "v1" && kind == "PersistentVolumeClaim" => {
                Object::PersistentVolumeClaim(Box::new(from_json(value)?))
            }
            () if api_version == "v1" && kind == "PersistentVolume" => {
                Object::PersistentVolume(Box::new(from_json(value)?))
            }
            () => Object::Other(value),
        })
    }

    /// The object as JSON (equal to what it was read from).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        fn json<T: Serialize>(value: &T) -> Result<Value, serde_json::Error> {
            serde_json::to_value(value)
        }
        match self {
            Object::VirtualMachineBackup(o) => json(o),
            Object::VirtualMachineRestore(o) => json(o),
            Object::Setting(o) => json(o),
            Object::VolumeSnapshot(o) => json(o),
            Object::VolumeSnapshotContent(o) => json(o),
            Object::VolumeSnapshotClass(o) => json(o),
            Object::LonghornBackup(o) => json(o),
            Object::LonghornBackupVolume(o) => json(o),
            Object::LonghornBackupTarget(o) => json(o),
            Object::LonghornVolume(o) => json(o),
            Object::LonghornEngine(o) => json(o),
            Object::VirtualMachine(o) => json(o),
            Object::PersistentVolumeClaim(o) => json(o),
            Object::PersistentVolume(o) => json(o),
            Object::Other(value) => Ok(value.clone()),
        }
    }

    /// Whether the object is of a modelled kind.
    pub fn is_modelled(&self) -> bool {
        !matches!(self, Object::Other(_))
    }
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// The raw JSON values in a text, each with its location, `List`s expanded
/// into their items. Text starting with `{` or `[` is read as JSON, anything
/// else as (multi-document) YAML; empty YAML documents are skipped.
pub fn values_from_str(text: &str) -> Result<Vec<(Location, Value)>, DocumentError> {
    let documents: Vec<Value> = if text.trim_start().starts_with(['{', '[']) {
        vec![serde_json::from_str(text).map_err(|e| DocumentError::Json {
            message: e.to_string(),
        })?]
    } else {
        let mut documents = Vec::new();
        for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
            let value = <Value as serde::Deserialize>::deserialize(document).map_err(|e| {
                DocumentError::Yaml {
                    document: index + 1,
                    message: e.to_string(),
                }
            })?;
            documents.push(value);
        }
        documents
    };
    let mut out = Vec::new();
    for (document, value) in documents.into_iter().enumerate() {
        if value.is_null() {
            continue;
        }
        match list_items(&value) {
            Some(items) => {
                for (item, value) in items.iter().enumerate() {
                    out.push((
                        Location {
                            document,
                            item: Some(item),
                        },
                        value.clone(),
                    ));
                }
            }
            None => out.push((
                Location {
                    document,
                    item: None,
                },
                value,
            )),
        }
    }
    Ok(out)
}

/// Objects in a text (see [`values_from_str`]), typed by kind.
pub fn objects_from_str(text: &str) -> Result<Vec<(Location, Object)>, DocumentError> {
    values_from_str(text)?
        .into_iter()
        .map(|(location, value)| {
            let kind = value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let name = value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Object::from_value(value)
                .map(|object| (location, object))
                .map_err(|message| DocumentError::Object {
                    location,
                    kind,
                    name,
                    message,
                })
        })
        .collect()
}

/// The `items` of a `...List` object (`kind: List`, `VirtualMachineBackupList`, ...),
/// or of a list without `kind` that has `apiVersion` and `items`.
fn list_items(value: &Value) -> Option<&Vec<Value>> {
    let items = value.get("items")?.as_array()?;
    match value.get("kind").and_then(Value::as_str) {
        Some(kind) if kind.ends_with("List") => Some(items),
        None if value.get("apiVersion").is_some() => Some(items),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_expand_and_locations_are_kept() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: snapshot.storage.k8s.io/v1\n  kind: VolumeSnapshotClass\n  metadata: {name: a}\n  driver: d\n  deletionPolicy: Delete\n---\n---\nkind: Other\n";
        let objects = objects_from_str(text).unwrap();
        assert_eq!(objects.len(), 2);
        assert_eq!(
            objects[0].0,
            Location {
                document: 0,
                item: Some(0)
            }
        );
        assert!(matches!(objects[0].1, Object::VolumeSnapshotClass(_)));
        assert_eq!(objects[1].0.document, 2);
        assert!(!objects[1].1.is_modelled());
    }

    #[test]
    fn bad_shape_names_object_and_field() {
        let text = "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineBackup\nmetadata: {name: b1}\nspec:\n  source: {kind: VirtualMachine, name: vm}\n  type: weekly\n";
        let err = objects_from_str(text).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("b1") && message.contains("spec.type"),
            "{message}"
        );
    }

    #[test]
    fn invalid_text_is_an_error() {
        assert!(matches!(
            values_from_str("{\"a\": ["),
            Err(DocumentError::Json { .. })
        ));
        assert!(matches!(
            values_from_str("a: b\n c: d: e\n"),
            Err(DocumentError::Yaml { .. })
        ));
    }
}
