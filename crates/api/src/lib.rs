//! Typed objects that vmbackup reads and writes, and the Longhorn CSI
//! snapshot-handle codec.

pub mod handle;
