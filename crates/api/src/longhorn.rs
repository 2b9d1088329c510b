//! `longhorn.io/v1beta2` Backup, BackupVolume, BackupTarget, Volume and
//! Engine: the fields vmbackup uses are typed, the rest kept. All live in
//! `longhorn-system`. Longhorn writes several non-`omitempty` fields as
//! `null` (`syncRequestedAt`, `messages`, ...); they round-trip as `null`.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::{Extra, k8s_object, preserving_serde, wellknown};

/// Declares a Longhorn top-level type with `spec` and optional `status`.
macro_rules! longhorn_object {
    ($(#[$doc:meta])* $name:ident, $spec:ty, $status:ty, kind = $kind:literal, plural = $plural:literal) => {
        $(#[$doc])*
        #[serde_with::skip_serializing_none]
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(remote = "Self")]
        pub struct $name {
            /// Standard object metadata.
            #[serde(default)]
            pub metadata: ObjectMeta,
            /// Desired state.
            pub spec: $spec,
            /// Observed state.
            pub status: Option<$status>,
            /// Fields not modelled here.
            #[serde(flatten)]
            pub extra: Extra,
        }
        k8s_object!($name, group = "longhorn.io", version = "v1beta2", kind = $kind, plural = $plural,
            namespaced = true, also_reads = ["v1beta1"]);
    };
}

longhorn_object!(
    /// A Longhorn backup (short name `lhb`), named `backup-<16 hex>`.
    Backup, BackupSpec, BackupStatus, kind = "Backup", plural = "backups"
);

impl Backup {
    /// `status.volumeName`: the Longhorn volume that was backed up — the
    /// volume part of a correct `bak://` handle.
    pub fn volume_name(&self) -> Option<&str> {
        self.status
            .as_ref()?
            .volume_name
            .as_deref()
            .filter(|v| !v.is_empty())
    }

    /// `status.state`, empty when unset.
    pub fn state(&self) -> &str {
        self.status
            .as_ref()
            .and_then(|s| s.state.as_deref())
            .unwrap_or_default()
    }

    /// Whether `status.state` is `Completed`.
    pub fn is_completed(&self) -> bool {
        self.state() == "Completed"
    }

    /// The `backup-volume` label (the Longhorn volume name).
    pub fn backup_volume_label(&self) -> Option<&str> {
        label(&self.metadata, wellknown::LABEL_LONGHORN_BACKUP_VOLUME)
    }
}

/// `Backup.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupSpec {
    /// Request a re-sync from the target (time; Longhorn writes `null`).
    pub sync_requested_at: Option<String>,
    /// The Longhorn snapshot to back up.
    pub snapshot_name: Option<String>,
    /// Labels stored with the backup.
    pub labels: Option<BTreeMap<String, String>>,
    /// `full` or `incremental`.
    pub backup_mode: Option<String>,
    /// Block size as a decimal string (`"2097152"`, `"16777216"`, `"-1"`).
    pub backup_block_size: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupSpec);

/// `Backup.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupStatus {
    /// Node that owns the backup.
    #[serde(rename = "ownerID")]
    pub owner_id: Option<String>,
    /// `""`, `Pending`, `InProgress`, `Completed`, `Error`, `Unknown`, `Deleting`.
    pub state: Option<String>,
    /// Progress, 0–100.
    pub progress: Option<i64>,
    /// Error text.
    pub error: Option<String>,
    /// Backup URL on the target (`...?backup=<name>&volume=<volume>`).
    pub url: Option<String>,
    /// Longhorn snapshot (`snapshot-<VolumeSnapshot uid>` for CSI backups).
    pub snapshot_name: Option<String>,
    /// When the snapshot was taken.
    pub snapshot_created_at: Option<String>,
    /// When the backup was created.
    pub backup_created_at: Option<String>,
    /// Backup size in bytes (decimal string).
    pub size: Option<String>,
    /// Labels stored with the backup.
    pub labels: Option<BTreeMap<String, String>>,
    /// The Longhorn volume backed up.
    pub volume_name: Option<String>,
    /// Volume size in bytes (decimal string).
    pub volume_size: Option<String>,
    /// When the volume was created.
    pub volume_created: Option<String>,
    /// Backing image of the volume.
    pub volume_backing_image_name: Option<String>,
    /// Last sync with the target.
    pub last_synced_at: Option<String>,
    /// `none`, `lz4` or `gzip`.
    pub compression_method: Option<String>,
    /// The BackupTarget holding the backup.
    pub backup_target_name: Option<String>,
    /// Fields not modelled here (`messages`, `replicaAddress`, data sizes, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupStatus);

longhorn_object!(
    /// A volume folder on a backup target (short name `lhbv`). Its name is
    /// not the volume name since Longhorn 1.8: use `spec.volumeName`.
    BackupVolume, BackupVolumeSpec, BackupVolumeStatus, kind = "BackupVolume", plural = "backupvolumes"
);

impl BackupVolume {
    /// The Longhorn volume: `spec.volumeName`, falling back to the
    /// `backup-volume` label (never the object name).
    pub fn volume_name(&self) -> Option<&str> {
        self.spec
            .volume_name
            .as_deref()
            .filter(|v| !v.is_empty())
            .or_else(|| label(&self.metadata, wellknown::LABEL_LONGHORN_BACKUP_VOLUME))
    }
}

/// `BackupVolume.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupVolumeSpec {
    /// The BackupTarget holding the volume.
    pub backup_target_name: Option<String>,
    /// Request a re-sync.
    pub sync_requested_at: Option<String>,
    /// The Longhorn volume name.
    pub volume_name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupVolumeSpec);

/// `BackupVolume.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupVolumeStatus {
    /// Node that owns the object.
    #[serde(rename = "ownerID")]
    pub owner_id: Option<String>,
    /// Volume size (decimal string).
    pub size: Option<String>,
    /// Labels stored with the volume.
    pub labels: Option<BTreeMap<String, String>>,
    /// When the volume folder was created.
    pub created_at: Option<String>,
    /// Newest backup.
    pub last_backup_name: Option<String>,
    /// Time of the newest backup.
    pub last_backup_at: Option<String>,
    /// Bytes stored (decimal string).
    pub data_stored: Option<String>,
    /// Backing image of the volume.
    pub backing_image_name: Option<String>,
    /// StorageClass of the volume.
    pub storage_class_name: Option<String>,
    /// Last sync with the target.
    pub last_synced_at: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupVolumeStatus);

longhorn_object!(
    /// Where Longhorn stores backups (short name `lhbt`); the default one is
    /// named `default`.
    BackupTarget, BackupTargetSpec, BackupTargetStatus, kind = "BackupTarget", plural = "backuptargets"
);

impl BackupTarget {
    /// `status.available == true`.
    pub fn is_available(&self) -> bool {
        self.status.as_ref().and_then(|s| s.available) == Some(true)
    }
}

/// `BackupTarget.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupTargetSpec {
    /// `s3://bucket@region/path`, `nfs://host:/path`, ...
    #[serde(rename = "backupTargetURL")]
    pub backup_target_url: Option<String>,
    /// Secret with the credentials.
    pub credential_secret: Option<String>,
    /// Poll interval (Go duration, e.g. `5m0s`).
    pub poll_interval: Option<String>,
    /// Request a re-sync.
    pub sync_requested_at: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupTargetSpec);

/// `BackupTarget.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupTargetStatus {
    /// Node that owns the object.
    #[serde(rename = "ownerID")]
    pub owner_id: Option<String>,
    /// Whether the target can be reached.
    pub available: Option<bool>,
    /// Conditions (`Unavailable`).
    pub conditions: Option<Vec<LonghornCondition>>,
    /// Last sync.
    pub last_synced_at: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupTargetStatus);

/// A Longhorn condition.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct LonghornCondition {
    /// Condition type.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
    /// Last probe.
    pub last_probe_time: Option<String>,
    /// Last transition.
    pub last_transition_time: Option<String>,
    /// Machine-readable reason.
    pub reason: Option<String>,
    /// Human-readable message.
    pub message: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(LonghornCondition);

longhorn_object!(
    /// A Longhorn volume, named after its PV (`pvc-<PVC uid>`).
    Volume, VolumeSpec, VolumeStatus, kind = "Volume", plural = "volumes"
);

impl Volume {
    /// The `Restore` condition, if present.
    pub fn restore_condition(&self) -> Option<&LonghornCondition> {
        self.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_.as_deref() == Some(wellknown::LONGHORN_CONDITION_RESTORE))
    }

    /// Whether the restore into this volume failed (`Restore` condition with
    /// reason `RestoreFailure`).
    pub fn restore_failed(&self) -> bool {
        self.restore_condition().is_some_and(|c| {
            c.reason.as_deref() == Some(wellknown::LONGHORN_REASON_RESTORE_FAILURE)
        })
    }
}

/// `Volume.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeSpec {
    /// Size in bytes (decimal string).
    pub size: Option<String>,
    /// Backup URL the volume is restored from.
    pub from_backup: Option<String>,
    /// `v1` or `v2`.
    pub data_engine: Option<String>,
    /// The BackupTarget its backups go to.
    pub backup_target_name: Option<String>,
    /// Number of replicas.
    pub number_of_replicas: Option<i64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeSpec);

/// `Volume.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VolumeStatus {
    /// `creating`, `attached`, `detached`, ...
    pub state: Option<String>,
    /// `healthy`, `degraded`, `faulted`, ...
    pub robustness: Option<String>,
    /// Conditions (`Restore`, `Scheduled`, ...).
    pub conditions: Option<Vec<LonghornCondition>>,
    /// Whether the volume still has to be restored from a backup.
    pub restore_required: Option<bool>,
    /// Whether the restore has started.
    pub restore_initiated: Option<bool>,
    /// Last backup of the volume.
    pub last_backup: Option<String>,
    /// Time of the last backup.
    pub last_backup_at: Option<String>,
    /// The PV/PVC/workloads using the volume.
    pub kubernetes_status: Option<KubernetesStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VolumeStatus);

/// `Volume.status.kubernetesStatus`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct KubernetesStatus {
    /// PV name.
    pub pv_name: Option<String>,
    /// PV phase.
    pub pv_status: Option<String>,
    /// PVC namespace.
    pub namespace: Option<String>,
    /// PVC name.
    pub pvc_name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(KubernetesStatus);

longhorn_object!(
    /// A Longhorn engine (one per volume attachment); reports restore progress.
    Engine, EngineSpec, EngineStatus, kind = "Engine", plural = "engines"
);

/// `Engine.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct EngineSpec {
    /// The volume this engine serves.
    pub volume_name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(EngineSpec);

/// `Engine.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct EngineStatus {
    /// Restore status by replica address (Longhorn may write `null` entries).
    pub restore_status: Option<BTreeMap<String, Option<RestoreStatus>>>,
    /// Last backup fully restored.
    pub last_restored_backup: Option<String>,
    /// Fields not modelled here (`snapshots`, `replicaModeMap`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(EngineStatus);

impl EngineStatus {
    /// Harvester's restore progress of one volume: with no restore status,
    /// 100 if a backup was restored else 0; otherwise the average over
    /// replicas of 100 (not restoring) or their progress. `null` entries
    /// are not counted.
    pub fn restore_progress(&self) -> i64 {
        let replicas: Vec<&RestoreStatus> = self
            .restore_status
            .iter()
            .flat_map(|m| m.values())
            .flatten()
            .collect();
        match Some(replicas).filter(|r| !r.is_empty()) {
            None => {
                if self
                    .last_restored_backup
                    .as_deref()
                    .is_some_and(|b| !b.is_empty())
                {
                    100
                } else {
                    0
                }
            }
            Some(replicas) => {
                let total: i64 = replicas
                    .iter()
                    .map(|r| {
                        if r.is_restoring == Some(true) {
                            r.progress.unwrap_or(0)
                        } else {
                            100
                        }
                    })
                    .sum();
                let count = i64::try_from(replicas.len()).unwrap_or(i64::MAX);
                total / count
            }
        }
    }
}

/// Restore status of one replica.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct RestoreStatus {
    /// Whether a restore is running.
    pub is_restoring: Option<bool>,
    /// Last backup restored.
    pub last_restored: Option<String>,
    /// Backup being restored.
    pub current_restoring_backup: Option<String>,
    /// Progress, 0–100.
    pub progress: Option<i64>,
    /// Error text.
    pub error: Option<String>,
    /// File being restored.
    pub filename: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(RestoreStatus);

fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backup_keeps_go_nulls() {
        let input = json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
            "metadata": {"name": "backup-70d260245e9e415a", "namespace": "longhorn-system",
                "labels": {"backup-volume": "pvc-1", "backup-target": "default"}},
            "spec": {"labels": null, "snapshotName": "snapshot-1", "syncRequestedAt": null},
            "status": {"state": "Completed", "volumeName": "pvc-1", "messages": null, "lastSyncedAt": null,
                "newlyUploadDataSize": "0", "progress": 100}});
        let backup: Backup = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(backup.volume_name(), Some("pvc-1"));
        assert!(backup.is_completed());
        assert_eq!(backup.backup_volume_label(), Some("pvc-1"));
        assert_eq!(serde_json::to_value(&backup).unwrap(), input);
    }

    #[test]
    fn backup_volume_name_comes_from_spec_not_object_name() {
        let bv: BackupVolume =
            serde_json::from_value(json!({"metadata": {"name": "pvc-1-0fbc591a"},
            "spec": {"volumeName": "pvc-1", "backupTargetName": "default"}}))
            .unwrap();
        assert_eq!(bv.volume_name(), Some("pvc-1"));
    }

    #[test]
    fn engine_restore_progress_follows_harvester() {
        let mut status = EngineStatus::default();
        assert_eq!(status.restore_progress(), 0);
        status.last_restored_backup = Some("backup-1".into());
        assert_eq!(status.restore_progress(), 100);
        let replicas = BTreeMap::from([
            (
                "a".to_owned(),
                Some(RestoreStatus {
                    is_restoring: Some(true),
                    progress: Some(40),
                    ..Default::default()
                }),
            ),
            (
                "b".to_owned(),
                Some(RestoreStatus {
                    is_restoring: Some(false),
                    ..Default::default()
                }),
            ),
            ("c".to_owned(), None),
        ]);
        status.restore_status = Some(replicas);
        assert_eq!(status.restore_progress(), 70);
    }

    #[test]
    fn wrong_kind_is_rejected() {
        let err = serde_json::from_value::<Backup>(
            json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume", "spec": {}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("kind"), "{err}");
    }
}
