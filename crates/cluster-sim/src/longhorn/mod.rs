//! Longhorn: volumes whose data are sparse files in a data directory, its
//! CSI driver (volumes, backup and snapshot handles, exactly as Longhorn
//! reads them), the backup controller that writes real backups to the
//! target through the `backupstore` crate, the backup target controller that
//! rebuilds Backup and BackupVolume objects by polling the target, and the
//! volume controller that restores volumes from backups.
//!
//! Two behaviours are modelled: [`LonghornVersion::V1_7`] (before 1.8: a
//! backup handle's volume part is ignored, BackupVolumes are named after
//! the volume) and [`LonghornVersion::V1_8`] (1.8.1 and later: the volume
//! part must match a BackupVolume's `spec.volumeName`, and an unresolvable
//! handle fails with NotFound and the driver's own message).

mod backups;
pub mod csi;
pub mod names;
mod target_sync;
mod volumes;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;
use vmbackup_api::longhorn::BackupTarget;
use vmbackup_api::wellknown;

use crate::env::Env;
use crate::error::SimError;
use crate::ids::Ids;
use crate::target::TargetServer;

pub use csi::{CreatedSnapshot, CreatedVolume, CsiCode, CsiError};

/// Namespace of every Longhorn object.
pub const NAMESPACE: &str = wellknown::LONGHORN_NAMESPACE;
/// Name of the default BackupTarget.
pub const TARGET: &str = wellknown::LONGHORN_DEFAULT_BACKUP_TARGET;
/// Component name in events and logs.
pub const CSI_PLUGIN: &str = "longhorn-csi-plugin";
/// Component name of the manager's controllers.
pub const MANAGER: &str = "longhorn-manager";
/// Longhorn rounds volume sizes up to a multiple of this.
pub const SIZE_ALIGNMENT: i64 = 2 << 20;

/// Which Longhorn behaviour the cluster has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LonghornVersion {
    /// Before 1.8 (1.7.x): CSI finds a backup by name alone.
    V1_7,
    /// 1.8.1 and later: CSI finds backup volumes by `spec.volumeName`.
    V1_8,
}

impl LonghornVersion {
    /// A release of that behaviour, for display.
    pub fn release(self) -> &'static str {
        match self {
            LonghornVersion::V1_7 => "v1.7.3",
            LonghornVersion::V1_8 => "v1.8.1",
        }
    }
}

/// The Longhorn installation of one cluster.
#[derive(Debug)]
pub struct Longhorn {
    version: LonghornVersion,
    data_dir: PathBuf,
    ids: Ids,
    last_target_attempt: Option<DateTime<Utc>>,
    last_synced_url: Option<String>,
}

impl Longhorn {
    /// Longhorn keeping its volume data under `data_dir`.
    pub fn new(version: LonghornVersion, data_dir: &Path, seed: &str) -> Result<Self, SimError> {
        for sub in ["volumes", "snapshots"] {
            let dir = data_dir.join(sub);
            std::fs::create_dir_all(&dir).map_err(|e| SimError::io(dir, e))?;
        }
        Ok(Longhorn {
            version,
            data_dir: data_dir.to_owned(),
            ids: Ids::new(format!("{seed}/longhorn")),
            last_target_attempt: None,
            last_synced_url: None,
        })
    }

    /// A copy of this installation whose data lives under `data_dir`.
    pub fn fork(&self, data_dir: &Path) -> Result<Self, SimError> {
        crate::fsutil::copy_tree(&self.data_dir, data_dir)?;
        Ok(Longhorn {
            version: self.version,
            data_dir: data_dir.to_owned(),
            ids: self.ids.clone(),
            last_target_attempt: self.last_target_attempt,
            last_synced_url: self.last_synced_url.clone(),
        })
    }

    /// The behaviour in effect.
    pub fn version(&self) -> LonghornVersion {
        self.version
    }

    /// The data file of volume `name`.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        self.data_dir.join("volumes").join(format!("{name}.img"))
    }

    /// The data file of snapshot `snapshot` of volume `volume`.
    pub fn snapshot_path(&self, volume: &str, snapshot: &str) -> PathBuf {
        self.data_dir
            .join("snapshots")
            .join(volume)
            .join(format!("{snapshot}.img"))
    }

    /// Upgrades (or downgrades) Longhorn. Going to 1.8 gives existing
    /// BackupVolumes the `spec.volumeName`, target and labels 1.8 reads;
    /// their names stay as they were.
    pub fn set_version(&mut self, env: &mut Env, version: LonghornVersion) -> Result<(), SimError> {
        self.version = version;
        if version == LonghornVersion::V1_8 {
            target_sync::upgrade_backup_volumes(env)?;
        }
        Ok(())
    }

    /// One pass of every Longhorn controller.
    pub fn tick(&mut self, env: &mut Env) -> Result<(), SimError> {
        target_sync::run(self, env)?;
        backups::run(self, env)?;
        volumes::run(self, env)?;
        Ok(())
    }
}

/// The default BackupTarget, if present.
pub fn backup_target(env: &Env) -> Option<BackupTarget> {
    env.store.get_as::<BackupTarget>(NAMESPACE, TARGET).cloned()
}

/// The target server the default BackupTarget points at, or why it cannot
/// be used.
pub fn reachable_target<'a>(env: &Env<'a>) -> Result<&'a TargetServer, String> {
    let url = backup_target(env)
        .and_then(|t| t.spec.backup_target_url)
        .unwrap_or_default();
    if url.is_empty() {
        return Err("backup target default has no URL".into());
    }
    let Some(server) = env.target_at(&url) else {
        return Err(format!("cannot reach backup target {url}: no such server"));
    };
    if !server.is_available() {
        return Err(format!(
            "cannot reach backup target {url}: connection timed out (the NFS server does not answer)"
        ));
    }
    Ok(server)
}

/// `size` rounded up as Longhorn rounds volume sizes.
pub fn round_size(size: i64) -> i64 {
    (size.max(0) + SIZE_ALIGNMENT - 1) / SIZE_ALIGNMENT * SIZE_ALIGNMENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_to_two_mebibytes() {
        assert_eq!(round_size(1), SIZE_ALIGNMENT);
        assert_eq!(round_size(SIZE_ALIGNMENT), SIZE_ALIGNMENT);
        assert_eq!(round_size(SIZE_ALIGNMENT + 1), 2 * SIZE_ALIGNMENT);
    }
}
