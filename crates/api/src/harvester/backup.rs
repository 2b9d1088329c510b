//! `VirtualMachineBackup`: a VM backup (or VM snapshot) with Harvester's
//! schema. The JSON keys are Harvester's, e.g. the backed-up VM lives under
//! `status.source`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::condition::{self, Condition};
use crate::core::PvcSpec;
use crate::kubevirt::VirtualMachineSpec;
use crate::meta::{EmbeddedObjectMeta, ErrorInfo, TypedLocalObjectReference};
use crate::{Extra, StringMap, k8s_object, preserving_serde, wellknown};

/// A Harvester VM backup (`harvesterhci.io/v1beta1`, short names
/// `vmbackup`, `vmbackups`). Backups and VM snapshots share this kind and
/// differ in `spec.type`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
pub struct VirtualMachineBackup {
    /// Standard object metadata.
    #[serde(default)]
    #[schemars(skip)]
    pub metadata: ObjectMeta,
    /// What to back up.
    pub spec: VirtualMachineBackupSpec,
    /// What was backed up and how far it got.
    pub status: Option<VirtualMachineBackupStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
k8s_object!(
    VirtualMachineBackup,
    group = "harvesterhci.io",
    version = "v1beta1",
    kind = "VirtualMachineBackup",
    plural = "virtualmachinebackups",
    namespaced = true
);

impl VirtualMachineBackup {
    /// A backup named `name` in `namespace` of the VM `vm` (same namespace).
    pub fn new(
        name: impl Into<String>,
        namespace: impl Into<String>,
        vm: impl Into<String>,
        type_: BackupType,
    ) -> Self {
        VirtualMachineBackup {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(namespace.into()),
                ..ObjectMeta::default()
            },
            spec: VirtualMachineBackupSpec {
                source: TypedLocalObjectReference::virtual_machine(vm),
                type_: Some(type_),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// `spec.type`, defaulting to `backup` as the CRD does.
    pub fn backup_type(&self) -> BackupType {
        self.spec.type_.unwrap_or_default()
    }

    /// `status.readyToUse == true`.
    pub fn is_ready(&self) -> bool {
        self.status.as_ref().and_then(|s| s.ready_to_use) == Some(true)
    }

    /// The volume backups, or none.
    pub fn volume_backups(&self) -> &[VolumeBackup] {
        self.status
            .as_ref()
            .and_then(|s| s.volume_backups.as_deref())
            .unwrap_or_default()
    }

    /// The condition of type `type_`, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        condition::find(self.status.as_ref()?.conditions.as_deref(), type_)
    }
}

/// `VirtualMachineBackup.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineBackupSpec {
    /// The VM to back up (kind `VirtualMachine`, API group `kubevirt.io`, same namespace).
    pub source: TypedLocalObjectReference,
    /// `backup` (to the backup target) or `snapshot` (in-cluster); default `backup`.
    #[serde(rename = "type")]
    #[schemars(extend(
        "default" = "backup",
        "x-kubernetes-validations" = [{"message": "spec.type is immutable", "rule": "self == oldSelf"}]
    ))]
    pub type_: Option<BackupType>,
    /// How long the guest filesystem may stay frozen (Go duration, e.g. `1s`).
    pub fs_freeze_deadline: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineBackupSpec);

/// `spec.type` of a VM backup.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    /// Snapshot plus backup to the backup target.
    #[default]
    Backup,
    /// In-cluster snapshot only.
    Snapshot,
}

impl BackupType {
    /// `backup` or `snapshot`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Backup => "backup",
            BackupType::Snapshot => "snapshot",
        }
    }
}

/// `VirtualMachineBackup.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineBackupStatus {
    /// UID of the source VM at backup time (absent on rediscovered backups).
    #[serde(rename = "sourceUID")]
    pub source_uid: Option<String>,
    /// When the backup became ready (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub creation_time: Option<String>,
    /// The backup target at creation time (backups only).
    pub backup_target: Option<BackupTargetRef>,
    /// CSI driver name → VolumeSnapshotClass name used.
    pub csi_driver_volume_snapshot_class_names: Option<StringMap>,
    /// The VM as it was: metadata subset and full spec.
    pub source: Option<VirtualMachineSourceSpec>,
    /// One entry per backed-up PVC volume.
    pub volume_backups: Option<Vec<VolumeBackup>>,
    /// Secrets the VM references, with their data.
    pub secret_backups: Option<Vec<SecretBackup>>,
    /// Progress, 0–100.
    pub progress: Option<i64>,
    /// Whether the backup is complete and usable.
    pub ready_to_use: Option<bool>,
    /// The last error.
    pub error: Option<ErrorInfo>,
    /// `Ready`, `InProgress`, `MetadataReady`.
    pub conditions: Option<Vec<Condition>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineBackupStatus);

/// Where a backup was stored: `{endpoint, bucketName, bucketRegion}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupTargetRef {
    /// NFS URL or S3 endpoint.
    pub endpoint: Option<String>,
    /// S3 bucket.
    pub bucket_name: Option<String>,
    /// S3 region.
    pub bucket_region: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupTargetRef);

impl BackupTargetRef {
    /// Harvester's "same target" test: endpoint, bucket name and region
    /// equal (absent and empty are the same).
    pub fn same_target(&self, other: &BackupTargetRef) -> bool {
        fn s(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or_default()
        }
        s(&self.endpoint) == s(&other.endpoint)
            && s(&self.bucket_name) == s(&other.bucket_name)
            && s(&self.bucket_region) == s(&other.bucket_region)
    }
}

/// The VM copy inside a backup (`status.source`): `metadata` holds the VM's
/// name, namespace, labels and annotations; `spec` the whole VM spec.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineSourceSpec {
    /// VM metadata subset.
    pub metadata: Option<EmbeddedObjectMeta>,
    /// The full KubeVirt VirtualMachine spec.
    pub spec: Option<VirtualMachineSpec>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineSourceSpec);

/// One backed-up volume (`status.volumeBackups[]`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(extend("required" = ["volumeName", "csiDriverName", "persistentVolumeClaim"]))]
pub struct VolumeBackup {
    /// Also the VolumeSnapshot name: `<backup>-volume-<pvc>` (maybe with `-snap-revise`).
    pub name: Option<String>,
    /// The KubeVirt volume name in the VM spec (e.g. `disk-0`), not the Longhorn volume.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub volume_name: String,
    /// CSI driver of the PV.
    #[schemars(extend("default" = "driver.longhorn.io"))]
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub csi_driver_name: String,
    /// Copied from the VolumeSnapshot (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub creation_time: Option<String>,
    /// The PVC at backup time; `spec.volumeName` is the Longhorn volume.
    pub persistent_volume_claim: PersistentVolumeClaimSourceSpec,
    /// Longhorn Backup CR name (`backup-<16 hex>`).
    pub longhorn_backup_name: Option<String>,
    /// Size in bytes (from the PV capacity).
    pub volume_size: Option<i64>,
    /// Progress, 0–100.
    pub progress: Option<i64>,
    /// Copied from the VolumeSnapshot.
    pub ready_to_use: Option<bool>,
    /// Copied from the VolumeSnapshot.
    pub error: Option<ErrorInfo>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeBackup);

impl VolumeBackup {
    /// The PVC name at backup time.
    pub fn pvc_name(&self) -> Option<&str> {
        self.persistent_volume_claim
            .metadata
            .as_ref()?
            .name
            .as_deref()
    }

    /// The PV (Longhorn volume) name at backup time.
    pub fn pv_name(&self) -> Option<&str> {
        self.persistent_volume_claim
            .spec
            .as_ref()?
            .volume_name
            .as_deref()
    }

    /// Whether the volume is on Longhorn.
    pub fn is_longhorn(&self) -> bool {
        self.csi_driver_name == wellknown::LONGHORN_CSI_DRIVER
    }
}

/// `{metadata, spec}` of a PVC as Harvester embeds it.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct PersistentVolumeClaimSourceSpec {
    /// PVC name, namespace, labels, annotations.
    pub metadata: Option<EmbeddedObjectMeta>,
    /// The full PVC spec.
    pub spec: Option<PvcSpec>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(PersistentVolumeClaimSourceSpec);

/// A backed-up Secret (`status.secretBackups[]`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(extend("required" = ["name"]))]
pub struct SecretBackup {
    /// Secret name.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub name: String,
    /// Secret data, base64 as in a Secret's `data`.
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::byte_map")]
    pub data: Option<BTreeMap<String, String>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(SecretBackup);
