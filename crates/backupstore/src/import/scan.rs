//! The first pass over an image: which blocks hold data, and their
//! checksums.

use super::cache::{Fingerprint, FingerprintCache, fingerprint};
use crate::block;
use crate::error::{Error, Result};
use crate::name::Checksum;
use crate::progress::Progress;
use crate::source::{BufferPool, ImageSource};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The checksum and fingerprint of every non-zero block, by block index.
pub(super) struct Scan {
    /// `(index, checksum, fingerprint)`, sorted by index.
    pub(super) blocks: Vec<(u64, Checksum, Fingerprint)>,
    /// Blocks that are holes or all zeros.
    pub(super) zero_blocks: u64,
    /// Blocks whose SHA-512 had to be computed (not known to the cache).
    pub(super) hashed: u64,
}

/// Reads every block that may hold data, `n` at a time. A block's checksum
/// comes from the cache when the cache saw the same content at the same
/// index, and is computed otherwise; every block's fingerprint and checksum
/// are recorded in the cache for the next import.
pub(super) async fn scan(
    source: &ImageSource,
    bs: u64,
    n: usize,
    cache: Option<&Arc<FingerprintCache>>,
    progress: &dyn Progress,
) -> Result<Scan> {
    let ranges = source.data_block_ranges(bs);
    let total_blocks = source.size().div_ceil(bs);
    let image_size = source.size();
    // (checksum, fingerprint, whether the checksum was computed)
    type Found = Option<(Checksum, Fingerprint, bool)>;
    let pool = BufferPool::new(n);
    let warned = Arc::new(AtomicBool::new(false));
    let found: Vec<(u64, Found)> = futures::stream::iter(ranges.into_iter().flatten())
        .map(|index| {
            let source = source.clone();
            let pool = Arc::clone(&pool);
            let cache = cache.cloned();
            let warned = Arc::clone(&warned);
            async move {
                let found = tokio::task::spawn_blocking(move || -> Result<Found> {
                    let mut data = pool.take();
                    let read = source.read_block_into(index, bs, &mut data);
                    let found = read.map(|()| {
                        if block::is_zero(&data) {
                            return None;
                        }
                        let fp = fingerprint(&data);
                        let known = cache.as_ref().and_then(|c| c.lookup(index, &fp));
                        let computed = known.is_none();
                        let sum = known.unwrap_or_else(|| block::checksum(&data));
                        if let Some(cache) = &cache
                            && let Err(e) = cache.record(index, &fp, &sum)
                            && !warned.swap(true, Ordering::Relaxed)
                        {
                            tracing::warn!(error = %e, "cannot write the fingerprint cache");
                        }
                        Some((sum, fp, computed))
                    });
                    pool.give(data);
                    found
                })
                .await
                .map_err(Error::task)??;
                progress.advance(bs.min(image_size.saturating_sub(index * bs)));
                Ok::<_, Error>((index, found))
            }
        })
        .buffer_unordered(n)
        .try_collect()
        .await?;
    let mut hashed = 0;
    let mut blocks: Vec<(u64, Checksum, Fingerprint)> = found
        .into_iter()
        .filter_map(|(i, found)| {
            found.map(|(sum, fp, computed)| {
                hashed += u64::from(computed);
                (i, sum, fp)
            })
        })
        .collect();
    blocks.sort_unstable_by_key(|(i, _, _)| *i);
    let zero_blocks = total_blocks - blocks.len() as u64;
    Ok(Scan {
        blocks,
        zero_blocks,
        hashed,
    })
}
