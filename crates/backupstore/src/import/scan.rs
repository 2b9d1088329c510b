//! The first pass over an image: which blocks hold data, and their
//! checksums.

use super::Attempt;
use super::cache::{Fingerprint, FingerprintCache};
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

/// How much of a block is read at a time: small enough that a piece is
/// still in the CPU cache when it is hashed.
const PIECE: u64 = 128 << 10;

/// Zeros to hash for the all-zero start of a block that turns out to hold
/// data.
static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// The fingerprint of a block and, when asked, its SHA-512, computed piece
/// by piece; all-zero blocks are told apart without hashing them.
struct BlockDigest {
    zeros: u64,
    data: bool,
    fingerprint: blake3::Hasher,
    checksum: Option<ring::digest::Context>,
}

impl BlockDigest {
    fn new(with_checksum: bool) -> Self {
        BlockDigest {
            zeros: 0,
            data: false,
            fingerprint: blake3::Hasher::new(),
            checksum: with_checksum.then(|| ring::digest::Context::new(&ring::digest::SHA512)),
        }
    }

    fn update(&mut self, piece: &[u8]) {
        if !self.data {
            if block::is_zero(piece) {
                self.zeros += piece.len() as u64;
                return;
            }
            self.data = true;
            let mut left = self.zeros;
            while left > 0 {
                let n = left.min(ZEROS.len() as u64);
                // usize: `n` is at most `ZEROS.len()`.
                self.hash(&ZEROS[..n as usize]);
                left -= n;
            }
        }
        self.hash(piece);
    }

    fn hash(&mut self, bytes: &[u8]) {
        self.fingerprint.update(bytes);
        if let Some(c) = &mut self.checksum {
            c.update(bytes);
        }
    }

    /// `None` for a block of zeros; otherwise its fingerprint and, if asked
    /// for, its checksum.
    fn finish(self) -> Option<(Fingerprint, Option<Checksum>)> {
        self.data.then(|| {
            (
                *self.fingerprint.finalize().as_bytes(),
                self.checksum
                    .map(|c| Checksum::from_digest(c.finish().as_ref())),
            )
        })
    }
}

/// Reads block `index` once and digests it.
fn digest(
    source: &ImageSource,
    index: u64,
    bs: u64,
    piece: &mut [u8],
    with_checksum: bool,
) -> Result<Option<(Fingerprint, Option<Checksum>)>> {
    let mut digest = BlockDigest::new(with_checksum);
    source.read_block_pieces(index, bs, piece, |p| digest.update(p))?;
    Ok(digest.finish())
}

/// Checks block `index`, and records it in the cache. When the cache knows
/// what the block held at the previous import, the block is first read for
/// its fingerprint alone; only a block found changed is read again for its
/// SHA-512 (with its fingerprint, so that the pair recorded always comes
/// from one read, even when the image changes meanwhile).
fn check(
    source: &ImageSource,
    index: u64,
    bs: u64,
    piece: &mut [u8],
    cache: Option<&FingerprintCache>,
    warned: &AtomicBool,
) -> Result<Found> {
    let previous = cache.and_then(|c| c.previous(index));
    let (fp, sum, computed) = match (
        digest(source, index, bs, piece, previous.is_none())?,
        previous,
    ) {
        (None, _) => return Ok(None),
        (Some((fp, Some(sum))), _) => (fp, sum, true),
        (Some((fp, None)), Some((seen, sum))) if seen == fp => (fp, sum, false),
        (Some((_, None)), _) => match digest(source, index, bs, piece, true)? {
            Some((fp, Some(sum))) => (fp, sum, true),
            _ => return Ok(None),
        },
    };
    if let Some(cache) = cache
        && let Err(e) = cache.record(index, &fp, &sum)
        && !warned.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(error = %e, "cannot write the fingerprint cache");
    }
    Ok(Some((sum, fp, computed)))
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
    // (about 8 MiB), each batch read through one reused piece buffer: a
    // task per block costs more in thread hand-offs than reading a block of
    // zeros.
    let per_task = usize::try_from((8u64 << 20) / bs).unwrap_or(1).max(1);
    let indexes: Vec<u64> = ranges.into_iter().flatten().collect();
    let block_bytes = |i: &u64| bs.min(image_size.saturating_sub(i * bs));
    // Holes are not read: they count as done at once, so that the
    // progress of a sparse image reaches its end.
    let data_bytes: u64 = indexes.iter().map(block_bytes).sum();
    progress.advance(image_size.saturating_sub(data_bytes));
    let batches: Vec<Vec<u64>> = indexes.chunks(per_task).map(<[u64]>::to_vec).collect();
    // Each batch's blocks join the list as the batch ends, so that no
    // second list of every block is ever held.
    let (mut blocks, hashed) = futures::stream::iter(batches)
        .map(|batch| {
            let source = source.clone();
            let pool = Arc::clone(&pool);
            let cache = cache.cloned();
            let warned = Arc::clone(&warned);
            async move {
                attempt.go_on()?;
                let bytes: u64 = batch.iter().map(block_bytes).sum();
                let found = tokio::task::spawn_blocking(move || -> Result<Vec<(u64, Found)>> {
                    let mut piece = pool.take();
                    // usize: at most PIECE.
                    piece.resize(bs.min(PIECE) as usize, 0);
                    let found = batch
                        .into_iter()
                        .map(|index| {
                            let found =
                                check(&source, index, bs, &mut piece, cache.as_deref(), &warned)?;
                            Ok((index, found))
                        })
                        .collect::<Result<Vec<_>>>();
                    pool.give(piece);
                    found
                })
                .await
                .map_err(Error::task)??;
                progress.advance(bytes);
                Ok::<_, Error>(found)
            }
        })
        .buffer_unordered(n)
        .try_fold(
            (Vec::<(u64, Checksum, Fingerprint)>::new(), 0u64),
            |(mut blocks, mut hashed), batch| async move {
                for (i, found) in batch {
                    if let Some((sum, fp, computed)) = found {
                        hashed += u64::from(computed);
                        blocks.push((i, sum, fp));
                    }
                }
                Ok((blocks, hashed))
            },
        )
        .await?;
    blocks.sort_unstable_by_key(|(i, _, _)| *i);
    let zero_blocks = total_blocks - blocks.len() as u64;
    Ok(Scan {
        blocks,
        zero_blocks,
        hashed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::cache::fingerprint;

    const BS: u64 = 64 << 10;

    /// An image of five blocks: zeros; data after a run of zeros; data
    /// then zeros; zeros between data; a short last block.
    fn image(dir: &std::path::Path) -> (ImageSource, Vec<Vec<u8>>) {
        let bs = BS as usize;
        let mut blocks = vec![vec![0u8; bs]; 5];
        blocks[1][bs - 10..].fill(3);
        blocks[2][..100].fill(4);
        blocks[3][0] = 5;
        blocks[3][bs - 1] = 6;
        blocks[4][..1000].fill(7);
        let mut bytes: Vec<u8> = blocks.concat();
        bytes.truncate(4 * bs + 1000);
        let path = dir.join("img");
        std::fs::write(&path, &bytes).unwrap();
        (ImageSource::open(&path).unwrap(), blocks)
    }

    #[test]
    fn a_block_digested_piece_by_piece_is_digested_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (src, blocks) = image(dir.path());
        for piece_len in [4096, 5000, BS as usize] {
            let mut piece = vec![0u8; piece_len];
            assert_eq!(digest(&src, 0, BS, &mut piece, true).unwrap(), None);
            for (i, block) in blocks.iter().enumerate().skip(1) {
                let whole = (fingerprint(block), Some(block::checksum(block)));
                assert_eq!(
                    digest(&src, i as u64, BS, &mut piece, true).unwrap(),
                    Some(whole),
                    "block {i}, pieces of {piece_len}"
                );
                assert_eq!(
                    digest(&src, i as u64, BS, &mut piece, false).unwrap(),
                    Some((whole.0, None))
                );
            }
        }
    }

    #[test]
    fn the_cache_spares_the_checksum_of_unchanged_blocks_only() {
        let dir = tempfile::tempdir().unwrap();
        let (src, blocks) = image(dir.path());
        let warned = AtomicBool::new(false);
        let mut piece = vec![0u8; 4096];
        let cache_dir = dir.path().join("cache");
        let cache = FingerprintCache::open(&cache_dir, "t", "v", BS, 5).unwrap();
        // The previous import saw block 1 as it is, block 2 otherwise.
        cache
            .record(1, &fingerprint(&blocks[1]), &block::checksum(&blocks[1]))
            .unwrap();
        let other = vec![9u8; BS as usize];
        cache
            .record(2, &fingerprint(&other), &block::checksum(&other))
            .unwrap();
        cache.commit().unwrap();

        let cache = FingerprintCache::open(&cache_dir, "t", "v", BS, 5).unwrap();
        let check =
            |i: u64, piece: &mut [u8]| check(&src, i, BS, piece, Some(&cache), &warned).unwrap();
        assert_eq!(check(0, &mut piece), None);
        let sum = |i: usize| block::checksum(&blocks[i]);
        let fp = |i: usize| fingerprint(&blocks[i]);
        assert_eq!(check(1, &mut piece), Some((sum(1), fp(1), false)));
        assert_eq!(check(2, &mut piece), Some((sum(2), fp(2), true)));
        assert_eq!(check(3, &mut piece), Some((sum(3), fp(3), true)));
        // What was found is what the next import is told.
        cache.commit().unwrap();
        let cache = FingerprintCache::open(&cache_dir, "t", "v", BS, 5).unwrap();
        for i in 1..4 {
            assert_eq!(cache.lookup(i as u64, &fp(i)), Some(sum(i)), "block {i}");
        }
        assert!(!warned.load(Ordering::Relaxed));
    }
}
