//! Creating a Longhorn backup from a raw disk image.
//!
//! The order of writes is what keeps a target consistent for every reader,
//! Longhorn included: take a backup lock; create `volume.cfg` if the volume
//! is new; write the in-progress placeholder config; upload the blocks that
//! are not on the target yet; write the final config (the commit point);
//! update `volume.cfg`; release the lock. An interruption at any point leaves
//! at most an in-progress config, which no reader mistakes for a backup.

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
use futures::{StreamExt, TryStreamExt};
use std::collections::BTreeMap;
use std::path::Path;
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
    /// writes 2 MiB (default) or 16 MiB.
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
}

fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Pass 1 result: the checksum of every non-zero block, by block index,
/// with a fast fingerprint of its content.
struct Scan {
    blocks: Vec<(u64, Checksum, Fingerprint)>,
    zero_blocks: u64,
}

/// A 128-bit XXH3 hash of a block's content. Pass 2 compares it with the
/// block it re-reads to detect an image that changed since pass 1, at a
/// small fraction of the cost of a second SHA-512; an accidental change
/// goes unnoticed with probability 2^-128. (It is not a defence against
/// someone who both controls the image's content and rewrites it during the
/// import: they could as well have written the other content to begin with.)
type Fingerprint = u128;

fn fingerprint(data: &[u8]) -> Fingerprint {
    twox_hash::XxHash3_128::oneshot(data)
}

/// Hashes every block that may hold data. Needs no access to the target, so
/// it runs while the lock settles.
async fn scan(source: &ImageSource, bs: u64, n: usize, progress: &dyn Progress) -> Result<Scan> {
    let ranges = source.data_block_ranges(bs);
    let total_blocks = source.size().div_ceil(bs);
    let image_size = source.size();
    type Found = Option<(Checksum, Fingerprint)>;
    let pool = BufferPool::new(n);
    let found: Vec<(u64, Found)> = futures::stream::iter(ranges.into_iter().flatten())
        .map(|index| {
            let source = source.clone();
            let pool = Arc::clone(&pool);
            async move {
                let sum = tokio::task::spawn_blocking(move || -> Result<Found> {
                    let mut data = pool.take();
                    let read = source.read_block_into(index, bs, &mut data);
                    let found = read.map(|()| {
                        (!block::is_zero(&data))
                            .then(|| (block::checksum(&data), fingerprint(&data)))
                    });
                    pool.give(data);
                    found
                })
                .await
                .map_err(Error::task)??;
                progress.advance(bs.min(image_size.saturating_sub(index * bs)));
                Ok::<_, Error>((index, sum))
            }
        })
        .buffer_unordered(n)
        .try_collect()
        .await?;
    let mut blocks: Vec<(u64, Checksum, Fingerprint)> = found
        .iter()
        .filter_map(|(i, s)| s.map(|(sum, fp)| (*i, sum, fp)))
        .collect();
    blocks.sort();
    let zero_blocks = total_blocks - blocks.len() as u64;
    Ok(Scan {
        blocks,
        zero_blocks,
    })
}

/// Requests kept in flight when checking which blocks exist (no data held).
const HEAD_CONCURRENCY: usize = 16;

impl Target {
    /// Backs up a raw image (file or block device) as a new backup of
    /// `volume`, incremental when the volume has a previous backup: only
    /// blocks the target does not have are uploaded, holes and all-zero
    /// blocks are not stored, and the backup's block list describes the whole
    /// image, so that every change since the previous backup (including data
    /// that became zeros) restores exactly.
    ///
    /// The image is read twice: once to checksum every block (while the lock
    /// is being acquired), and again for the blocks that must be uploaded.
    /// It must not change during the import; if it does, the import fails
    /// with [`Error::ImageChanged`] and leaves no backup behind.
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
        let n = options
            .concurrency
            .unwrap_or_else(|| default_concurrency(bs))
            .max(1);

        progress.start(source.size());
        let (lock, scanned) = tokio::join!(
            self.lock(volume, LockKind::BackupOrRestore),
            scan(&source, bs, n, progress)
        );
        let lock = lock?;
        let scanned = match scanned {
            Ok(s) => s,
            Err(e) => {
                lock.release().await?;
                return Err(e);
            }
        };
        let mut placeholder_written = false;
        let result = self
            .import_locked(
                volume,
                &backup,
                &cfg_path,
                &source,
                scanned,
                options,
                progress,
                &mut placeholder_written,
            )
            .await;
        if result.is_err() && placeholder_written {
            // A clean failure removes its own placeholder so that it does not
            // hold up block collection; an interrupted run leaves it behind,
            // marked in progress.
            let _ = self.delete(&cfg_path).await;
        }
        lock.release().await?;
        result
    }

    #[allow(clippy::too_many_arguments)]
    async fn import_locked(
        &self,
        volume: &str,
        backup: &str,
        cfg_path: &str,
        source: &ImageSource,
        scanned: Scan,
        options: &ImportOptions,
        progress: &dyn Progress,
        placeholder_written: &mut bool,
    ) -> Result<ImportSummary> {
        let bs = options.block_size;
        if self.head(cfg_path).await?.is_some() {
            return Err(Error::AlreadyExists {
                volume: volume.to_owned(),
                backup: backup.to_owned(),
            });
        }
        let vol_path = layout::volume_cfg(volume)?;
        let vol = match self.volume_config_opt(volume).await? {
            Some(v) => v,
            None => {
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
        let compression = vol.compression(&vol_path)?;
        let base = if vol.last_backup_name.is_empty() {
            None
        } else {
            match self.backup_config(volume, &vol.last_backup_name).await {
                Ok(b) if b.is_complete() => Some(b),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!(volume, base = %vol.last_backup_name, error = %e, "previous backup unreadable; making a full backup");
                    None
                }
            }
        };
        let incremental = base.is_some() && !options.full;

        self.put(
            cfg_path,
            BackupConfig::in_progress(backup, volume, compression).to_json(),
        )
        .await?;
        *placeholder_written = true;

        // Which distinct blocks does the target lack? (One block per checksum.)
        let mut first_index: BTreeMap<Checksum, (u64, Fingerprint)> = BTreeMap::new();
        for (index, sum, fp) in &scanned.blocks {
            first_index.entry(*sum).or_insert((*index, *fp));
        }
        let full = options.full;
        type Existing = (Checksum, (u64, Fingerprint), bool);
        let existing: Vec<Existing> = futures::stream::iter(first_index)
            .map(|(sum, at)| async move {
                let path = layout::block_path(volume, &sum)?;
                Ok::<_, Error>((sum, at, self.head(&path).await?.is_some()))
            })
            .buffer_unordered(HEAD_CONCURRENCY)
            .try_collect()
            .await?;
        let to_upload: Vec<Existing> = existing
            .iter()
            .filter(|(_, _, exists)| full || !exists)
            .copied()
            .collect();
        progress.start(source.size() + to_upload.len() as u64 * bs);

        let n = options
            .concurrency
            .unwrap_or_else(|| default_concurrency(bs))
            .max(1);
        let pool = BufferPool::new(n);
        let uploaded: Vec<(u64, bool)> = futures::stream::iter(to_upload)
            .map(|(sum, (index, fp), exists)| {
                let source = source.clone();
                let pool = Arc::clone(&pool);
                async move {
                    let image_path = source.path().to_owned();
                    let compressed = tokio::task::spawn_blocking(move || -> Result<Vec<u8>> {
                        let mut data = pool.take();
                        let read = source.read_block_into(index, bs, &mut data);
                        let out = match read {
                            Err(e) => Err(e),
                            Ok(()) if fingerprint(&data) != fp => Err(Error::ImageChanged {
                                path: image_path.display().to_string(),
                                offset: index * bs,
                            }),
                            Ok(()) => Ok(block::compress(compression, &data)),
                        };
                        pool.give(data);
                        out
                    })
                    .await
                    .map_err(Error::task)??;
                    let len = compressed.len() as u64;
                    self.put(&layout::block_path(volume, &sum)?, compressed)
                        .await?;
                    progress.advance(bs);
                    Ok::<_, Error>((len, exists))
                }
            })
            .buffer_unordered(n)
            .try_collect()
            .await?;

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
        };
        let (mut newly, mut reuploaded) = (0i64, 0i64);
        for (len, exists) in uploaded {
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
        summary.blocks_reused =
            summary.blocks - summary.blocks_uploaded - summary.blocks_reuploaded;
        let blocks: Vec<BlockEntry> = scanned
            .blocks
            .iter()
            .map(|(index, checksum, _)| BlockEntry {
                offset: index * bs,
                checksum: *checksum,
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
        let mut vol = self.volume_config_opt(volume).await?.unwrap_or(vol);
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
        tracing::info!(volume, backup, path = %source.path().display(), "backup complete");
        Ok(summary)
    }
}
