//! A streaming writer of qcow2 (version 3) disk images.
//!
//! Guest data is written in increasing offset order; anything never written,
//! and every cluster that holds only zeros, stays unallocated and reads as
//! zeros. Memory use is bounded by the L1 table (8 bytes per L2 table's
//! worth of guest space, 512 MiB with the default 64 KiB clusters) plus a few
//! clusters, whatever the image size. The file is laid out as:
//!
//! ```text
//! header cluster | L1 table | data and L2 tables, in guest order | refcount blocks | refcount table
//! ```
//!
//! Header and L1 table are written last, so an interrupted write leaves a
//! file without a valid header rather than one that looks complete.
//!
//! ```no_run
//! # fn main() -> Result<(), vmbackup_qcow2::Error> {
//! let file = std::fs::File::create("disk.qcow2")?;
//! let mut writer = vmbackup_qcow2::Qcow2Writer::new(file, 10 << 30, Default::default())?;
//! writer.write(1 << 20, &[0xaa; 4096])?;
//! writer.finish()?;
//! # Ok(())
//! # }
//! ```

mod error;
mod format;
mod refcount;
mod writer;

pub use error::Error;
pub use format::{DEFAULT_CLUSTER_BITS, MAX_CLUSTER_BITS, MIN_CLUSTER_BITS};
pub use writer::{Qcow2Writer, WriteSummary, WriterOptions};
