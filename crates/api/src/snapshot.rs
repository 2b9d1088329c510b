//! `snapshot.storage.k8s.io/v1` VolumeSnapshot, VolumeSnapshotContent and
//! VolumeSnapshotClass (the CSI external-snapshotter API). Objects written
//! as `v1beta1` (same shape) are read too and written back as they were.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::meta::{ErrorInfo, ObjectReference};
use crate::{Extra, k8s_object, preserving_serde, wellknown};

/// A request for a snapshot of a PVC, or a binding to an existing content.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct VolumeSnapshot {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Source and class.
    pub spec: VolumeSnapshotSpec,
    /// Binding and readiness.
    pub status: Option<VolumeSnapshotStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
k8s_object!(
    VolumeSnapshot,
    group = "snapshot.storage.k8s.io",
    version = "v1",
    kind = "VolumeSnapshot",
    plural = "volumesnapshots",
    namespaced = true,
    also_reads = ["v1beta1"]
);

impl VolumeSnapshot {
    /// `status.readyToUse == true`.
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().and_then(|s| s.ready_to_use) == Some(true)
    }

    /// The content this snapshot is bound to (status), or pre-bound to (spec).
    pub fn content_name(&self) -> Option<&str> {
        self.status
            .as_ref()
            .and_then(|s| s.bound_volume_snapshot_content_name.as_deref())
            .or(self.spec.source.volume_snapshot_content_name.as_deref())
    }
}

/// `VolumeSnapshot.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSnapshotSpec {
    /// Exactly one of a PVC (dynamic) or a content (pre-provisioned).
    pub source: VolumeSnapshotSource,
    /// Class of the snapshot.
    pub volume_snapshot_class_name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeSnapshotSpec);

/// `VolumeSnapshot.spec.source`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSnapshotSource {
    /// Snapshot this PVC (same namespace).
    pub persistent_volume_claim_name: Option<String>,
    /// Bind to this existing content.
    pub volume_snapshot_content_name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeSnapshotSource);

/// `VolumeSnapshot.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSnapshotStatus {
    /// The bound content.
    pub bound_volume_snapshot_content_name: Option<String>,
    /// When the snapshot was cut (RFC 3339).
    pub creation_time: Option<String>,
    /// Whether the snapshot can be used to restore.
    pub ready_to_use: Option<bool>,
    /// Minimum size of a restored volume (quantity).
    pub restore_size: Option<String>,
    /// Last error.
    pub error: Option<ErrorInfo>,
    /// Group snapshot this belongs to.
    pub volume_group_snapshot_name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeSnapshotStatus);

/// The cluster-scoped record of an actual snapshot, carrying the CSI
/// snapshot handle.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct VolumeSnapshotContent {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Driver, source handle, deletion policy, bound snapshot.
    pub spec: VolumeSnapshotContentSpec,
    /// Handle and readiness reported by the driver.
    pub status: Option<VolumeSnapshotContentStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
k8s_object!(
    VolumeSnapshotContent,
    group = "snapshot.storage.k8s.io",
    version = "v1",
    kind = "VolumeSnapshotContent",
    plural = "volumesnapshotcontents",
    namespaced = false,
    also_reads = ["v1beta1"]
);

impl VolumeSnapshotContent {
    /// The CSI snapshot handle: `spec.source.snapshotHandle` for
    /// pre-provisioned contents, else `status.snapshotHandle`.
    pub fn snapshot_handle(&self) -> Option<&str> {
        self.spec
            .source
            .snapshot_handle
            .as_deref()
            .or_else(|| self.status.as_ref()?.snapshot_handle.as_deref())
    }

    /// Whether the handle is fixed in the spec (pre-provisioned content).
    pub fn is_pre_provisioned(&self) -> bool {
        self.spec.source.snapshot_handle.is_some()
    }

    /// Whether the content belongs to the Longhorn CSI driver.
    pub fn is_longhorn(&self) -> bool {
        self.spec.driver == wellknown::LONGHORN_CSI_DRIVER
    }

    /// Whether deleting it deletes the snapshot (`deletionPolicy: Delete`).
    pub fn deletes_data(&self) -> bool {
        self.spec.deletion_policy == wellknown::DELETION_POLICY_DELETE
    }

    /// `status.readyToUse == true`.
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().and_then(|s| s.ready_to_use) == Some(true)
    }
}

/// `VolumeSnapshotContent.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSnapshotContentSpec {
    /// The VolumeSnapshot this content is bound to.
    pub volume_snapshot_ref: ObjectReference,
    /// `Delete` or `Retain`.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub deletion_policy: String,
    /// CSI driver name.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub driver: String,
    /// Class of the snapshot.
    pub volume_snapshot_class_name: Option<String>,
    /// The volume to snapshot, or the existing snapshot handle.
    pub source: VolumeSnapshotContentSource,
    /// Volume mode of the source volume.
    pub source_volume_mode: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeSnapshotContentSpec);

/// `VolumeSnapshotContent.spec.source`: exactly one field is set.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSnapshotContentSource {
    /// CSI volume handle to snapshot (dynamic provisioning).
    pub volume_handle: Option<String>,
    /// Existing CSI snapshot handle (pre-provisioned), e.g. `bak://<volume>/<backup>`.
    pub snapshot_handle: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeSnapshotContentSource);

/// `VolumeSnapshotContent.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSnapshotContentStatus {
    /// CSI snapshot handle returned by the driver.
    pub snapshot_handle: Option<String>,
    /// When the snapshot was cut, in nanoseconds since the Unix epoch.
    pub creation_time: Option<i64>,
    /// Size in bytes.
    pub restore_size: Option<i64>,
    /// Whether the snapshot can be used to restore.
    pub ready_to_use: Option<bool>,
    /// Last error.
    pub error: Option<ErrorInfo>,
    /// Group snapshot handle.
    pub volume_group_snapshot_handle: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeSnapshotContentStatus);

/// A class of snapshots: driver, parameters and deletion policy (top-level
/// fields, no spec).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSnapshotClass {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// CSI driver name.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub driver: String,
    /// Driver parameters; for Longhorn `type` is `bak` (or absent), `snap` or `bi`.
    pub parameters: Option<BTreeMap<String, String>>,
    /// `Delete` or `Retain`.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub deletion_policy: String,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
k8s_object!(
    VolumeSnapshotClass,
    group = "snapshot.storage.k8s.io",
    version = "v1",
    kind = "VolumeSnapshotClass",
    plural = "volumesnapshotclasses",
    namespaced = false,
    also_reads = ["v1beta1"]
);

impl VolumeSnapshotClass {
    /// The driver parameter `key`.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.as_ref()?.get(key).map(String::as_str)
    }
}
