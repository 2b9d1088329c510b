//! Harvester's VM backup metadata file (`harvester/vmbackups/<ns>/<name>.cfg`):
//! what is written to the target when a backup is ready, and what
//! rediscovery reads back.

use serde::{Deserialize, Serialize};
use vmbackup_api::VirtualMachineBackup;
use vmbackup_api::harvester::{SecretBackup, VirtualMachineSourceSpec};
use vmbackup_api::{VirtualMachineBackupSpec, VolumeBackup};

/// The decoded metadata file of one VM backup. Keys are Harvester's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmBackupMetadata {
    /// VMBackup name.
    pub name: String,
    /// VMBackup namespace (`default` when empty).
    #[serde(default)]
    pub namespace: String,
    /// The VMBackup's `spec`.
    pub backup_spec: VirtualMachineBackupSpec,
    /// The VMBackup's `status.source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_source_spec: Option<VirtualMachineSourceSpec>,
    /// The VMBackup's `status.volumeBackups`, without `readyToUse`,
    /// `creationTime` and `error`.
    #[serde(default)]
    pub volume_backups: Vec<VolumeBackup>,
    /// The VMBackup's `status.secretBackups`.
    #[serde(default)]
    pub secret_backups: Vec<SecretBackup>,
}

impl VmBackupMetadata {
    /// The metadata Harvester writes for `vmb`.
    pub fn of(vmb: &VirtualMachineBackup) -> Self {
        let status = vmb.status.as_ref();
        let volume_backups = vmb
            .volume_backups()
            .iter()
            .cloned()
            .map(|mut vb| {
                vb.ready_to_use = None;
                vb.creation_time = None;
                vb.error = None;
                vb
            })
            .collect();
        VmBackupMetadata {
            name: vmb.metadata.name.clone().unwrap_or_default(),
            namespace: vmb
                .metadata
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into()),
            backup_spec: vmb.spec.clone(),
            vm_source_spec: status.and_then(|s| s.source.clone()),
            volume_backups,
            secret_backups: status
                .and_then(|s| s.secret_backups.clone())
                .unwrap_or_default(),
        }
    }

    /// The namespace, `default` when the file leaves it empty.
    pub fn namespace_or_default(&self) -> &str {
        if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }

    /// The file contents, as JSON.
    pub fn to_json(&self) -> String {
        // Plain data: serialising to a string cannot fail.
        let mut json = serde_json::to_string(self).unwrap_or_default();
        // Plans hold one document per backup to write: no spare capacity.
        json.shrink_to_fit();
        json
    }

    /// Whether two documents describe the same backup (what Harvester
    /// compares before rewriting a file).
    pub fn same_content(&self, other: &VmBackupMetadata) -> bool {
        self == other
    }
}
