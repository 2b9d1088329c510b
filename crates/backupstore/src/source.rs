//! Reading a raw disk image to back it up: its size, where its data is
//! (holes found with `SEEK_DATA`/`SEEK_HOLE` are skipped without reading),
//! and its blocks.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// An open raw image (a regular file or a block device).
#[derive(Debug, Clone)]
pub(crate) struct ImageSource {
    file: Arc<File>,
    path: PathBuf,
    size: u64,
}

impl ImageSource {
    /// Opens a regular file or a block device. Anything else (a FIFO, a
    /// socket, a character device such as `/dev/zero`, a directory) is
    /// refused before it is opened, so that opening cannot block; an image
    /// of 0 bytes is refused too.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let refuse = |reason: String| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
            )
        };
        let before = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        let file_type = before.file_type();
        if !before.is_file() && !std::os::unix::fs::FileTypeExt::is_block_device(&file_type) {
            return Err(refuse(format!(
                "is a {}, not a regular file or a block device",
                crate::export::file_kind(&file_type)
            )));
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let meta = file.metadata().map_err(|e| Error::io(path, e))?;
        let size = if meta.is_file() {
            meta.len()
        } else {
            file.seek(SeekFrom::End(0))
                .map_err(|e| Error::io(path, e))?
        };
        if size == 0 {
            return Err(refuse("the image is empty (0 bytes)".into()));
        }
        Ok(ImageSource {
            file: Arc::new(file),
            path: path.to_owned(),
            size,
        })
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Ranges of block indexes that may hold data. Blocks lying entirely in
    /// holes are left out; when the filesystem cannot report holes, every
    /// block is listed.
    pub(crate) fn data_block_ranges(&self, block_size: u64) -> Vec<Range<u64>> {
        let blocks = self.size.div_ceil(block_size);
        let mut out: Vec<Range<u64>> = Vec::new();
        let mut pos = 0u64;
        while pos < self.size {
            let data = match rustix::fs::seek(&*self.file, rustix::fs::SeekFrom::Data(pos)) {
                Ok(d) => d,
                Err(rustix::io::Errno::NXIO) => break,
                Err(_) => return std::iter::once(0..blocks).collect(),
            };
            let hole = match rustix::fs::seek(&*self.file, rustix::fs::SeekFrom::Hole(data)) {
                Ok(h) => h.min(self.size),
                Err(_) => return std::iter::once(0..blocks).collect(),
            };
            if hole <= data {
                break;
            }
            let first = data / block_size;
            let end = hole.div_ceil(block_size);
            match out.last_mut() {
                Some(last) if last.end >= first => last.end = last.end.max(end),
                _ => out.push(first..end),
            }
            pos = hole;
        }
        out
    }

    /// Reads block `index`, zero-padded to `block_size` past the end of the
    /// image.
    #[cfg(test)]
    pub(crate) fn read_block(&self, index: u64, block_size: u64) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.read_block_into(index, block_size, &mut buf)?;
        Ok(buf)
    }

    /// Like [`Self::read_block`], into `buf` (resized to `block_size`), so
    /// that a buffer can serve many blocks.
    pub(crate) fn read_block_into(
        &self,
        index: u64,
        block_size: u64,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let offset = index * block_size;
        let size = usize::try_from(block_size)
            .map_err(|_| Error::Unsupported("block size too large".into()))?;
        let len = usize::try_from(block_size.min(self.size.saturating_sub(offset)))
            .unwrap_or(size)
            .min(size);
        buf.resize(size, 0);
        self.file
            .read_exact_at(&mut buf[..len], offset)
            .map_err(|e| Error::io(&self.path, e))?;
        buf[len..].fill(0);
        Ok(())
    }

    /// Reads block `index` piece by piece into `piece` and hands each piece
    /// to `each`, zero-padded to `block_size` past the end of the image.
    /// Pieces small enough to stay in the CPU cache let the caller hash them
    /// while they are still there.
    pub(crate) fn read_block_pieces(
        &self,
        index: u64,
        block_size: u64,
        piece: &mut [u8],
        mut each: impl FnMut(&[u8]),
    ) -> Result<()> {
        let offset = index
            .checked_mul(block_size)
            .ok_or_else(|| Error::Unsupported("block offset out of range".into()))?;
        if piece.is_empty() {
            return Err(Error::Unsupported("no room to read a block into".into()));
        }
        let end = offset.saturating_add(block_size);
        let step = piece.len() as u64;
        let mut at = offset;
        while at < end {
            let want = step.min(end - at);
            // usize: `want` is at most `piece.len()`.
            let len = want as usize;
            let stored = self.size.saturating_sub(at).min(want) as usize;
            self.file
                .read_exact_at(&mut piece[..stored], at)
                .map_err(|e| Error::io(&self.path, e))?;
            piece[stored..len].fill(0);
            each(&piece[..len]);
            at += want;
        }
        Ok(())
    }
}

/// Block buffers kept for reuse while an image is read, so that the
/// allocator does not hand pages back to the system and fault them in again
/// for every block. At most `keep` buffers are kept.
#[derive(Debug)]
pub(crate) struct BufferPool {
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl BufferPool {
    pub(crate) fn new(keep: usize) -> Arc<Self> {
        Arc::new(BufferPool {
            free: Mutex::new(Vec::new()),
            keep,
        })
    }

    /// A buffer from the pool, or a new empty one.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.free
            .lock()
            .ok()
            .and_then(|mut free| free.pop())
            .unwrap_or_default()
    }

    /// Returns a buffer for reuse (dropped when the pool is full).
    pub(crate) fn give(&self, buf: Vec<u8>) {
        if let Ok(mut free) = self.free.lock()
            && free.len() < self.keep
        {
            free.push(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn refuses_what_is_not_an_image_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        )
        .unwrap();
        let empty = dir.path().join("empty.raw");
        std::fs::write(&empty, b"").unwrap();
        for (p, why) in [
            (fifo.as_path(), "FIFO"),
            (Path::new("/dev/zero"), "character device"),
            (Path::new("/dev/null"), "character device"),
            (dir.path(), "directory"),
            (empty.as_path(), "empty"),
        ] {
            let e = ImageSource::open(p).unwrap_err().to_string();
            assert!(
                e.contains(why) && e.contains(&p.display().to_string()),
                "{e}"
            );
        }
    }

    #[test]
    fn holes_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let f = File::create(&path).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(&[1u8; 10], 10 << 20).unwrap();
        f.write_all_at(&[1u8; 10], (40 << 20) - 5).unwrap();
        drop(f);
        let src = ImageSource::open(&path).unwrap();
        assert_eq!(src.size(), 64 << 20);
        let ranges = src.data_block_ranges(2 << 20);
        let blocks: Vec<u64> = ranges.into_iter().flatten().collect();
        // Filesystems report data at their own granularity; the blocks that
        // hold data must be there, and most of the image must be skipped.
        assert!(blocks.contains(&5) && blocks.contains(&19), "{blocks:?}");
        assert!(blocks.len() < 32, "{blocks:?}");
    }

    #[test]
    fn last_block_is_padded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 5000]).unwrap();
        drop(f);
        let src = ImageSource::open(&path).unwrap();
        let b = src.read_block(1, 4096).unwrap();
        assert_eq!(b.len(), 4096);
        assert!(b[..904].iter().all(|x| *x == 7) && b[904..].iter().all(|x| *x == 0));
        assert_eq!(src.data_block_ranges(4096).into_iter().flatten().count(), 2);
    }

    #[test]
    fn reused_buffers_are_padded_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 5000]).unwrap();
        drop(f);
        let src = ImageSource::open(&path).unwrap();
        let pool = BufferPool::new(1);
        let mut buf = pool.take();
        src.read_block_into(0, 4096, &mut buf).unwrap();
        assert!(buf.iter().all(|x| *x == 7));
        pool.give(buf);
        pool.give(vec![1; 3]);
        let mut buf = pool.take();
        assert_eq!(buf.len(), 4096, "the kept buffer comes back");
        src.read_block_into(1, 4096, &mut buf).unwrap();
        assert!(buf[..904].iter().all(|x| *x == 7) && buf[904..].iter().all(|x| *x == 0));
        assert!(pool.take().is_empty(), "only one buffer is kept");
    }

    #[test]
    fn pieces_cover_the_block_and_pad_it_past_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("img");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8 + 1).collect();
        std::fs::write(&path, &data).unwrap();
        let src = ImageSource::open(&path).unwrap();
        for piece_len in [1000, 4096, 8192, 3000] {
            for index in 0..3u64 {
                let mut seen = Vec::new();
                let mut piece = vec![0xAAu8; piece_len];
                src.read_block_pieces(index, 8192, &mut piece, |p| seen.extend_from_slice(p))
                    .unwrap();
                assert_eq!(
                    seen,
                    src.read_block(index, 8192).unwrap(),
                    "{piece_len} {index}"
                );
            }
        }
        assert!(src.read_block_pieces(0, 8192, &mut [], |_| {}).is_err());
        assert!(
            src.read_block_pieces(u64::MAX, 8192, &mut [0; 16], |_| {})
                .is_err()
        );
    }
}
