//! `vmbackup target export`: a backup as a sparse raw image or a qcow2
//! image, written under a temporary name and renamed into place when
//! complete.

use std::path::PathBuf;

use anyhow::Context;
use futures::TryStreamExt;
use vmbackup_backupstore::{BackupImage, ExportOptions, LockKind, PartialFile, Progress, Target};
use vmbackup_qcow2::{Qcow2Writer, WriterOptions};

use crate::progress::ProgressMode;

/// Image formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ImageFormat {
    /// A raw disk image; zero regions are holes (a sparse file).
    #[default]
    Raw,
    /// A qcow2 (version 3) image; zero regions are unallocated clusters.
    Qcow2,
}

/// Arguments of `vmbackup target export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::connect::TargetArgs,
    /// Backup volume (Longhorn volume name).
    #[arg(long, value_name = "VOLUME")]
    pub volume: String,
    /// Backup to export.
    #[arg(long, value_name = "BACKUP")]
    pub backup: String,
    /// Image file to write.
    #[arg(long, value_name = "FILE")]
    pub to: PathBuf,
    /// Image format.
    #[arg(long, value_enum, default_value_t = ImageFormat::Raw)]
    pub format: ImageFormat,
    /// Replace the destination if it exists. Only a regular file or a
    /// symlink is replaced (the link itself, never what it points to);
    /// devices, FIFOs, sockets and directories are always refused.
    #[arg(long)]
    pub force: bool,
    /// Do not take Longhorn's volume lock while reading. Use only when
    /// nothing deletes backups from the target meanwhile; needs no write
    /// access and skips the lock's settle time.
    #[arg(long)]
    pub no_lock: bool,
    /// How to show progress on standard error.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// What an export wrote.
#[derive(Debug, Clone, Copy)]
pub struct Written {
    /// Virtual size of the image.
    pub size: u64,
    /// Blocks read from the target.
    pub blocks: u64,
}

/// Exports a backup in the requested format.
pub async fn export(
    target: &Target,
    args: &Args,
    progress: &dyn Progress,
) -> anyhow::Result<Written> {
    match args.format {
        ImageFormat::Raw => {
            let options = ExportOptions {
                lock: !args.no_lock,
                overwrite: args.force,
                ..Default::default()
            };
            let s = target
                .export_raw(&args.volume, &args.backup, &args.to, &options, progress)
                .await?;
            Ok(Written {
                size: s.size,
                blocks: s.blocks_read,
            })
        }
        ImageFormat::Qcow2 => {
            let image = target.open_backup_image(&args.volume, &args.backup).await?;
            vmbackup_backupstore::check_destination(&args.to, args.force)?;
            // As for raw exports: blocks are content-addressed and verified,
            // so they are read while the lock settles, and the image is
            // renamed into place only once the lock is held.
            let lock = async {
                if args.no_lock {
                    Ok(None)
                } else {
                    target
                        .lock(&args.volume, LockKind::BackupOrRestore)
                        .await
                        .map(Some)
                        .map_err(anyhow::Error::from)
                }
            };
            // Created before the lock is taken, so that a destination that
            // cannot be written fails at once and leaves nothing behind.
            let partial = PartialFile::create(&args.to)?;
            // A failed lock stops the writing (the temporary file is
            // removed); a failed write lets the lock finish so that it is
            // released below.
            let write = async {
                Ok::<_, anyhow::Error>(write_qcow2(target, &image, partial, progress).await)
            };
            let (lock, written) = futures::future::try_join(lock, write).await?;
            let committed = written.and_then(|(partial, written)| {
                partial.commit(&args.to)?;
                Ok(written)
            });
            if let Some(lock) = lock {
                let released = lock.release().await;
                if committed.is_ok() {
                    released?;
                }
            }
            committed
        }
    }
}

/// Streams the blocks of a backup into a qcow2 image written to a temporary
/// file (`partial`), flushed to stable storage.
async fn write_qcow2(
    target: &Target,
    image: &BackupImage,
    partial: PartialFile,
    progress: &dyn Progress,
) -> anyhow::Result<(PartialFile, Written)> {
    let shown = partial.path().display().to_string();
    let file = partial.file().try_clone().with_context(|| shown.clone())?;
    let mut writer = Qcow2Writer::new(file, image.size, WriterOptions::default())
        .with_context(|| shown.clone())?;
    progress.start(image.stored_bytes());
    let mut blocks = std::pin::pin!(target.image_blocks(image, None));
    let mut count = 0u64;
    while let Some(block) = blocks.try_next().await? {
        let len = image
            .block_size
            .min(image.size.saturating_sub(block.offset));
        let data = block
            .data
            .get(..usize::try_from(len)?)
            .unwrap_or(&block.data);
        tokio::task::block_in_place(|| writer.write(block.offset, data))
            .with_context(|| shown.clone())?;
        progress.advance(len);
        count += 1;
    }
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        let (file, _) = writer.finish().with_context(|| shown.clone())?;
        file.sync_all().with_context(|| shown.clone())?;
        Ok(())
    })?;
    Ok((
        partial,
        Written {
            size: image.size,
            blocks: count,
        },
    ))
}
