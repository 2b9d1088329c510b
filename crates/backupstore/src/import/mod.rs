//! Creating a Longhorn backup from a raw disk image.
//!
//! The order of writes is what keeps a target consistent for every reader,
//! Longhorn included: write a backup lock file; create `volume.cfg` if the
//! volume is new; write the in-progress placeholder config (which makes a
//! concurrent block collection back off); upload the blocks that are not on
//! the target yet; once the lock is held, check that the blocks found on the
//! target are still there (a deletion that ended while the lock settled may
//! have collected one) and upload again any that is not; write the final
//! config (the commit point); update `volume.cfg`; release the lock. The
//! work before the commit runs while the lock settles. An interruption at
//! any point leaves at most an in-progress config, which no reader mistakes
//! for a backup.

mod cache;
mod scan;

use crate::block::{self, Compression};
use crate::config::{
    BackupConfig, BlockEntry, DEFAULT_BLOCK_SIZE, LABEL_IMAGE_SIZE, MAX_BLOCK_SIZE,
    PARAM_BACKUP_MODE, PARAM_BLOCK_SIZE, VolumeConfig,
};
use crate::error::{Error, NameKind, Result};
use crate::layout;
use crate::lock::LockKind;
use crate::name::{Checksum, generate_name, validate_name};
use crate::progress::{Progress, default_concurrency};
use crate::source::{BufferPool, ImageSource};
use crate::target::Target;
use cache::{Fingerprint, FingerprintCache, fingerprint};
use futures::{StreamExt, TryStreamExt};
use scan::{Scan, scan};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options for [`Target::import_raw`].
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Backup name; default `backup-<16 hex>`.
    pub backup_name: Option<String>,
    /// Compression for a new volume. An existing volume keeps the method its
    /// `volume.cfg` records (Longhorn's rule), whatever is asked here.
    pub compression: Compression,
    /// Block size: a power of two from 4 KiB to 16 MiB. Longhorn itself
    /// writes 2 MiB (default) or 16 MiB. A backup whose block size is not
    /// that of the volume's last backup is a full backup.
    pub block_size: u64,
    /// Labels for the backup (and, as Longhorn does, for `volume.cfg`).
    pub labels: BTreeMap<String, String>,
    /// `SnapshotName` to record; default: the backup name.
    pub snapshot_name: Option<String>,
    /// Longhorn's `backup-mode=full`: upload every block even when the
    /// target already has it.
    pub full: bool,
    /// Blocks in flight; default: one per CPU, at most 8 MiB of data.
    pub concurrency: Option<usize>,
    /// Directory of the local fingerprint cache that spares an incremental
    /// import the SHA-512 of blocks that did not change (see
    /// [`ImportSummary::blocks_hashed`]). `None`: no cache. A cache that
    /// cannot be used is skipped with a warning; it never fails an import.
    pub cache_dir: Option<PathBuf>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            backup_name: None,
            compression: Compression::Lz4,
            block_size: DEFAULT_BLOCK_SIZE,
            labels: BTreeMap::new(),
            snapshot_name: None,
            full: false,
            concurrency: None,
            cache_dir: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Volume name.
    pub volume: String,
    /// Name of the new backup.
    pub backup: String,
    /// Whether a previous backup of the volume was its base.
    pub incremental: bool,
    /// Compression used (the volume's).
    pub compression: Compression,
    /// Size of the image.
    pub image_size: u64,
    /// Blocks listed in the backup (non-zero blocks of the image).
    pub blocks: u64,
    /// Blocks uploaded because the target did not have them.
    pub blocks_uploaded: u64,
    /// Blocks uploaded again although present (full mode).
    pub blocks_reuploaded: u64,
    /// Blocks the target already had.
    pub blocks_reused: u64,
    /// Blocks skipped because they were holes or all zeros.
    pub zero_blocks: u64,
    /// Compressed bytes uploaded.
    pub bytes_uploaded: u64,
    /// Non-zero blocks whose SHA-512 was computed; the others' checksums
    /// came from the fingerprint cache.
    pub blocks_hashed: u64,
    /// Blocks uploaded again because they vanished from the target while
    /// the lock settled (a deletion collected them meanwhile).
    pub blocks_restored: u64,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Requests kept in flight when checking which blocks exist (no data held).
const HEAD_CONCURRENCY: usize = 16;

/// Distinct blocks of a scan, sorted by checksum: each checksum with the
/// first block index that holds it and that block's fingerprint. (A sorted
/// list, not a map: a large image has hundreds of thousands.)
type Distinct = Vec<(Checksum, u64, Fingerprint)>;

/// The distinct blocks of `blocks` (sorted by index).
fn distinct_blocks(blocks: &[(u64, Checksum, Fingerprint)]) -> Distinct {
    let mut distinct: Distinct = blocks
        .iter()
        .map(|(index, sum, fp)| (*sum, *index, *fp))
        .collect();
    // Stable: of equal checksums the first index stays first, and is kept.
    distinct.sort_by_key(|(sum, _, _)| *sum);
    distinct.dedup_by_key(|(sum, _, _)| *sum);
    distinct
}

/// What an import and the work it runs while its lock settles share.
#[derive(Debug, Default)]
struct Attempt {
    /// The in-progress placeholder is on the target.
    placeholder_written: Cell<bool>,
    /// The lock was refused: the work stops at its next step.
    stopped: Cell<bool>,
}

impl Attempt {
    /// Fails once the lock was refused.
    fn go_on(&self) -> Result<()> {
        if self.stopped.get() {
            Err(Error::Task("stopped: the volume lock was refused".into()))
        } else {
            Ok(())
        }
    }
}

/// What the work done while the lock settles leaves for the commit.
struct Prepared {
    scanned: Scan,
    /// Blocks found on the target and not uploaded again.
    reused: Distinct,
    volume_config: VolumeConfig,
    compression: Compression,
    incremental: bool,
    /// Per uploaded block: compressed size and whether it existed before.
    uploaded: Vec<(u64, bool)>,
}

impl Target {
    /// Backs up a raw image (file or block device) as a new backup of
    /// `volume`, incremental when the volume has a previous backup: only
    /// blocks the target does not have are uploaded, holes and all-zero
    /// blocks are not stored, and the backup's block list describes the whole
    /// image, so that every change since the previous backup (including data
    /// that became zeros) restores exactly.
    ///
    /// The image is read once to checksum every block and again for the
    /// blocks that must be uploaded, all while the lock settles. It must not
    /// change during the import; a block found changed when it is read again
    /// fails the import with [`Error::ImageChanged`] and leaves no backup
    /// behind.
    pub async fn import_raw(
        &self,
        volume: &str,
        image: &Path,
        options: &ImportOptions,
        progress: &dyn Progress,
    ) -> Result<ImportSummary> {
        validate_name(NameKind::Volume, volume)?;
        let bs = options.block_size;
        if !bs.is_power_of_two() || !(4096..=MAX_BLOCK_SIZE).contains(&bs) {
            return Err(Error::Unsupported(format!(
                "block size {bs} must be a power of two from 4096 to {MAX_BLOCK_SIZE}"
            )));
        }
        let backup = match &options.backup_name {
            Some(b) => b.clone(),
            None => generate_name("backup"),
        };
        let cfg_path = layout::backup_cfg(volume, &backup)?;
        let source = ImageSource::open(image)?;
        let cache = options.cache_dir.as_deref().and_then(|dir| {
            FingerprintCache::open(dir, &self.identity(), volume, bs, source.size().div_ceil(bs))
                .map_err(|e| {
                    tracing::warn!(dir = %dir.display(), error = %e, "fingerprint cache unusable; hashing every block");
                })
                .ok()
                .map(Arc::new)
        });

        progress.phase("read", source.size());
        let attempt = Attempt::default();
        // The lock settles while the image is read and the blocks are
        // uploaded. A refused lock stops that work at its next step (never
        // in the middle of a write, so that what it wrote is known); a
        // failure of the work lets the lock finish so that it is released.
        let lock = async {
            let lock = self.lock(volume, LockKind::BackupOrRestore).await;
            if lock.is_err() {
                attempt.stopped.set(true);
            }
            lock
        };
        let work = self.prepare(
            volume,
            &backup,
            &cfg_path,
            &source,
            cache.as_ref(),
            options,
            progress,
            &attempt,
        );
        let result = match futures::future::join(lock, work).await {
            (Err(refused), _) => Err(refused),
            (Ok(lock), prepared) => {
                let committed = match prepared {
                    Ok(prepared) => {
                        self.commit(
                            volume, &backup, &cfg_path, &source, prepared, options, progress,
                        )
                        .await
                    }
                    Err(e) => Err(e),
                };
                let released = lock.release().await;
                match (committed, released) {
                    (Ok(summary), Ok(())) => Ok(summary),
                    (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                }
            }
        };
        match result {
            Ok(summary) => {
                if let Some(cache) = cache.and_then(Arc::into_inner)
                    && let Err(e) = cache.commit()
                {
                    tracing::warn!(error = %e, "cannot save the fingerprint cache");
                }
                tracing::info!(volume, backup, path = %source.path().display(), "backup complete");
                Ok(summary)
            }
            Err(e) => {
                if attempt.placeholder_written.get() {
                    // A clean failure removes its own placeholder so that it
                    // does not hold up block collection; an interrupted run
                    // leaves it behind, marked in progress.
                    let _ = self.delete(&cfg_path).await;
                }
                Err(e)
            }
        }
    }

    /// Everything before the commit: needs no lock held, because nothing it
    /// writes makes a backup look complete, and the commit checks that every
    /// block is still there.
    #[allow(clippy::too_many_arguments)]
    async fn prepare(
        &self,
        volume: &str,
        backup: &str,
        cfg_path: &str,
        source: &ImageSource,
        cache: Option<&Arc<FingerprintCache>>,
        options: &ImportOptions,
        progress: &dyn Progress,
        attempt: &Attempt,
    ) -> Result<Prepared> {
        let bs = options.block_size;
        attempt.go_on()?;
        if self.head(cfg_path).await?.is_some() {
            return Err(Error::AlreadyExists {
                volume: volume.to_owned(),
                backup: backup.to_owned(),
            });
        }
        let vol_path = layout::volume_cfg(volume)?;
        let volume_config = match self.volume_config_opt(volume).await? {
            Some(v) => v,
            None => {
                // Backups without a volume.cfg: a new volume.cfg would record
                // this image's size as the volume's, and the backups of a
                // larger image would no longer fit it.
                let existing = self.list_backups(volume).await?;
                if let Some(first) = existing.backups.first() {
                    return Err(Error::ImportRefused {
                        volume: volume.to_owned(),
                        reason: format!(
                            "{vol_path} is missing, yet the volume holds {} backup(s) ({first}{}); a new volume.cfg would not know their size. Restore volume.cfg from a copy of the target, or import under another volume name",
                            existing.backups.len(),
                            if existing.backups.len() > 1 {
                                ", ..."
                            } else {
                                ""
                            },
                        ),
                    });
                }
                let v = VolumeConfig {
                    name: volume.to_owned(),
                    created_time: now_rfc3339(),
                    compression_method: options.compression.as_str().to_owned(),
                    data_engine: "v1".into(),
                    ..Default::default()
                };
                self.put(&vol_path, v.to_json()).await?;
                v
            }
        };
        let compression = volume_config.compression(&vol_path)?;
        attempt.go_on()?;
        let base = if volume_config.last_backup_name.is_empty() {
            None
        } else {
            match self
                .backup_config(volume, &volume_config.last_backup_name)
                .await
            {
                Ok(b) if b.is_complete() => Some(b),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(volume, base = %volume_config.last_backup_name, error = %e, "previous backup unreadable; making a full backup");
                    None
                }
            }
        };
        // A backup shares blocks only with backups of its block size, and
        // Longhorn restores incrementally only between those.
        let base = base.filter(|b| {
            let base_bs = layout::backup_cfg(volume, &b.name)
                .and_then(|path| b.block_size(&path))
                .unwrap_or(0);
            if base_bs != bs {
                tracing::warn!(
                    volume,
                    base = %b.name,
                    "the previous backup uses blocks of {base_bs} bytes and this one blocks of {bs}; \
                     they share no blocks, so this is a full backup"
                );
            }
            base_bs == bs
        });
        let incremental = base.is_some() && !options.full;
        // Its block list (which can be long) is not needed any more.
        drop(base);

        self.put(
            cfg_path,
            BackupConfig::in_progress(backup, volume, compression).to_json(),
        )
        .await?;
        attempt.placeholder_written.set(true);

        let n = concurrency(options);
        // One batch more than blocks being compressed: a batch holds one
        // buffer, and the extra one keeps every core busy between batches.
        let scanned = scan(source, bs, n + 1, cache, progress, attempt).await?;
        attempt.go_on()?;

        // Which distinct blocks does the target lack? (One block per checksum.)
        let distinct = distinct_blocks(&scanned.blocks);
        let absent = self
            .absent_blocks(volume, distinct.iter().map(|(sum, _, _)| sum))
            .await?;
        let upload_this = |absent: bool| options.full || absent;
        let count = absent.iter().filter(|a| upload_this(**a)).count();
        progress.phase("upload", count as u64 * bs);
        let to_upload = distinct
            .iter()
            .zip(&absent)
            .filter(|(_, absent)| upload_this(**absent))
            .map(|(block, absent)| (*block, !*absent));
        let uploaded = self
            .upload(
                volume,
                source,
                compression,
                bs,
                n,
                to_upload,
                progress,
                Some(attempt),
            )
            .await?;
        let reused: Distinct = if options.full {
            Vec::new()
        } else {
            distinct
                .into_iter()
                .zip(absent)
                .filter(|(_, absent)| !absent)
                .map(|(block, _)| block)
                .collect()
        };
        Ok(Prepared {
            scanned,
            reused,
            volume_config,
            compression,
            incremental,
            uploaded,
        })
    }

    /// For each checksum, in order: whether the target lacks its block.
    async fn absent_blocks<'a>(
        &self,
        volume: &str,
        sums: impl Iterator<Item = &'a Checksum>,
    ) -> Result<Vec<bool>> {
        futures::stream::iter(sums)
            .map(|sum| async move {
                let path = layout::block_path(volume, sum)?;
                Ok::<_, Error>(self.head(&path).await?.is_none())
            })
            .buffered(HEAD_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Reads the given blocks of the image again, checks that each still
    /// has the fingerprint it was scanned with, compresses and uploads it.
    /// Gives, per block, its compressed size and whether it existed before.
    #[allow(clippy::too_many_arguments)]
    async fn upload(
        &self,
        volume: &str,
        source: &ImageSource,
        compression: Compression,
        bs: u64,
        n: usize,
        blocks: impl IntoIterator<Item = ((Checksum, u64, Fingerprint), bool)>,
        progress: &dyn Progress,
        attempt: Option<&Attempt>,
    ) -> Result<Vec<(u64, bool)>> {
        let pool = BufferPool::new(n);
        // Compressed blocks come back from the store once written, so that
        // their buffers serve the next blocks instead of the allocator's
        // keeping one more block of memory per thread.
        let written = BufferPool::new(n);
        futures::stream::iter(blocks)
            .map(|((sum, index, fp), exists)| {
                let source = source.clone();
                let pool = Arc::clone(&pool);
                let written = Arc::clone(&written);
                async move {
                    let image_path = source.path().to_owned();
                    let out = written.take();
                    let compressed = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
                        let mut data = pool.take();
                        let mut out = out;
                        let read = source.read_block_into(index, bs, &mut data);
                        let result = match read {
                            Err(e) => Err(e),
                            Ok(()) if fingerprint(&data) != fp => Err(Error::ImageChanged {
                                path: image_path.display().to_string(),
                                offset: index * bs,
                            }),
                            Ok(()) => {
                                block::compress_into(compression, &data, &mut out);
                                Ok(out)
                            }
                        };
                        pool.give(data);
                        result
                    })
                    .await
                    .map_err(Error::task)??;
                    let len = compressed.len() as u64;
                    if let Some(attempt) = attempt {
                        attempt.go_on()?;
                    }
                    let compressed = bytes::Bytes::from(compressed);
                    self.put(&layout::block_path(volume, &sum)?, compressed.clone())
                        .await?;
                    if let Ok(buf) = compressed.try_into_mut() {
                        written.give(buf.into());
                    }
                    progress.advance(bs);
                    Ok::<_, Error>((len, exists))
                }
            })
            .buffer_unordered(n)
            .try_collect()
            .await
    }

    /// With the lock held: makes sure every block is on the target, writes
    /// the final config (the commit point), then `volume.cfg`.
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        volume: &str,
        backup: &str,
        cfg_path: &str,
        source: &ImageSource,
        prepared: Prepared,
        options: &ImportOptions,
        progress: &dyn Progress,
    ) -> Result<ImportSummary> {
        let bs = options.block_size;
        let Prepared {
            scanned,
            reused,
            volume_config,
            compression,
            incremental,
            uploaded,
        } = prepared;
        // A deletion that ended while the lock settled may have collected
        // blocks this backup found on the target: put them back. (Blocks
        // this import uploaded are safe: a collection only removes blocks it
        // listed, and one that listed them also found the placeholder,
        // written before any upload, and so collected nothing.)
        let vanished = self
            .absent_blocks(volume, reused.iter().map(|(sum, _, _)| sum))
            .await?;
        let restore: Vec<((Checksum, u64, Fingerprint), bool)> = reused
            .iter()
            .zip(&vanished)
            .filter(|(_, vanished)| **vanished)
            .map(|(block, _)| (*block, false))
            .collect();
        drop((reused, vanished));
        if !restore.is_empty() {
            tracing::warn!(
                volume,
                blocks = restore.len(),
                "blocks were collected while the lock settled; uploading them again"
            );
        }
        let restored = self
            .upload(
                volume,
                source,
                compression,
                bs,
                concurrency(options),
                restore,
                progress,
                None,
            )
            .await?;

        let full = options.full;
        let mut summary = ImportSummary {
            volume: volume.to_owned(),
            backup: backup.to_owned(),
            incremental,
            compression,
            image_size: source.size(),
            blocks: scanned.blocks.len() as u64,
            blocks_uploaded: 0,
            blocks_reuploaded: 0,
            blocks_reused: 0,
            zero_blocks: scanned.zero_blocks,
            bytes_uploaded: 0,
            blocks_hashed: scanned.hashed,
            blocks_restored: restored.len() as u64,
        };
        let (mut newly, mut reuploaded) = (0i64, 0i64);
        for (len, exists) in uploaded.into_iter().chain(restored) {
            summary.bytes_uploaded += len;
            let len = i64::try_from(len).unwrap_or(i64::MAX);
            if exists {
                summary.blocks_reuploaded += 1;
                reuploaded += len;
            } else {
                summary.blocks_uploaded += 1;
                newly += len;
            }
        }
        summary.blocks_reused = summary
            .blocks
            .saturating_sub(summary.blocks_uploaded + summary.blocks_reuploaded);
        // In the scan's own allocation: the list can be long.
        let blocks: Vec<BlockEntry> = scanned
            .blocks
            .into_iter()
            .map(|(index, checksum, _)| BlockEntry {
                offset: index * bs,
                checksum,
            })
            .collect();
        let now = now_rfc3339();
        let mut labels = options.labels.clone();
        labels.insert(LABEL_IMAGE_SIZE.to_owned(), source.size().to_string());
        let mut parameters = BTreeMap::new();
        parameters.insert(
            PARAM_BACKUP_MODE.to_owned(),
            if full { "full" } else { "incremental" }.to_owned(),
        );
        parameters.insert(PARAM_BLOCK_SIZE.to_owned(), bs.to_string());
        let cfg = BackupConfig {
            name: backup.to_owned(),
            volume_name: volume.to_owned(),
            snapshot_name: options
                .snapshot_name
                .clone()
                .unwrap_or_else(|| backup.to_owned()),
            snapshot_created_at: now.clone(),
            created_time: now.clone(),
            size: i64::try_from(summary.blocks.saturating_mul(bs)).unwrap_or(i64::MAX),
            labels: Some(labels.clone()),
            parameters: Some(parameters),
            is_incremental: incremental,
            compression_method: compression.as_str().to_owned(),
            newly_uploaded_data_size: newly,
            re_uploaded_data_size: reuploaded,
            processing_blocks: !incremental,
            blocks,
            single_file_path: String::new(),
            extra: Vec::new(),
        };
        self.put(cfg_path, cfg.to_json()).await?;

        // volume.cfg last, reloaded in case it changed while we uploaded.
        let vol_path = layout::volume_cfg(volume)?;
        let mut vol = self
            .volume_config_opt(volume)
            .await?
            .unwrap_or(volume_config);
        let rounded = source
            .size()
            .div_ceil(bs.max(DEFAULT_BLOCK_SIZE))
            .saturating_mul(bs.max(DEFAULT_BLOCK_SIZE));
        vol.size = vol.size.max(i64::try_from(rounded).unwrap_or(i64::MAX));
        vol.labels = Some(labels);
        vol.last_backup_name = backup.to_owned();
        vol.last_backup_at = now;
        vol.block_count = vol
            .block_count
            .saturating_add(i64::try_from(summary.blocks_uploaded).unwrap_or(0));
        if vol.data_engine.is_empty() {
            vol.data_engine = "v1".into();
        }
        self.put(&vol_path, vol.to_json()).await?;
        Ok(summary)
    }
}

fn concurrency(options: &ImportOptions) -> usize {
    options
        .concurrency
        .unwrap_or_else(|| default_concurrency(options.block_size))
        .max(1)
}
