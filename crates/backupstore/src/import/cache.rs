//! The local fingerprint cache that makes an incremental import cheap.
//!
//! A block's name on the target is its SHA-512; hashing every block of a
//! large image with SHA-512 dominates an incremental import in which little
//! changed. The cache remembers, for each block of the last image imported
//! into a volume, its BLAKE3 hash (several times faster to compute) and its
//! SHA-512 checksum. A block whose BLAKE3 hash matches the record at its
//! index has that checksum: BLAKE3 is collision resistant, so equal hashes
//! mean equal content. The record is a pure function of the content; a
//! stale, missing or damaged cache costs time, never correctness: every
//! record carries a check value over its index and contents, and a record
//! whose check value does not match (a flipped bit anywhere, a record moved
//! to another index) is not used.
//!
//! One file per target and volume, `<cache dir>/<32 hex>.fpc` (the hex is a
//! hash of the target URL and the volume name): a 64-byte header (magic,
//! format version, block size) then one 96-byte record per block index
//! (BLAKE3 hash of the block, the 32 bytes of its checksum, then the check
//! value: BLAKE3 of the index and those 64 bytes); a record of zeros means
//! "nothing known". It is read with one positioned read per block, so
//! memory does not grow with the image. A new file is written beside it
//! during the import and renamed over it only when the backup is complete.
//!
//! The cache is trusted: whoever can write it can make an import record the
//! wrong checksum for a block. It is created readable by its owner only, in
//! a directory only its owner can enter.

use crate::export::PartialFile;
use crate::name::Checksum;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"VMBFPC\x00\x02";
const HEADER: u64 = 64;
const RECORD: u64 = 96;

/// A content fingerprint: the BLAKE3 hash of a block.
pub(crate) type Fingerprint = [u8; 32];

/// The fingerprint of a block.
pub(crate) fn fingerprint(data: &[u8]) -> Fingerprint {
    *blake3::hash(data).as_bytes()
}

/// The cache of one volume during one import: the previous records (if a
/// usable file exists) and the file the new ones go to.
#[derive(Debug)]
pub(crate) struct FingerprintCache {
    previous: Option<File>,
    next: PartialFile,
    path: PathBuf,
}

impl FingerprintCache {
    /// Opens the cache of `volume` on the target at `target_url` in `dir`
    /// (created if needed) for an image of `blocks` blocks of `block_size`.
    pub(crate) fn open(
        dir: &Path,
        target_url: &str,
        volume: &str,
        block_size: u64,
        blocks: u64,
    ) -> std::io::Result<Self> {
        if dir.exists() && !dir.is_dir() {
            return Err(std::io::Error::other("it exists and is not a directory"));
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        let mut key = Sha256::new();
        key.update(target_url.as_bytes());
        key.update([0]);
        key.update(volume.as_bytes());
        let key = hex::encode(&key.finalize()[..16]);
        let path = dir.join(format!("{key}.fpc"));
        let previous = File::open(&path)
            .ok()
            .filter(|f| header_matches(f, block_size));
        let next = PartialFile::create(&path).map_err(std::io::Error::other)?;
        let file = next.file();
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.set_len(HEADER + blocks.saturating_mul(RECORD))?;
        file.write_all_at(&header(block_size), 0)?;
        Ok(FingerprintCache {
            previous,
            next,
            path,
        })
    }

    /// What the previous import recorded for block `index`: the block's
    /// fingerprint and checksum then. `None` when nothing usable is known.
    pub(crate) fn previous(&self, index: u64) -> Option<(Fingerprint, Checksum)> {
        let file = self.previous.as_ref()?;
        let mut record = [0u8; RECORD as usize];
        file.read_exact_at(&mut record, record_offset(index)?)
            .ok()?;
        if record[64..] != check_value(index, &record[..64]) {
            return None;
        }
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(&record[..32]);
        Some((fingerprint, Checksum::from_digest(&record[32..64])))
    }

    /// The checksum of block `index` if the previous import saw the same
    /// content there.
    #[cfg(test)]
    pub(crate) fn lookup(&self, index: u64, fingerprint: &Fingerprint) -> Option<Checksum> {
        self.previous(index)
            .filter(|(seen, _)| seen == fingerprint)
            .map(|(_, checksum)| checksum)
    }

    /// Records what block `index` holds now.
    pub(crate) fn record(
        &self,
        index: u64,
        fingerprint: &Fingerprint,
        checksum: &Checksum,
    ) -> std::io::Result<()> {
        let mut record = [0u8; RECORD as usize];
        record[..32].copy_from_slice(fingerprint);
        record[32..64].copy_from_slice(checksum.as_bytes());
        let check = check_value(index, &record[..64]);
        record[64..].copy_from_slice(&check);
        let offset = record_offset(index)
            .ok_or_else(|| std::io::Error::other("block index out of range"))?;
        self.next.file().write_all_at(&record, offset)
    }

    /// Makes the new records the cache of the volume. (Dropped without
    /// this, the new records are removed and the previous cache stays.)
    pub(crate) fn commit(self) -> std::io::Result<()> {
        self.next.commit(&self.path).map_err(std::io::Error::other)
    }
}

fn header(block_size: u64) -> [u8; HEADER as usize] {
    let mut h = [0u8; HEADER as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..16].copy_from_slice(&block_size.to_le_bytes());
    h
}

fn header_matches(file: &File, block_size: u64) -> bool {
    let mut h = [0u8; HEADER as usize];
    file.read_exact_at(&mut h, 0).is_ok() && h == header(block_size)
}

/// The check value of the record at `index` whose first 64 bytes are
/// `contents`.
fn check_value(index: u64, contents: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&index.to_le_bytes());
    h.update(contents);
    *h.finalize().as_bytes()
}

fn record_offset(index: u64) -> Option<u64> {
    index.checked_mul(RECORD)?.checked_add(HEADER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(data: &[u8]) -> Checksum {
        crate::block::checksum(data)
    }

    #[test]
    fn a_committed_cache_answers_for_the_same_content_only() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (vec![1u8; 4096], vec![2u8; 4096]);
        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 4).unwrap();
        assert_eq!(cache.lookup(0, &fingerprint(&a)), None, "nothing yet");
        cache.record(0, &fingerprint(&a), &sum(&a)).unwrap();
        cache.record(3, &fingerprint(&b), &sum(&b)).unwrap();
        cache.commit().unwrap();

        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 4).unwrap();
        assert_eq!(cache.lookup(0, &fingerprint(&a)), Some(sum(&a)));
        assert_eq!(cache.lookup(3, &fingerprint(&b)), Some(sum(&b)));
        assert_eq!(cache.lookup(0, &fingerprint(&b)), None, "other content");
        assert_eq!(cache.lookup(1, &fingerprint(&a)), None, "other index");
        assert_eq!(
            cache.lookup(1, &[0; 32]),
            None,
            "an empty record is no answer"
        );
        assert_eq!(cache.lookup(99, &fingerprint(&a)), None, "past the end");
        assert_eq!(cache.lookup(u64::MAX, &fingerprint(&a)), None);
    }

    #[test]
    fn volumes_targets_and_block_sizes_do_not_share_records() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![1u8; 4096];
        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 1).unwrap();
        cache.record(0, &fingerprint(&a), &sum(&a)).unwrap();
        cache.commit().unwrap();
        for (target, volume, bs) in [("t", "other", 4096), ("u", "vol", 4096), ("t", "vol", 8192)] {
            let c = FingerprintCache::open(dir.path(), target, volume, bs, 1).unwrap();
            assert_eq!(
                c.lookup(0, &fingerprint(&a)),
                None,
                "{target} {volume} {bs}"
            );
        }
    }

    #[test]
    fn an_uncommitted_cache_leaves_the_previous_one_and_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![1u8; 4096];
        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 1).unwrap();
        cache.record(0, &fingerprint(&a), &sum(&a)).unwrap();
        cache.commit().unwrap();
        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 1).unwrap();
        cache.record(0, &[9; 32], &sum(&[9; 4096])).unwrap();
        drop(cache);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 1).unwrap();
        assert_eq!(cache.lookup(0, &fingerprint(&a)), Some(sum(&a)));
    }

    #[test]
    fn damaged_files_are_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![1u8; 4096];
        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 1).unwrap();
        cache.record(0, &fingerprint(&a), &sum(&a)).unwrap();
        let path = cache.path.clone();
        cache.commit().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // One flipped bit anywhere in the record: never the wrong
        // checksum, only no answer.
        for at in HEADER..HEADER + RECORD {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at as usize] ^= 1 << bit;
                std::fs::write(&path, &damaged).unwrap();
                let c = FingerprintCache::open(dir.path(), "t", "vol", 4096, 1).unwrap();
                assert_eq!(c.lookup(0, &fingerprint(&a)), None, "byte {at} bit {bit}");
            }
        }
        // A file that is not a cache, or a truncated one.
        for junk in [&b"not a cache"[..], &[][..], &bytes[..70]] {
            std::fs::write(&path, junk).unwrap();
            let c = FingerprintCache::open(dir.path(), "t", "vol", 4096, 1).unwrap();
            assert_eq!(c.lookup(0, &fingerprint(&a)), None);
        }
    }

    #[test]
    fn a_record_moved_to_another_index_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let a = vec![1u8; 4096];
        let cache = FingerprintCache::open(dir.path(), "t", "vol", 4096, 2).unwrap();
        cache.record(0, &fingerprint(&a), &sum(&a)).unwrap();
        let path = cache.path.clone();
        cache.commit().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let (h, r) = (HEADER as usize, RECORD as usize);
        bytes.copy_within(h..h + r, h + r);
        std::fs::write(&path, &bytes).unwrap();
        let c = FingerprintCache::open(dir.path(), "t", "vol", 4096, 2).unwrap();
        assert_eq!(c.lookup(0, &fingerprint(&a)), Some(sum(&a)));
        assert_eq!(c.lookup(1, &fingerprint(&a)), None);
    }

    #[test]
    fn the_cache_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        let cache = FingerprintCache::open(&cache_dir, "t", "vol", 4096, 1).unwrap();
        let path = cache.path.clone();
        cache.commit().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache_dir), 0o700);
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let e = FingerprintCache::open(&file, "t", "vol", 4096, 1).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
