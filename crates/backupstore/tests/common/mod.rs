//! Shared helpers for the end-to-end tests: local targets, a store wrapper
//! that counts and can stall requests, and image builders.
#![allow(dead_code)]

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use vmbackup_backupstore::Target;

/// A target in a fresh temporary directory, with a short lock settle time.
pub fn local_target() -> (tempfile::TempDir, Target) {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::local(dir.path())
        .unwrap()
        .with_lock_settle(Duration::from_millis(1));
    (dir, target)
}

/// A callback run before a PUT.
/// Counts the PUTs per kind of file, and can stall block uploads after a
/// number of them (to simulate an interrupted import).
pub struct CountingStore {
    pub inner: Arc<dyn ObjectStore>,
    pub block_puts: AtomicU64,
    pub other_puts: AtomicU64,
    pub stall_blocks_after: AtomicU64,
    /// Signalled when a block upload stalls.
    pub stalled: tokio::sync::Notify,
    /// Called when a lock file is written marked acquired.
    pub on_lock_acquired: std::sync::Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> Arc<Self> {
        Arc::new(CountingStore {
            inner,
            block_puts: AtomicU64::new(0),
            other_puts: AtomicU64::new(0),
            stall_blocks_after: AtomicU64::new(u64::MAX),
            stalled: tokio::sync::Notify::new(),
            on_lock_acquired: std::sync::Mutex::new(None),
        })
    }
    pub fn reset(&self) {
        self.block_puts.store(0, Ordering::SeqCst);
        self.other_puts.store(0, Ordering::SeqCst);
    }
    pub fn block_puts(&self) -> u64 {
        self.block_puts.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CountingStore")
    }
}

impl std::fmt::Display for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if location.as_ref().ends_with(".blk") {
            let n = self.block_puts.fetch_add(1, Ordering::SeqCst);
            if n >= self.stall_blocks_after.load(Ordering::SeqCst) {
                self.stalled.notify_one();
                futures::future::pending::<()>().await;
            }
        } else {
            self.other_puts.fetch_add(1, Ordering::SeqCst);
            let acquired = location.as_ref().ends_with(".lck")
                && payload
                    .iter()
                    .any(|chunk| chunk.windows(15).any(|w| w == b"\"Acquired\":true"));
            if acquired && let Some(hook) = self.on_lock_acquired.lock().unwrap().as_ref() {
                hook();
            }
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A local target whose store counts requests.
pub fn counting_target() -> (tempfile::TempDir, Target, Arc<CountingStore>) {
    let dir = tempfile::tempdir().unwrap();
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).unwrap();
    let counting = CountingStore::new(Arc::new(fs));
    let target = Target::from_store(counting.clone(), "", "counting")
        .unwrap()
        .with_lock_settle(Duration::from_millis(1));
    (dir, target, counting)
}

/// Deterministic pseudo-random bytes.
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// What to put in one region of a test image.
#[derive(Debug, Clone, Copy)]
pub enum Fill {
    /// Leave a hole.
    Hole,
    /// Write zeros (allocated).
    Zeros,
    /// Random bytes from a seed.
    Random(u64),
    /// One repeated byte.
    Byte(u8),
}

/// Creates a sparse image of `size` bytes and fills `(offset, len, fill)` regions.
pub fn make_image(path: &std::path::Path, size: u64, regions: &[(u64, usize, Fill)]) {
    let f = File::create(path).unwrap();
    f.set_len(size).unwrap();
    for &(offset, len, fill) in regions {
        match fill {
            Fill::Hole => {}
            Fill::Zeros => f.write_all_at(&vec![0u8; len], offset).unwrap(),
            Fill::Random(seed) => f.write_all_at(&random_bytes(seed, len), offset).unwrap(),
            Fill::Byte(b) => f.write_all_at(&vec![b; len], offset).unwrap(),
        }
    }
}

/// Overwrites part of an existing image.
pub fn patch_image(path: &std::path::Path, offset: u64, data: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(data, offset).unwrap();
}

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &std::path::Path) -> String {
    let data = std::fs::read(path).unwrap();
    hex::encode(Sha256::digest(&data))
}

/// Bytes actually allocated to a file.
pub fn allocated_bytes(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().blocks() * 512
}
