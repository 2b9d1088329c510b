//! Errors of the writer.

/// What can go wrong while writing an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Data must be written in increasing guest offset order.
    #[error(
        "write at guest offset {offset} comes before the end of the previous write ({expected}): data must be written in increasing order"
    )]
    OutOfOrder {
        /// Offset of the rejected write.
        offset: u64,
        /// Smallest offset accepted.
        expected: u64,
    },
    /// A write reaches past the virtual size.
    #[error("write of {len} bytes at guest offset {offset} goes past the virtual size {size}")]
    PastEnd {
        /// Offset of the rejected write.
        offset: u64,
        /// Its length.
        len: u64,
        /// The image's virtual size.
        size: u64,
    },
    /// The cluster size is outside what qcow2 readers accept.
    #[error("cluster size 2^{0} is not supported: use 2^9 to 2^21 bytes")]
    ClusterBits(u32),
    /// The virtual size needs a larger L1 table than readers accept.
    #[error("virtual size {size} is too large for {cluster_size}-byte clusters")]
    TooLarge {
        /// Requested virtual size.
        size: u64,
        /// Cluster size in bytes.
        cluster_size: u64,
    },
    /// Writing the output failed.
    #[error("writing the qcow2 image: {0}")]
    Io(#[from] std::io::Error),
}
