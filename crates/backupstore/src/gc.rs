//! Deleting backups and collecting blocks no backup uses. Nothing here runs
//! unless called explicitly.
//!
//! Collection follows Longhorn's rules and is stricter where Longhorn is
//! risky: it holds a deletion lock, refuses while any backup is in progress
//! or unreadable, and aborts on any listing error (an empty listing of
//! `backups/` must never make every block look unused).

use crate::config::VolumeConfig;
use crate::error::{Error, Result};
use crate::layout;
use crate::lock::LockKind;
use crate::name::Checksum;
use crate::target::Target;
use chrono::DateTime;
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeSet, HashMap};

/// Deletions kept in flight.
const DELETE_CONCURRENCY: usize = 8;

/// Result of block collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcOutcome {
    /// Unused blocks were deleted.
    Collected {
        /// Block files deleted.
        blocks_deleted: u64,
        /// Block files still used.
        blocks_kept: u64,
    },
    /// Collection was not safe and did not run.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Result of [`Target::delete_backup`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteSummary {
    /// The deleted backup.
    pub backup: String,
    /// `volume.cfg`'s `LastBackupName` afterwards.
    pub last_backup: String,
    /// What happened to the blocks.
    pub gc: GcOutcome,
}

struct Scan {
    referenced: HashMap<Checksum, u64>,
    names: BTreeSet<String>,
    latest: Option<(DateTime<chrono::FixedOffset>, String, String)>,
}

impl Target {
    /// Deletes one backup (complete or in progress) and then collects the
    /// blocks no remaining backup uses, when that is safe. If the deleted
    /// backup was the volume's last one, `volume.cfg` points to the newest
    /// remaining backup afterwards.
    pub async fn delete_backup(&self, volume: &str, backup: &str) -> Result<DeleteSummary> {
        let cfg_path = layout::backup_cfg(volume, backup)?;
        let lock = self.lock(volume, LockKind::Deletion).await?;
        let result = self.delete_locked(volume, backup, &cfg_path).await;
        lock.release().await?;
        result
    }

    /// Deletes the blocks of a volume that no backup uses. Refused with
    /// [`Error::GcRefused`] while a backup is in progress or unreadable.
    pub async fn collect_garbage(&self, volume: &str) -> Result<GcOutcome> {
        layout::volume_dir(volume)?;
        let lock = self.lock(volume, LockKind::Deletion).await?;
        let result = async {
            let mut vol = self.volume_config(volume).await?;
            match self.scan_backups(volume).await? {
                Err(reason) => Err(Error::GcRefused {
                    volume: volume.to_owned(),
                    reason,
                }),
                Ok(scan) => self.sweep(volume, &mut vol, &scan).await,
            }
        }
        .await;
        lock.release().await?;
        result
    }

    async fn delete_locked(
        &self,
        volume: &str,
        backup: &str,
        cfg_path: &str,
    ) -> Result<DeleteSummary> {
        // Read volume.cfg before changing anything: if it is damaged, stop here.
        let mut vol = self.volume_config(volume).await?;
        if self.head(cfg_path).await?.is_none() {
            return Err(Error::NotFound {
                path: cfg_path.to_owned(),
            });
        }
        self.delete(cfg_path).await?;
        let recompute = vol.last_backup_name == backup;
        if recompute {
            vol.last_backup_name.clear();
            vol.last_backup_at.clear();
        }
        let vol_path = layout::volume_cfg(volume)?;
        let scan = self.scan_backups(volume).await?;
        let gc = match scan {
            Err(reason) => {
                if recompute {
                    self.put(&vol_path, vol.to_json()).await?;
                }
                GcOutcome::Skipped { reason }
            }
            Ok(scan) => {
                if recompute && let Some((_, name, at)) = &scan.latest {
                    vol.last_backup_name.clone_from(name);
                    vol.last_backup_at.clone_from(at);
                }
                if recompute {
                    self.put(&vol_path, vol.to_json()).await?;
                }
                self.sweep(volume, &mut vol, &scan).await?
            }
        };
        Ok(DeleteSummary {
            backup: backup.to_owned(),
            last_backup: vol.last_backup_name,
            gc,
        })
    }

    /// Reads every backup config; `Ok(Err(reason))` when collection must not run.
    async fn scan_backups(&self, volume: &str) -> Result<std::result::Result<Scan, String>> {
        let list = self.list_backups(volume).await?;
        if let Some(bad) = list.ignored.first() {
            return Ok(Err(format!("{} has an unusable name", bad.path)));
        }
        let mut scan = Scan {
            referenced: HashMap::new(),
            names: list.backups.iter().cloned().collect(),
            latest: None,
        };
        for name in &list.backups {
            let path = layout::backup_cfg(volume, name)?;
            let cfg = match self.backup_config_checked(volume, name, None).await {
                Ok(c) => c,
                Err(e) => return Ok(Err(format!("backup {name} cannot be read: {e}"))),
            };
            if !cfg.is_complete() {
                return Ok(Err(format!("backup {name} is in progress ({path})")));
            }
            for b in &cfg.blocks {
                *scan.referenced.entry(b.checksum).or_default() += 1;
            }
            let Ok(at) = DateTime::parse_from_rfc3339(&cfg.snapshot_created_at) else {
                return Ok(Err(format!(
                    "{path}: SnapshotCreatedAt {:?} is not an RFC 3339 time",
                    cfg.snapshot_created_at
                )));
            };
            if scan.latest.as_ref().is_none_or(|(t, _, _)| at > *t) {
                scan.latest = Some((at, name.clone(), cfg.snapshot_created_at.clone()));
            }
        }
        Ok(Ok(scan))
    }

    async fn sweep(&self, volume: &str, vol: &mut VolumeConfig, scan: &Scan) -> Result<GcOutcome> {
        let blocks_dir = layout::blocks_dir(volume)?;
        let files = self.list_recursive(&blocks_dir).await?;
        // The set of backups must not have changed while we looked.
        let again: BTreeSet<String> = self
            .list_backups(volume)
            .await?
            .backups
            .into_iter()
            .collect();
        if again != scan.names {
            return Ok(GcOutcome::Skipped {
                reason: "the set of backups changed during collection".into(),
            });
        }
        let mut unused = Vec::new();
        let mut kept = 0u64;
        for (rel, _) in files {
            let Some(sum) = layout::block_checksum_from_rel_path(&rel) else {
                continue;
            };
            if scan.referenced.contains_key(&sum) {
                kept += 1;
            } else {
                unused.push(format!("{blocks_dir}/{rel}"));
            }
        }
        let deleted = unused.len() as u64;
        futures::stream::iter(unused)
            .map(|path| async move { self.delete(&path).await })
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        vol.block_count = i64::try_from(kept).unwrap_or(i64::MAX);
        self.put(&layout::volume_cfg(volume)?, vol.to_json())
            .await?;
        Ok(GcOutcome::Collected {
            blocks_deleted: deleted,
            blocks_kept: kept,
        })
    }
}
