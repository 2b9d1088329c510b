//! Reading block files: fetched from the target, decompressed and checked
//! against their checksum, into buffers that are reused from block to block
//! (a 2 MiB allocation per block costs more in page faults than the
//! decompression itself).

use crate::block::{self, Compression, ContentChecksum};
use crate::error::{Error, Result};
use crate::layout;
use crate::name::Checksum;
use crate::source::BufferPool;
use crate::target::Target;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Largest compressed block file accepted for a block size: room for the
/// worst-case expansion of gzip and LZ4 on incompressible data.
pub(crate) fn max_block_file_size(block_size: u64) -> u64 {
    block_size + block_size / 8 + 4096
}

impl Target {
    /// Reads one block file, decompresses it and checks its checksum.
    pub async fn read_block(
        &self,
        volume: &str,
        checksum: &Checksum,
        compression: Compression,
        block_size: u64,
    ) -> Result<Vec<u8>> {
        let pool = BufferPool::new(0);
        self.read_block_pooled(
            volume,
            checksum,
            compression,
            block_size,
            &pool,
            ContentChecksum::Check,
        )
        .await
    }

    /// Like [`Self::read_block`], with buffers from `pool`: the returned
    /// block should be given back to it once used. `frame` tells whether an
    /// LZ4 frame's own content checksum is checked too (the block's SHA-512
    /// always is).
    pub(crate) async fn read_block_pooled(
        &self,
        volume: &str,
        checksum: &Checksum,
        compression: Compression,
        block_size: u64,
        pool: &Arc<BufferPool>,
        frame: ContentChecksum,
    ) -> Result<Vec<u8>> {
        let path = layout::block_path(volume, checksum)?;
        let limit = max_block_file_size(block_size);
        // A local target's file is read straight into a pooled buffer; any
        // other target's comes back from the object store.
        let local = self.local_file(&path)?;
        let fetched = match local {
            Some(_) => None,
            None => Some(self.get_bounded(&path, limit).await?),
        };
        let pool = Arc::clone(pool);
        let expected = *checksum;
        tokio::task::spawn_blocking(move || {
            let mut file = pool.take();
            let bytes: &[u8] = match (&fetched, &local) {
                (Some(bytes), _) => bytes,
                (None, Some(local)) => {
                    read_local(local, &path, limit, &mut file)?;
                    &file
                }
                (None, None) => &[],
            };
            let mut data = pool.take();
            let checked =
                block::decompress_block(compression, bytes, block_size, &path, &mut data, frame)
                    .and_then(|()| {
                        let actual = block::checksum(&data);
                        if actual == expected {
                            Ok(())
                        } else {
                            Err(Error::Checksum {
                                path,
                                actual: actual.to_string(),
                            })
                        }
                    });
            pool.give(file);
            match checked {
                Ok(()) => Ok(data),
                Err(e) => {
                    pool.give(data);
                    Err(e)
                }
            }
        })
        .await
        .map_err(Error::task)?
    }
}

/// Reads a local block file into `buf`, refusing one larger than `limit`.
/// Errors name `rel`, the file's path relative to the target root.
fn read_local(local: &Path, rel: &str, limit: u64, buf: &mut Vec<u8>) -> Result<()> {
    let failed = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound {
            path: rel.to_owned(),
        },
        _ => Error::io(rel, e),
    };
    let file = std::fs::File::open(local).map_err(failed)?;
    let size = file.metadata().map_err(failed)?.len();
    if size > limit {
        return Err(Error::TooLarge {
            path: rel.to_owned(),
            size,
            limit,
        });
    }
    buf.clear();
    // The size may change under us: never read more than the bound.
    file.take(limit + 1).read_to_end(buf).map_err(failed)?;
    if buf.len() as u64 > limit {
        return Err(Error::TooLarge {
            path: rel.to_owned(),
            size: buf.len() as u64,
            limit,
        });
    }
    Ok(())
}
