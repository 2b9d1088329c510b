//! Reading a backup as a volume image: block by block as a stream, or into a
//! sparse raw image file.

use crate::block::{self, Compression};
use crate::config::{BackupConfig, BlockEntry, LABEL_IMAGE_SIZE};
use crate::error::{Error, Result};
use crate::layout;
use crate::lock::LockKind;
use crate::name::Checksum;
use crate::progress::{Progress, default_concurrency};
use crate::target::Target;
use futures::{Stream, StreamExt, TryStreamExt};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest compressed block file accepted for a block size: room for the
/// worst-case expansion of gzip and LZ4 on incompressible data.
fn max_block_file_size(block_size: u64) -> u64 {
    block_size + block_size / 8 + 4096
}

/// A complete backup, ready to be read as an image.
#[derive(Debug, Clone)]
pub struct BackupImage {
    /// Volume name.
    pub volume: String,
    /// Backup name.
    pub backup: String,
    /// The backup config.
    pub config: BackupConfig,
    /// Block size the backup declares.
    pub block_size: u64,
    /// Compression of its blocks.
    pub compression: Compression,
    /// Size of the image in bytes.
    pub size: u64,
}

impl BackupImage {
    /// Bytes held in stored blocks (the rest of the image is zeros).
    pub fn stored_bytes(&self) -> u64 {
        self.config
            .blocks
            .iter()
            .map(|b| self.block_size.min(self.size.saturating_sub(b.offset)))
            .sum()
    }
}

/// One block of an image, decompressed and verified.
#[derive(Debug, Clone)]
pub struct ImageBlock {
    /// Offset in the image.
    pub offset: u64,
    /// Exactly the block size; the last block may extend past the image size
    /// (then the excess is zero padding).
    pub data: Vec<u8>,
}

/// Options for [`Target::export_raw`].
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Blocks in flight; default: one per CPU, at most 8 MiB of data.
    pub concurrency: Option<usize>,
    /// Hold a backup/restore lock while reading, as Longhorn's restore does,
    /// so that no concurrent deletion removes blocks (needs write access;
    /// costs Longhorn's 2 s settle time). Default true.
    pub lock: bool,
    /// Replace an existing destination file. Default false.
    pub overwrite: bool,
    /// Flush the file to stable storage before renaming it into place.
    /// Default true.
    pub fsync: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            concurrency: None,
            lock: true,
            overwrite: false,
            fsync: true,
        }
    }
}

/// What an export did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Image size written.
    pub size: u64,
    /// Blocks read from the target.
    pub blocks_read: u64,
    /// Blocks left as holes because their content was all zeros.
    pub zero_blocks: u64,
}

impl Target {
    /// Loads a complete backup for reading, and works out its image size:
    /// the volume size from `volume.cfg`, or the exact size an import
    /// recorded. An in-progress backup gives [`Error::InProgress`].
    pub async fn open_backup_image(&self, volume: &str, backup: &str) -> Result<BackupImage> {
        let vol = self.volume_config(volume).await?;
        let volume_size = vol.size.unsigned_abs();
        let config = self
            .backup_config_checked(volume, backup, Some(volume_size))
            .await?;
        if !config.is_complete() {
            return Err(Error::InProgress {
                volume: volume.to_owned(),
                backup: backup.to_owned(),
            });
        }
        let path = layout::backup_cfg(volume, backup)?;
        let block_size = config.block_size(&path)?;
        let compression = config.compression(&path)?;
        let mut size = volume_size;
        if let Some(raw) = config.labels.as_ref().and_then(|l| l.get(LABEL_IMAGE_SIZE)) {
            let field = format!("Labels[{LABEL_IMAGE_SIZE:?}]");
            let exact: u64 = raw
                .parse()
                .map_err(|_| Error::field(&path, &field, format!("{raw:?} is not a byte count")))?;
            let end = config
                .blocks
                .iter()
                .map(|b| b.offset)
                .max()
                .map_or(0, |o| o + 1);
            if exact > volume_size.div_ceil(block_size) * block_size || exact < end {
                return Err(Error::field(
                    &path,
                    &field,
                    format!(
                        "{exact} does not fit the volume size {volume_size} and the stored blocks"
                    ),
                ));
            }
            size = exact;
        }
        Ok(BackupImage {
            volume: volume.to_owned(),
            backup: backup.to_owned(),
            config,
            block_size,
            compression,
            size,
        })
    }

    /// Reads one block file, decompresses it and checks its checksum.
    pub async fn read_block(
        &self,
        volume: &str,
        checksum: &Checksum,
        compression: Compression,
        block_size: u64,
    ) -> Result<Vec<u8>> {
        let path = layout::block_path(volume, checksum)?;
        let bytes = self
            .get_bounded(&path, max_block_file_size(block_size))
            .await?;
        let expected = *checksum;
        tokio::task::spawn_blocking(move || {
            let data = block::decompress(compression, &bytes, block_size, &path)?;
            let actual = block::checksum(&data);
            if actual != expected {
                return Err(Error::Checksum {
                    path,
                    actual: actual.to_string(),
                });
            }
            Ok(data)
        })
        .await
        .map_err(Error::task)?
    }

    /// The stored blocks of a backup in offset order, decompressed and
    /// verified, with at most `concurrency` blocks in flight. Offsets not
    /// listed are zeros. The stream stops at the first damaged block.
    pub fn image_blocks<'a>(
        &'a self,
        image: &'a BackupImage,
        concurrency: Option<usize>,
    ) -> impl Stream<Item = Result<ImageBlock>> + 'a {
        let n = concurrency
            .unwrap_or_else(|| default_concurrency(image.block_size))
            .max(1);
        let mut blocks: Vec<BlockEntry> = image.config.blocks.clone();
        blocks.sort();
        futures::stream::iter(blocks)
            .map(move |b| async move {
                let data = self
                    .read_block(
                        &image.volume,
                        &b.checksum,
                        image.compression,
                        image.block_size,
                    )
                    .await?;
                Ok(ImageBlock {
                    offset: b.offset,
                    data,
                })
            })
            .buffered(n)
    }

    /// Writes a backup as a sparse raw image at `dest`. The data goes to a
    /// temporary file next to `dest` that is renamed into place only when
    /// complete; on error or cancellation the temporary file is removed, so
    /// nothing partial is ever found under the final name. Blocks that are
    /// absent or all zeros become holes.
    pub async fn export_raw(
        &self,
        volume: &str,
        backup: &str,
        dest: &Path,
        options: &ExportOptions,
        progress: &dyn Progress,
    ) -> Result<ExportSummary> {
        let image = self.open_backup_image(volume, backup).await?;
        check_destination(dest, options.overwrite)?;
        // Created before the lock is taken, so that a destination that
        // cannot be written fails at once and leaves nothing on the target.
        let partial = PartialFile::create(dest)?;
        // Blocks are content-addressed and verified, so they can be read
        // while the lock settles; the file is renamed into place only once
        // the lock is held, i.e. once no deletion can have run meanwhile.
        let lock = async {
            if options.lock {
                self.lock(volume, LockKind::BackupOrRestore).await.map(Some)
            } else {
                Ok(None)
            }
        };
        // A failed lock stops the writing (the temporary file is removed);
        // a failed write lets the lock finish so that it is released below.
        let write = async {
            Ok::<_, Error>(
                self.export_to_partial(&image, partial, options, progress)
                    .await,
            )
        };
        let (lock, written) = futures::future::try_join(lock, write).await?;
        let committed = written.and_then(|(partial, summary)| {
            partial.commit(dest)?;
            Ok(summary)
        });
        if let Some(lock) = lock {
            let released = lock.release().await;
            if committed.is_ok() {
                released?;
            }
        }
        committed
    }

    async fn export_to_partial(
        &self,
        image: &BackupImage,
        partial: PartialFile,
        options: &ExportOptions,
        progress: &dyn Progress,
    ) -> Result<(PartialFile, ExportSummary)> {
        let file = Arc::new(
            partial
                .file
                .try_clone()
                .map_err(|e| Error::io(&partial.path, e))?,
        );
        file.set_len(image.size)
            .map_err(|e| Error::io(&partial.path, e))?;
        progress.start(image.stored_bytes());

        let n = options
            .concurrency
            .unwrap_or_else(|| default_concurrency(image.block_size))
            .max(1);
        let size = image.size;
        let tmp_path = partial.path.clone();
        let counts: Vec<bool> = futures::stream::iter(image.config.blocks.clone())
            .map(|b| {
                let file = Arc::clone(&file);
                let tmp_path = tmp_path.clone();
                async move {
                    let data = self
                        .read_block(
                            &image.volume,
                            &b.checksum,
                            image.compression,
                            image.block_size,
                        )
                        .await?;
                    let len = usize::try_from(image.block_size.min(size.saturating_sub(b.offset)))
                        .unwrap_or(data.len());
                    let written = tokio::task::spawn_blocking(move || -> Result<bool> {
                        let chunk = &data[..len.min(data.len())];
                        if block::is_zero(chunk) {
                            return Ok(false);
                        }
                        std::os::unix::fs::FileExt::write_all_at(&*file, chunk, b.offset)
                            .map_err(|e| Error::io(&tmp_path, e))?;
                        Ok(true)
                    })
                    .await
                    .map_err(Error::task)??;
                    progress.advance(len as u64);
                    Ok::<bool, Error>(written)
                }
            })
            .buffer_unordered(n)
            .try_collect()
            .await?;
        if options.fsync {
            let file = Arc::clone(&file);
            let p = partial.path.clone();
            tokio::task::spawn_blocking(move || file.sync_all().map_err(|e| Error::io(&p, e)))
                .await
                .map_err(Error::task)??;
        }
        drop(file);
        let zero_blocks = counts.iter().filter(|w| !**w).count() as u64;
        Ok((
            partial,
            ExportSummary {
                size,
                blocks_read: counts.len() as u64,
                zero_blocks,
            },
        ))
    }
}

/// Checks that an export may write `dest`, without following a symlink
/// there.
///
/// - Nothing at `dest` (not even a dangling symlink): accepted.
/// - Anything at `dest` without `overwrite`: refused, whatever its kind.
/// - With `overwrite`: a regular file or a symlink is accepted; the rename
///   that completes the export replaces the file or *the link itself*, so
///   nothing is ever written through a link. Devices, FIFOs, sockets and
///   directories are refused.
pub fn check_destination(dest: &Path, overwrite: bool) -> Result<()> {
    let meta = match std::fs::symlink_metadata(dest) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dest, e)),
    };
    let kind = file_kind(&meta.file_type());
    if !overwrite {
        return Err(Error::io(
            dest,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{kind} exists there (use --force to replace it)"),
            ),
        ));
    }
    if meta.is_file() || meta.file_type().is_symlink() {
        return Ok(());
    }
    Err(Error::io(
        dest,
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("refused to replace a {kind}: only a regular file or a symlink is replaced"),
        ),
    ))
}

/// A word for the kind of a file, for messages.
pub(crate) fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "symlink"
    } else if t.is_file() {
        "regular file"
    } else if t.is_dir() {
        "directory"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// A file being written under a temporary name next to its destination
/// (`.<name>.partial-<random>`), so that nothing incomplete is ever found
/// under the final name. It is removed when dropped (an error, a
/// cancelled future) unless [`PartialFile::commit`] renamed it into place.
/// Writers of other image formats can use it the way [`Target::export_raw`]
/// does.
#[derive(Debug)]
pub struct PartialFile {
    path: PathBuf,
    file: File,
    committed: bool,
}

impl PartialFile {
    /// Creates the temporary file in the destination's directory.
    pub fn create(dest: &Path) -> Result<Self> {
        let name = dest.file_name().ok_or_else(|| {
            Error::io(dest, std::io::Error::other("destination has no file name"))
        })?;
        let tmp_name = format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            crate::name::generate_name("x").trim_start_matches("x-")
        );
        let path = dest.with_file_name(tmp_name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(dest, e))?;
        Ok(PartialFile {
            path,
            file,
            committed: false,
        })
    }

    /// The temporary file, open for reading and writing.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Its temporary path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to its destination (replacing what is there).
    pub fn commit(mut self, dest: &Path) -> Result<()> {
        std::fs::rename(&self.path, dest).map_err(|e| Error::io(dest, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod destination_tests {
    use super::*;

    #[test]
    fn missing_destination_is_accepted_with_or_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new.raw");
        check_destination(&p, false).unwrap();
        check_destination(&p, true).unwrap();
    }

    #[test]
    fn any_existing_path_is_refused_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file.raw");
        std::fs::write(&file, b"x").unwrap();
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        for p in [&file, &dangling, &dir.path().to_path_buf()] {
            let e = check_destination(p, false).unwrap_err().to_string();
            assert!(e.contains("--force"), "{e}");
        }
    }

    #[test]
    fn force_replaces_only_regular_files_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file.raw");
        std::fs::write(&file, b"x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        check_destination(&file, true).unwrap();
        check_destination(&link, true).unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        for (p, kind) in [
            (std::path::Path::new("/dev/null"), "character device"),
            (fifo.as_path(), "FIFO"),
            (dir.path(), "directory"),
        ] {
            let e = check_destination(p, true).unwrap_err().to_string();
            assert!(
                e.contains(kind) && e.contains(&p.display().to_string()),
                "{e}"
            );
        }
    }
}
