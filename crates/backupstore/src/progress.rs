//! Progress reporting for long operations.

/// Receives progress of a long operation (export, verify, import). Calls come
/// from async tasks; implementations must be cheap and thread-safe.
pub trait Progress: Send + Sync {
    /// The operation will process `total` bytes.
    fn start(&self, total: u64) {
        let _ = total;
    }
    /// `bytes` more bytes were processed.
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// Ignores progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// How many blocks to keep in flight for a block size: about 16 MiB of
/// uncompressed data, at least one and at most six blocks.
pub(crate) fn default_concurrency(block_size: u64) -> usize {
    usize::try_from((16u64 << 20) / block_size.max(1))
        .unwrap_or(1)
        .clamp(1, 6)
}
