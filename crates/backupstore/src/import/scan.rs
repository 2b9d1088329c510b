//! The first pass over an image: which blocks hold data, and their
//! checksums.

use super::Attempt;
use super::cache::{Fingerprint, FingerprintCache, fingerprint};
use crate::block;
use crate::error::{Error, Result};
use crate::name::Checksum;
use crate::progress::Progress;
use crate::source::{BufferPool, ImageSource};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a block holds: nothing (zeros), or its checksum, its fingerprint
/// and whether the checksum was computed (rather than found in the cache).
type Found = Option<(Checksum, Fingerprint, bool)>;

/// Checks one block read at `index`, and records it in the cache.
fn check(index: u64, data: &[u8], cache: Option<&FingerprintCache>, warned: &AtomicBool) -> Found {
    if block::is_zero(data) {
        return None;
    }
    let fp = fingerprint(data);
    let known = cache.and_then(|c| c.lookup(index, &fp));
    let computed = known.is_none();
    let sum = known.unwrap_or_else(|| block::checksum(data));
    if let Some(cache) = cache
        && let Err(e) = cache.record(index, &fp, &sum)
        && !warned.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(error = %e, "cannot write the fingerprint cache");
    }
    Some((sum, fp, computed))
}

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
/// are recorded in the cache for the next import. Stops when `attempt`
/// says the lock was refused.
pub(super) async fn scan(
    source: &ImageSource,
    bs: u64,
    n: usize,
    cache: Option<&Arc<FingerprintCache>>,
    progress: &dyn Progress,
    attempt: &Attempt,
) -> Result<Scan> {
    let ranges = source.data_block_ranges(bs);
    let total_blocks = source.size().div_ceil(bs);
    let image_size = source.size();
    let pool = BufferPool::new(n);
    let warned = Arc::new(AtomicBool::new(false));
    // Blocks go to the blocking pool in batches of consecutive indexes
    // (about 8 MiB), each read into one reused buffer: a task per block
    // costs more in thread hand-offs than reading a block of zeros.
    let per_task = usize::try_from((8u64 << 20) / bs).unwrap_or(1).max(1);
    let indexes: Vec<u64> = ranges.into_iter().flatten().collect();
    let block_bytes = |i: &u64| bs.min(image_size.saturating_sub(i * bs));
    // Holes are not read: they count as done at once, so that the
    // progress of a sparse image reaches its end.
    let data_bytes: u64 = indexes.iter().map(block_bytes).sum();
    progress.advance(image_size.saturating_sub(data_bytes));
    let batches: Vec<Vec<u64>> = indexes.chunks(per_task).map(<[u64]>::to_vec).collect();
    let found: Vec<Vec<(u64, Found)>> = futures::stream::iter(batches)
        .map(|batch| {
            let source = source.clone();
            let pool = Arc::clone(&pool);
            let cache = cache.cloned();
            let warned = Arc::clone(&warned);
            async move {
                attempt.go_on()?;
                let bytes: u64 = batch.iter().map(block_bytes).sum();
                let found = tokio::task::spawn_blocking(move || -> Result<Vec<(u64, Found)>> {
                    let mut data = pool.take();
                    let found = batch
                        .into_iter()
                        .map(|index| {
                            source.read_block_into(index, bs, &mut data)?;
                            Ok((index, check(index, &data, cache.as_deref(), &warned)))
                        })
                        .collect::<Result<Vec<_>>>();
                    pool.give(data);
                    found
                })
                .await
                .map_err(Error::task)??;
                progress.advance(bytes);
                Ok::<_, Error>(found)
            }
        })
        .buffer_unordered(n)
        .try_collect()
        .await?;
    let mut hashed = 0;
    let mut blocks: Vec<(u64, Checksum, Fingerprint)> = found
        .into_iter()
        .flatten()
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
