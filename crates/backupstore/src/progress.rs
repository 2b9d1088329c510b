//! Progress reporting for long operations.

/// Receives progress of a long operation (export, verify, import). Calls come
/// from async tasks; implementations must be cheap and thread-safe.
pub trait Progress: Send + Sync {
    /// The operation will process `total` bytes. May be called again with a
    /// larger total when an operation discovers more work.
    fn start(&self, total: u64) {
        let _ = total;
    }
    /// `bytes` more bytes were processed.
    fn advance(&self, bytes: u64) {
        let _ = bytes;
    }
    /// A new phase of the operation (`name`, e.g. `upload`) begins, with
    /// its own `total`: the count starts again from zero.
    fn phase(&self, name: &str, total: u64) {
        let _ = name;
        self.start(total);
    }
}

/// Ignores progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// How many blocks to keep in flight for a block size when the work is
/// mostly hashing and compressing (an import): one per CPU (at least two,
/// at most four), and no more than 8 MiB of uncompressed data, so that
/// memory stays small whatever the image size.
pub(crate) fn default_concurrency(block_size: u64) -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    in_flight(cpus.clamp(2, 4), block_size)
}

/// Like [`default_concurrency`] for reads from the target (export,
/// verify), where blocks also wait on I/O: two more than the CPUs (at least
/// three, at most eight).
pub(crate) fn read_concurrency(block_size: u64) -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    in_flight((cpus + 2).clamp(3, 8), block_size)
}

fn in_flight(wanted: usize, block_size: u64) -> usize {
    let by_memory = usize::try_from((8u64 << 20) / block_size.max(1))
        .unwrap_or(1)
        .max(1);
    wanted.min(by_memory)
}
