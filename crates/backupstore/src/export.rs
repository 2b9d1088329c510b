//! Reading a backup as a volume image: block by block as a stream, or into a
//! sparse raw image file.

use crate::block::{self, Compression, ContentChecksum};
use crate::config::{BackupConfig, BlockEntry};
use crate::error::{Error, Result};
use crate::layout;
use crate::lock::LockKind;
use crate::progress::{Progress, read_concurrency};
use crate::source::BufferPool;
use crate::target::Target;
use futures::{Stream, StreamExt, TryStreamExt};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Blocks in flight; default: two more than the CPUs (three to eight),
    /// at most 8 MiB of data.
    pub concurrency: Option<usize>,
    /// Hold a backup/restore lock while reading, as Longhorn's restore does,
    /// so that a concurrent deletion of this backup fails instead of the
    /// export (needs write access; the lock settles for the target's settle
    /// time, 2 s by default, while blocks are already being read). Default
    /// false: every block is verified against its checksum either way, so a
    /// read without the lock is exact or fails; a backup deleted meanwhile
    /// gives [`Error::Deleted`].
    pub lock: bool,
    /// Replace an existing destination file. Default false.
    pub overwrite: bool,
    /// Flush the file to stable storage before renaming it into place.
    /// Default true.
    pub fsync: bool,
    /// The volume's size, taken instead of reading `volume.cfg`: for a
    /// target whose `volume.cfg` is lost or damaged. Default `None`.
    pub volume_size: Option<u64>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            concurrency: None,
            lock: false,
            overwrite: false,
            fsync: true,
            volume_size: None,
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
        self.open_backup_image_sized(volume, backup, None).await
    }

    /// Like [`Self::open_backup_image`]; with `volume_size`, `volume.cfg`
    /// is not read and that size stands for the one it records.
    pub async fn open_backup_image_sized(
        &self,
        volume: &str,
        backup: &str,
        volume_size: Option<u64>,
    ) -> Result<BackupImage> {
        let volume_size = match volume_size {
            Some(size) => size,
            None => self.volume_config(volume).await?.size.unsigned_abs(),
        };
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
        let size = config.image_size(&path, volume_size, block_size)?;
        Ok(BackupImage {
            volume: volume.to_owned(),
            backup: backup.to_owned(),
            config,
            block_size,
            compression,
            size,
        })
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
            .unwrap_or_else(|| read_concurrency(image.block_size))
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
        let image = self
            .open_backup_image_sized(volume, backup, options.volume_size)
            .await?;
        self.check_export_destination(dest, options.overwrite)?;
        // Created before any lock is taken, so that a destination that
        // cannot be written fails at once and leaves nothing on the target.
        let partial = PartialFile::create(dest)?;
        let (partial, summary) = self
            .read_guarded(
                &image,
                options.lock,
                self.export_to_partial(&image, partial, dest, options, progress),
            )
            .await?;
        partial.commit(dest)?;
        Ok(summary)
    }

    /// Runs `read`, a reading of `image`, under the rules of an unlocked or
    /// a locked read.
    ///
    /// Without `lock`, a file found missing because the backup was deleted
    /// meanwhile gives [`Error::Deleted`]. With `lock`, a backup/restore
    /// lock is taken while `read` runs (blocks are content-addressed and
    /// verified, so they can be read while the lock settles): a refused lock
    /// cancels `read`, a failed `read` still lets the lock settle so that it
    /// is released, and the result is returned once the lock was held and
    /// released.
    pub async fn read_guarded<T>(
        &self,
        image: &BackupImage,
        lock: bool,
        read: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        if !lock {
            return match read.await {
                Ok(done) => Ok(done),
                Err(e) => Err(self.explain_missing(image, e).await),
            };
        }
        let lock = self.lock(&image.volume, LockKind::BackupOrRestore);
        let read = async { Ok::<_, Error>(read.await) };
        let (lock, read) = futures::future::try_join(lock, read).await?;
        let released = lock.release().await;
        let done = read?;
        released?;
        Ok(done)
    }

    /// Turns a missing file met while reading `image` without a lock into
    /// [`Error::Deleted`] when the backup's config is gone too (a deletion
    /// removes the config first, then the blocks only it used). Any other
    /// error is returned unchanged.
    pub async fn explain_missing(&self, image: &BackupImage, error: Error) -> Error {
        let Error::NotFound { path } = &error else {
            return error;
        };
        let Ok(cfg) = layout::backup_cfg(&image.volume, &image.backup) else {
            return error;
        };
        match self.head(&cfg).await {
            Ok(None) => Error::Deleted {
                volume: image.volume.clone(),
                backup: image.backup.clone(),
                path: path.clone(),
            },
            _ => error,
        }
    }

    async fn export_to_partial(
        &self,
        image: &BackupImage,
        partial: PartialFile,
        dest: &Path,
        options: &ExportOptions,
        progress: &dyn Progress,
    ) -> Result<(PartialFile, ExportSummary)> {
        // Errors name the file the caller asked for, not the temporary one.
        let file = Arc::new(partial.file.try_clone().map_err(|e| Error::io(dest, e))?);
        file.set_len(image.size).map_err(|e| Error::io(dest, e))?;
        progress.start(image.stored_bytes());

        let n = options
            .concurrency
            .unwrap_or_else(|| read_concurrency(image.block_size))
            .max(1);
        let size = image.size;
        let tmp_path = dest.to_path_buf();
        // Two buffers per block in flight (the file and its content).
        let pool = BufferPool::new(2 * n);
        let flusher = Arc::new(EarlyFlush::new(options.fsync));
        let counts: Vec<bool> = futures::stream::iter(image.config.blocks.clone())
            .map(|b| {
                let file = Arc::clone(&file);
                let tmp_path = tmp_path.clone();
                let pool = Arc::clone(&pool);
                let flusher = Arc::clone(&flusher);
                async move {
                    let data = self
                        .read_block_pooled(
                            &image.volume,
                            &b.checksum,
                            image.compression,
                            image.block_size,
                            &pool,
                            // The SHA-512 checked on every block is the
                            // stronger check of the same content.
                            ContentChecksum::Skip,
                        )
                        .await?;
                    let len = usize::try_from(image.block_size.min(size.saturating_sub(b.offset)))
                        .unwrap_or(data.len());
                    let written = tokio::task::spawn_blocking(move || -> Result<bool> {
                        let chunk = &data[..len.min(data.len())];
                        let written = if block::is_zero(chunk) {
                            Ok(false)
                        } else {
                            std::os::unix::fs::FileExt::write_all_at(&*file, chunk, b.offset)
                                .map(|()| true)
                                .map_err(|e| Error::io(&tmp_path, e))
                        };
                        if written.is_ok() {
                            flusher.wrote(&file, chunk.len() as u64);
                        }
                        pool.give(data);
                        written
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
            let p = dest.to_path_buf();
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

/// Starts writing data back to disk while the export goes on, so that the
/// final flush has only the tail left to wait for: after every
/// [`EarlyFlush::EVERY`] bytes written, a background `fdatasync` runs
/// (never more than one at a time). Its errors are left to the final
/// `fsync`, which reports them.
struct EarlyFlush {
    enabled: bool,
    pending: std::sync::atomic::AtomicU64,
    running: Arc<std::sync::atomic::AtomicBool>,
}

impl EarlyFlush {
    const EVERY: u64 = 32 << 20;

    fn new(enabled: bool) -> Self {
        EarlyFlush {
            enabled,
            pending: std::sync::atomic::AtomicU64::new(0),
            running: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Records `len` bytes written to `file`.
    fn wrote(&self, file: &Arc<File>, len: u64) {
        use std::sync::atomic::Ordering;
        if !self.enabled || self.pending.fetch_add(len, Ordering::Relaxed) + len < Self::EVERY {
            return;
        }
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.pending.store(0, Ordering::Relaxed);
        let file = Arc::clone(file);
        let running = Arc::clone(&self.running);
        // Called on a blocking-pool thread of the export's runtime.
        drop(tokio::task::spawn_blocking(move || {
            let _ = file.sync_data();
            running.store(false, Ordering::Release);
        }));
    }
}

impl Target {
    /// [`check_destination`], and for a local target, that `dest` does not
    /// lie inside the target's directory: an export never writes into the
    /// target it reads, whatever `overwrite` says. (A destination whose
    /// folder does not exist is left to fail when the file is created.)
    pub fn check_export_destination(&self, dest: &Path, overwrite: bool) -> Result<()> {
        check_destination(dest, overwrite)?;
        let Some(root) = self.local_root() else {
            return Ok(());
        };
        let folder = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let Ok(folder) = std::fs::canonicalize(folder) else {
            return Ok(());
        };
        let resolved = match dest.file_name() {
            Some(name) => folder.join(name),
            None => folder,
        };
        if resolved.starts_with(root) {
            return Err(Error::io(
                dest,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "lies inside the backup target {}: an export never writes into the \
                         target it reads",
                        root.display()
                    ),
                ),
            ));
        }
        Ok(())
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
            .map_err(|e| {
                let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
                match folder {
                    Some(f) if e.kind() == std::io::ErrorKind::NotFound && !f.exists() => {
                        Error::io(
                            dest,
                            std::io::Error::new(
                                e.kind(),
                                format!("its folder {} does not exist", f.display()),
                            ),
                        )
                    }
                    _ => Error::io(dest, e),
                }
            })?;
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

    #[test]
    fn a_destination_in_a_missing_folder_says_which() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("nodir").join("x.raw");
        let e = PartialFile::create(&dest).unwrap_err().to_string();
        assert!(
            e.contains(&format!(
                "its folder {} does not exist",
                dir.path().join("nodir").display()
            )),
            "{e}"
        );
    }
}
