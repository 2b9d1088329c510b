//! `VirtualMachineRestore`: restore a VM backup into a new or an existing
//! VM, with Harvester's schema (note the status key `restores` and the
//! per-volume key `persistentVolumeClaimSpec`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::backup::PersistentVolumeClaimSourceSpec;
use super::condition::{self, Condition};
use crate::meta::TypedLocalObjectReference;
use crate::{Extra, k8s_object, preserving_serde, wellknown};

/// A Harvester VM restore (`harvesterhci.io/v1beta1`, short names
/// `vmrestore`, `vmrestores`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self")]
pub struct VirtualMachineRestore {
    /// Standard object metadata.
    #[serde(default)]
    #[schemars(skip)]
    pub metadata: ObjectMeta,
    /// What to restore where (immutable).
    pub spec: VirtualMachineRestoreSpec,
    /// Progress of the restore.
    pub status: Option<VirtualMachineRestoreStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
k8s_object!(
    VirtualMachineRestore,
    group = "harvesterhci.io",
    version = "v1beta1",
    kind = "VirtualMachineRestore",
    plural = "virtualmachinerestores",
    namespaced = true
);

impl VirtualMachineRestore {
    /// Whether the VM backup lives in another namespace than the restore.
    pub fn is_cross_namespace(&self) -> bool {
        self.metadata.namespace.as_deref().unwrap_or("default")
            != self.spec.virtual_machine_backup_namespace
    }

    /// `status.complete == true`.
    pub fn is_complete(&self) -> bool {
        self.status.as_ref().and_then(|s| s.complete) == Some(true)
    }

    /// Harvester's "failed": not complete and an `InProgress` condition with
    /// status `False` and reason `Error`.
    pub fn is_failed(&self) -> bool {
        !self.is_complete()
            && self
                .condition(wellknown::CONDITION_IN_PROGRESS)
                .is_some_and(|c| c.status == "False" && c.reason.as_deref() == Some("Error"))
    }

    /// The condition of type `type_`, if present.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        condition::find(self.status.as_ref()?.conditions.as_deref(), type_)
    }
}

/// `VirtualMachineRestore.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
#[schemars(extend("required" = ["target", "virtualMachineBackupName", "virtualMachineBackupNamespace"]))]
pub struct VirtualMachineRestoreSpec {
    /// The VM to create or replace, in the restore's namespace.
    pub target: TypedLocalObjectReference,
    /// Name of the VM backup.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub virtual_machine_backup_name: String,
    /// Namespace of the VM backup (may differ from the restore's).
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub virtual_machine_backup_namespace: String,
    /// Create a new VM (`true`) or replace the target (`false`).
    #[serde(rename = "newVM")]
    pub new_vm: Option<bool>,
    /// `retain` keeps a replaced VM's old PVCs; anything else deletes them.
    pub deletion_policy: Option<String>,
    /// Keep the MAC addresses (new VM only).
    pub keep_mac_address: Option<bool>,
    /// Leave the VM stopped after the restore.
    pub halt_after_restore: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineRestoreSpec);

/// `VirtualMachineRestore.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineRestoreStatus {
    /// One entry per restored volume (key `restores`).
    #[serde(rename = "restores")]
    pub restores: Option<Vec<VolumeRestore>>,
    /// When the restore completed (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub restore_time: Option<String>,
    /// PVCs to delete at the end (replace with a non-retain policy).
    pub deleted_volumes: Option<Vec<String>>,
    /// `false` once initialised, `true` when done.
    pub complete: Option<bool>,
    /// `Ready`, `InProgress`.
    pub conditions: Option<Vec<Condition>>,
    /// UID of the target VM.
    #[serde(rename = "targetUID")]
    pub target_uid: Option<String>,
    /// Progress, 0–100.
    pub progress: Option<i64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineRestoreStatus);

/// One restored volume (`status.restores[]`).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeRestore {
    /// KubeVirt volume name.
    pub volume_name: Option<String>,
    /// The new PVC: `{metadata: {name, namespace}, spec}`.
    pub persistent_volume_claim_spec: Option<PersistentVolumeClaimSourceSpec>,
    /// The volume backup restored from (its `name`).
    pub volume_backup_name: Option<String>,
    /// Longhorn Engine doing the restore.
    pub longhorn_engine_name: Option<String>,
    /// Progress, 0–100.
    pub progress: Option<i64>,
    /// Size in bytes.
    pub volume_size: Option<i64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeRestore);
