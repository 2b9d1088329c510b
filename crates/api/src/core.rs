//! Core Kubernetes types.
//!
//! Whole core objects (PersistentVolumeClaim, PersistentVolume, Namespace,
//! StorageClass, Secret) are k8s-openapi's and re-exported here. A PVC spec
//! *copied into* a Harvester object (a volume backup, a restore, the
//! `volumeClaimTemplates` annotation) is [`PvcSpec`], which keeps fields
//! this version does not know; convert with [`PvcSpec::to_k8s`] and
//! [`PvcSpec::from_k8s`].

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::meta::{EmbeddedObjectMeta, TypedLocalObjectReference};
use crate::{Extra, StringMap, preserving_serde};

pub use k8s_openapi::api::core::v1::{
    Namespace, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeSpec, Secret, TypedLocalObjectReference as K8sTypedLocalObjectReference,
    VolumeResourceRequirements,
};
pub use k8s_openapi::api::storage::v1::StorageClass;
pub use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// A k8s-openapi object kept losslessly: `object` is the typed value; what
/// k8s-openapi's type drops when reading (unknown fields, explicit `null`s)
/// is remembered and written back. Dereferences to the typed value.
#[derive(Clone, Debug, Default)]
pub struct Lossless<T> {
    /// The typed object.
    pub object: T,
    residue: Extra,
}

impl<T> Lossless<T> {
    /// Wraps a typed object (nothing to restore).
    pub fn new(object: T) -> Self {
        Lossless {
            object,
            residue: Extra::default(),
        }
    }

    /// The typed object.
    pub fn into_inner(self) -> T {
        self.object
    }
}

impl<T> From<T> for Lossless<T> {
    fn from(object: T) -> Self {
        Lossless::new(object)
    }
}

impl<T> std::ops::Deref for Lossless<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.object
    }
}

impl<T> std::ops::DerefMut for Lossless<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.object
    }
}

impl<T: PartialEq> PartialEq for Lossless<T> {
    fn eq(&self, other: &Self) -> bool {
        self.object == other.object
    }
}

impl<'de, T: serde::de::DeserializeOwned + Serialize> Deserialize<'de> for Lossless<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let raw = serde_json::Value::deserialize(deserializer)?;
        let mut track = serde_path_to_error::Track::new();
        let object = T::deserialize(serde_path_to_error::Deserializer::new(
            raw.clone(),
            &mut track,
        ))
        .map_err(|err| D::Error::custom(format!("{}: {err}", track.path())))?;
        let typed = serde_json::to_value(&object).map_err(D::Error::custom)?;
        let mut residue = Extra::default();
        residue.remember_residue("", &raw, &typed);
        Ok(Lossless { object, residue })
    }
}

impl<T: Serialize> Serialize for Lossless<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let typed = serde_json::to_value(&self.object).map_err(serde::ser::Error::custom)?;
        let mut holder = serde_json::Map::new();
        holder.insert(String::new(), typed);
        self.residue.restore_into(&mut holder);
        holder
            .remove("")
            .unwrap_or(serde_json::Value::Null)
            .serialize(serializer)
    }
}

impl<T: Serialize> crate::object::ToValue for Lossless<T> {
    fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// k8s-openapi's types serialise straight into a value.
macro_rules! to_value_direct {
    ($($ty:ty),*) => {
        $(impl crate::object::ToValue for $ty {
            fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
                serde_json::to_value(self)
            }
        })*
    };
}

to_value_direct!(
    Namespace,
    PersistentVolume,
    PersistentVolumeClaim,
    Secret,
    StorageClass
);

/// A PVC spec as embedded in Harvester objects. The fields vmbackup reads
/// and writes are typed; everything else is kept in `extra`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct PvcSpec {
    /// Access modes, e.g. `ReadWriteMany`.
    pub access_modes: Option<Vec<String>>,
    /// Requested and limited resources (`storage`).
    pub resources: Option<VolumeResources>,
    /// StorageClass name.
    pub storage_class_name: Option<String>,
    /// `Block` or `Filesystem`.
    pub volume_mode: Option<String>,
    /// The bound PV; for Longhorn this is the Longhorn volume name (`pvc-<uid>`).
    pub volume_name: Option<String>,
    /// Where the volume's data comes from (e.g. a VolumeSnapshot).
    pub data_source: Option<TypedLocalObjectReference>,
    /// Fields not modelled here (`selector`, `dataSourceRef`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(PvcSpec);

/// The schema of an embedded PVC spec is the full Kubernetes one, as in
/// Harvester's CRD.
impl schemars::JsonSchema for PvcSpec {
    fn schema_name() -> Cow<'static, str> {
        <PersistentVolumeClaimSpec as schemars::JsonSchema>::schema_name()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <PersistentVolumeClaimSpec as schemars::JsonSchema>::json_schema(generator)
    }
}

impl PvcSpec {
    /// The requested storage size (`resources.requests.storage`), as written.
    pub fn storage_request(&self) -> Option<&str> {
        self.resources
            .as_ref()?
            .requests
            .as_ref()?
            .get("storage")
            .map(String::as_str)
    }

    /// The same spec as k8s-openapi's type (fields it does not know are dropped).
    pub fn to_k8s(&self) -> Result<PersistentVolumeClaimSpec, serde_json::Error> {
        serde_json::to_value(self).and_then(serde_json::from_value)
    }

    /// A spec from k8s-openapi's type.
    pub fn from_k8s(spec: &PersistentVolumeClaimSpec) -> Result<Self, serde_json::Error> {
        serde_json::to_value(spec).and_then(serde_json::from_value)
    }
}

/// `resources` of an embedded PVC spec: quantities as written (`10Gi`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeResources {
    /// Minimum resources, e.g. `storage: 10Gi`.
    pub requests: Option<StringMap>,
    /// Maximum resources.
    pub limits: Option<StringMap>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeResources);

/// A PVC template: metadata and spec, as in Harvester's
/// `harvesterhci.io/volumeClaimTemplates` VM annotation.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct PvcTemplate {
    /// Name, namespace, labels and annotations of the PVC.
    pub metadata: Option<EmbeddedObjectMeta>,
    /// The PVC spec.
    pub spec: Option<PvcSpec>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(PvcTemplate);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lossless_keeps_what_k8s_openapi_drops() {
        let input = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "p", "creationTimestamp": null, "futureMeta": 1},
            "spec": {"accessModes": ["ReadWriteMany"], "newField": {"x": null}}});
        let pvc: Lossless<PersistentVolumeClaim> = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(pvc.metadata.name.as_deref(), Some("p"));
        assert_eq!(serde_json::to_value(&pvc).unwrap(), input);
        let mut changed = pvc.clone();
        changed.metadata.name = Some("q".into());
        assert_eq!(
            serde_json::to_value(&changed).unwrap()["metadata"]["name"],
            json!("q")
        );
    }

    #[test]
    fn harvester_pvc_spec_round_trips_and_converts() {
        let input = json!({"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
            "volumeName": "pvc-5b1c", "storageClassName": "lh-3f2a", "volumeMode": "Block", "futureField": {"a": 1}});
        let spec: PvcSpec = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(spec.storage_request(), Some("10Gi"));
        assert_eq!(serde_json::to_value(&spec).unwrap(), input);
        let k8s = spec.to_k8s().unwrap();
        assert_eq!(k8s.volume_name.as_deref(), Some("pvc-5b1c"));
        let back = PvcSpec::from_k8s(&k8s).unwrap();
        assert_eq!(back.volume_mode.as_deref(), Some("Block"));
    }
}
