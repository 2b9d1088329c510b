//! `vmbackup target export`: a backup as a sparse raw image or a qcow2
//! image, written under a temporary name and renamed into place when
//! complete.

use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use vmbackup_backupstore::{BackupImage, Error, ExportOptions, PartialFile, Progress, Target};
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
    /// Hold Longhorn's volume lock while reading, so that a deletion of
    /// the backup meanwhile fails instead of the export. Needs write access
    /// to the target. Without it, every block is still verified, and a
    /// backup deleted meanwhile stops the export with an error saying so.
    #[arg(long)]
    pub lock: bool,
    /// Do not flush the image to stable storage before renaming it into
    /// place (as `cp` does not). Faster; after a power loss the file may
    /// then be incomplete even though it has its final name. By default
    /// the image is flushed first, so a file under the final name is
    /// always whole.
    #[arg(long)]
    pub no_sync: bool,
    /// The volume's size (bytes, or with a unit: `10Gi`), taken instead of
    /// reading the volume's `volume.cfg`: for a target on which it is lost
    /// or damaged. Harvester's VM backup metadata records it as
    /// `volumeSize`.
    #[arg(long, value_name = "SIZE", value_parser = super::units::parse_size)]
    pub volume_size: Option<u64>,
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
    write(target, args, progress).await.map_err(|e| {
        let volume_cfg = vmbackup_backupstore::layout::volume_cfg(&args.volume).ok();
        let about_volume_cfg = e
            .downcast_ref::<Error>()
            .and_then(Error::target_file)
            .is_some_and(|f| Some(f) == volume_cfg.as_deref());
        if about_volume_cfg && args.volume_size.is_none() {
            e.context(
                "the volume's volume.cfg, which gives the image size, cannot be used; \
                 --volume-size SIZE exports without it",
            )
        } else {
            e
        }
    })
}

async fn write(target: &Target, args: &Args, progress: &dyn Progress) -> anyhow::Result<Written> {
    match args.format {
        ImageFormat::Raw => {
            let options = ExportOptions {
                lock: args.lock,
                overwrite: args.force,
                fsync: !args.no_sync,
                volume_size: args.volume_size,
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
            let image = target
                .open_backup_image_sized(&args.volume, &args.backup, args.volume_size)
                .await?;
            target.check_export_destination(&args.to, args.force)?;
            // Created before any lock is taken, so that a destination that
            // cannot be written fails at once and leaves nothing behind.
            let partial = PartialFile::create(&args.to)?;
            let (partial, written) = target
                .read_guarded(
                    &image,
                    args.lock,
                    write_qcow2(target, &image, partial, &args.to, !args.no_sync, progress),
                )
                .await?;
            partial.commit(&args.to)?;
            Ok(written)
        }
    }
}

/// Streams the blocks of a backup into a qcow2 image written to a temporary
/// file (`partial`), flushed to stable storage when `sync`. Write errors
/// name `dest`, the file the user asked for.
async fn write_qcow2(
    target: &Target,
    image: &BackupImage,
    partial: PartialFile,
    dest: &Path,
    sync: bool,
    progress: &dyn Progress,
) -> Result<(PartialFile, Written), Error> {
    let failed = |e: &dyn std::fmt::Display| Error::Io {
        path: dest.display().to_string(),
        error: std::io::Error::other(e.to_string()),
    };
    let file = partial.file().try_clone().map_err(|e| failed(&e))?;
    let mut writer =
        Qcow2Writer::new(file, image.size, WriterOptions::default()).map_err(|e| failed(&e))?;
    progress.start(image.stored_bytes());
    let mut blocks = std::pin::pin!(target.image_blocks(image, None));
    let mut count = 0u64;
    while let Some(block) = blocks.try_next().await? {
        let len = image
            .block_size
            .min(image.size.saturating_sub(block.offset));
        let data = usize::try_from(len)
            .ok()
            .and_then(|len| block.data.get(..len))
            .unwrap_or(&block.data);
        tokio::task::block_in_place(|| writer.write(block.offset, data)).map_err(|e| failed(&e))?;
        progress.advance(len);
        count += 1;
    }
    tokio::task::block_in_place(|| {
        let (file, _) = writer.finish().map_err(|e| failed(&e))?;
        if sync {
            file.sync_all().map_err(|e| failed(&e))?;
        }
        Ok::<(), Error>(())
    })?;
    Ok((
        partial,
        Written {
            size: image.size,
            blocks: count,
        },
    ))
}
