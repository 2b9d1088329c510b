//! Checking backups: every config loads and every block it lists is present,
//! decompresses and matches its checksum. Problems are collected, not fatal.

use crate::block::{Compression, ContentChecksum};
use crate::error::{Error, Result};
use crate::layout;
use crate::lock::LockKind;
use crate::name::Checksum;
use crate::progress::{Progress, read_concurrency};
use crate::source::BufferPool;
use crate::target::Target;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Options for [`Target::verify_volume`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Blocks in flight; default: two more than the CPUs (three to eight),
    /// at most 8 MiB of data.
    pub concurrency: Option<usize>,
    /// Hold a backup/restore lock while reading (see
    /// [`crate::ExportOptions::lock`]). Default false: without it, damage
    /// reported for a backup that a concurrent deletion removed meanwhile
    /// is dropped from the report, since that backup is gone.
    pub lock: bool,
}

/// Where a damaged block is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockUse {
    /// Backup name.
    pub backup: String,
    /// Offset in that backup's image.
    pub offset: u64,
}

/// One problem found by verification.
#[derive(Debug)]
pub enum Problem {
    /// A backup config could not be loaded or is inconsistent.
    Config {
        /// Backup name.
        backup: String,
        /// What is wrong (names the file and field).
        error: Error,
    },
    /// A block is missing, cannot be decompressed or fails its checksum.
    Block {
        /// The checksum the configs expect.
        checksum: Checksum,
        /// Path of the block file relative to the target root.
        path: String,
        /// Every backup and offset that uses it.
        used_by: Vec<BlockUse>,
        /// What is wrong.
        error: Error,
    },
}

/// Result of [`Target::verify_volume`].
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Volume name.
    pub volume: String,
    /// Complete backups whose blocks were checked.
    pub backups_checked: Vec<String>,
    /// In-progress backups, not checked.
    pub in_progress: Vec<String>,
    /// Distinct block files read.
    pub blocks_checked: u64,
    /// Uncompressed bytes checked.
    pub bytes_checked: u64,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Target {
    /// Verifies the given backups of a volume (all of them when `backups` is
    /// `None`). Each distinct block is read once even when several backups
    /// share it. Errors that stop the whole check (the volume cannot be
    /// listed, the lock is refused) are returned as `Err`; damage is listed in
    /// the report.
    pub async fn verify_volume(
        &self,
        volume: &str,
        backups: Option<&[String]>,
        options: &VerifyOptions,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        layout::volume_dir(volume)?;
        // Blocks are read while the lock settles. A deletion that finished
        // before the lock was taken may have removed a backup (config first,
        // then its blocks) after we listed it: such vanished backups are
        // dropped from the report once the lock is held.
        let lock = async {
            if options.lock {
                self.lock(volume, LockKind::BackupOrRestore).await.map(Some)
            } else {
                Ok(None)
            }
        };
        // A failed lock stops the check; a failed check lets the lock
        // finish so that it is released below.
        let check =
            async { Ok::<_, Error>(self.verify_locked(volume, backups, options, progress).await) };
        let (lock, checked) = futures::future::try_join(lock, check).await?;
        let result = match checked {
            Ok(mut report) => self
                .drop_vanished(volume, &mut report)
                .await
                .map(|()| report),
            Err(e) => Err(e),
        };
        if let Some(lock) = lock {
            let released = lock.release().await;
            if result.is_ok() {
                released?;
            }
        }
        result
    }

    async fn drop_vanished(&self, volume: &str, report: &mut VerifyReport) -> Result<()> {
        if report.problems.is_empty() {
            return Ok(());
        }
        // When the backups cannot be listed, that is already reported.
        let Ok(listed) = self.list_backups(volume).await else {
            return Ok(());
        };
        let present: std::collections::HashSet<String> = listed.backups.into_iter().collect();
        report.problems.retain_mut(|p| match p {
            Problem::Config { backup, error } => {
                backup.is_empty() || present.contains(backup.as_str()) || !error.is_not_found()
            }
            Problem::Block { used_by, .. } => {
                used_by.retain(|u| present.contains(&u.backup));
                !used_by.is_empty()
            }
        });
        report.backups_checked.retain(|b| present.contains(b));
        Ok(())
    }

    async fn verify_locked(
        &self,
        volume: &str,
        backups: Option<&[String]>,
        options: &VerifyOptions,
        progress: &dyn Progress,
    ) -> Result<VerifyReport> {
        let mut report = VerifyReport {
            volume: volume.to_owned(),
            ..Default::default()
        };
        let volume_size = match self.volume_config(volume).await {
            Ok(v) => Some(v.size.unsigned_abs()),
            Err(e) => {
                report.problems.push(Problem::Config {
                    backup: String::new(),
                    error: e,
                });
                None
            }
        };
        let names = match backups {
            Some(list) => list.to_vec(),
            // A volume whose backups cannot be listed (its `backups` is a
            // file, say) is damaged, not empty.
            None => match self.list_backups(volume).await {
                Ok(list) => list.backups,
                Err(error) => {
                    report.problems.push(Problem::Config {
                        backup: String::new(),
                        error,
                    });
                    Vec::new()
                }
            },
        };
        // (checksum, block size) -> (compression, uses)
        let mut wanted: BTreeMap<(Checksum, u64), (Compression, Vec<BlockUse>)> = BTreeMap::new();
        for name in names {
            let cfg = match self.backup_config_checked(volume, &name, volume_size).await {
                Ok(c) => c,
                Err(error) => {
                    report.problems.push(Problem::Config {
                        backup: name,
                        error,
                    });
                    continue;
                }
            };
            if !cfg.is_complete() {
                report.in_progress.push(name);
                continue;
            }
            let path = layout::backup_cfg(volume, &name)?;
            // What an export would refuse, verify reports: the block size,
            // the compression and the recorded image size.
            let checked = cfg.export_parameters(&path, volume_size);
            let (block_size, compression) = match checked {
                Ok(found) => found,
                Err(error) => {
                    report.problems.push(Problem::Config {
                        backup: name,
                        error,
                    });
                    continue;
                }
            };
            for b in &cfg.blocks {
                wanted
                    .entry((b.checksum, block_size))
                    .or_insert_with(|| (compression, Vec::new()))
                    .1
                    .push(BlockUse {
                        backup: name.clone(),
                        offset: b.offset,
                    });
            }
            report.backups_checked.push(name);
        }

        progress.start(wanted.keys().map(|(_, bs)| bs).sum());
        let n = options.concurrency.unwrap_or_else(|| {
            read_concurrency(wanted.keys().map(|(_, bs)| *bs).max().unwrap_or(1))
        });
        let pool = BufferPool::new(2 * n.max(1));
        let results: Vec<_> = futures::stream::iter(wanted)
            .map(|((checksum, block_size), (compression, uses))| {
                let pool = Arc::clone(&pool);
                async move {
                    let r = self
                        .read_block_pooled(
                            volume,
                            &checksum,
                            compression,
                            block_size,
                            &pool,
                            // Longhorn's reader checks it: a wrong one is
                            // damage even when the data is right.
                            ContentChecksum::Check,
                        )
                        .await
                        .map(|data| pool.give(data));
                    progress.advance(block_size);
                    (checksum, block_size, uses, r)
                }
            })
            .buffer_unordered(n.max(1))
            .collect()
            .await;
        for (checksum, block_size, used_by, r) in results {
            report.blocks_checked += 1;
            match r {
                Ok(_) => report.bytes_checked += block_size,
                Err(error) => report.problems.push(Problem::Block {
                    path: layout::block_path(volume, &checksum)?,
                    checksum,
                    used_by,
                    error,
                }),
            }
        }
        Ok(report)
    }
}
