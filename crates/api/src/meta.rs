//! Object metadata and references shared by several kinds.
//!
//! Top-level objects use k8s-openapi's `ObjectMeta`. Metadata *embedded*
//! inside another object (a VM template, the VM copy inside a backup, the PVC
//! copy inside a volume backup) is [`EmbeddedObjectMeta`]: Go writes it with
//! `creationTimestamp: null` and it may carry anything, so it is kept
//! losslessly.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Extra, preserving_serde};

/// Metadata embedded inside another object (`name`, `namespace`, `labels`,
/// `annotations`; everything else kept as it was).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct EmbeddedObjectMeta {
    /// Object name.
    pub name: Option<String>,
    /// Name prefix for generated names.
    pub generate_name: Option<String>,
    /// Namespace.
    pub namespace: Option<String>,
    /// Labels.
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations.
    pub annotations: Option<BTreeMap<String, String>>,
    /// Creation time (RFC 3339); Go writes `null` here when unset.
    pub creation_timestamp: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(EmbeddedObjectMeta);

/// In a CRD, embedded metadata is an object whose unknown fields are kept
/// (`x-kubernetes-preserve-unknown-fields`), as in Harvester's CRDs.
impl JsonSchema for EmbeddedObjectMeta {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EmbeddedObjectMeta".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::schema::preserved_object()
    }
}

impl EmbeddedObjectMeta {
    /// Metadata with just a name and a namespace.
    pub fn named(name: impl Into<String>, namespace: impl Into<String>) -> Self {
        EmbeddedObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        }
    }

    /// The annotation `key`, if present.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// The label `key`, if present.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.as_ref()?.get(key).map(String::as_str)
    }
}

/// A reference to an object in the same namespace (`corev1.TypedLocalObjectReference`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(extend("required" = ["kind", "name"]))]
pub struct TypedLocalObjectReference {
    /// API group of the referenced object; absent for the core group.
    pub api_group: Option<String>,
    /// Kind of the referenced object.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub kind: String,
    /// Name of the referenced object.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub name: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(TypedLocalObjectReference);

impl TypedLocalObjectReference {
    /// A reference to the KubeVirt VirtualMachine `name`.
    pub fn virtual_machine(name: impl Into<String>) -> Self {
        TypedLocalObjectReference {
            api_group: Some(crate::wellknown::KUBEVIRT_GROUP.into()),
            kind: crate::wellknown::KIND_VIRTUAL_MACHINE.into(),
            name: name.into(),
            extra: Extra::default(),
        }
    }
}

/// A reference to any object (`corev1.ObjectReference`), as used by
/// `VolumeSnapshotContent.spec.volumeSnapshotRef`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct ObjectReference {
    /// API version of the referenced object.
    pub api_version: Option<String>,
    /// Kind of the referenced object.
    pub kind: Option<String>,
    /// Name of the referenced object.
    pub name: Option<String>,
    /// Namespace of the referenced object.
    pub namespace: Option<String>,
    /// UID of the referenced object.
    pub uid: Option<String>,
    /// Resource version of the referenced object.
    pub resource_version: Option<String>,
    /// Field path inside the referenced object.
    pub field_path: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(ObjectReference);

/// A Harvester-style error record: `{time, message}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct ErrorInfo {
    /// When the error happened (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub time: Option<String>,
    /// What went wrong.
    pub message: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(ErrorInfo);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn embedded_meta_keeps_null_timestamp_and_unknown_fields() {
        let input = json!({"name": "vm1", "namespace": "default", "creationTimestamp": null, "uid": "u", "finalizers": ["x"]});
        let meta: EmbeddedObjectMeta = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(meta.creation_timestamp, None);
        assert_eq!(meta.extra.get("uid"), Some(&json!("u")));
        assert_eq!(serde_json::to_value(&meta).unwrap(), input);
    }

    #[test]
    fn a_set_value_replaces_a_remembered_null() {
        let mut meta: EmbeddedObjectMeta =
            serde_json::from_value(json!({"creationTimestamp": null})).unwrap();
        meta.creation_timestamp = Some("2024-01-01T00:00:00Z".into());
        assert_eq!(
            serde_json::to_value(&meta).unwrap(),
            json!({"creationTimestamp": "2024-01-01T00:00:00Z"})
        );
    }

    #[test]
    fn a_missing_required_string_reads_empty_and_is_not_invented() {
        // Truncated objects lack fields Kubernetes requires; they read as
        // empty and are written back as they were.
        let input = json!({"name": "vm"});
        let reference: TypedLocalObjectReference = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(reference.kind, "");
        assert_eq!(serde_json::to_value(&reference).unwrap(), input);
        let input = json!({"kind": "", "name": "vm"});
        let reference: TypedLocalObjectReference = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(serde_json::to_value(&reference).unwrap(), input);
    }

    #[test]
    fn bad_field_type_names_the_field() {
        let err = serde_json::from_value::<ErrorInfo>(json!({"message": 5})).unwrap_err();
        assert!(err.to_string().starts_with("message:"), "{err}");
    }
}
