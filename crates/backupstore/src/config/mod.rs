//! The JSON files Longhorn keeps per backup volume.

mod backup;
mod lock_file;
mod quantity;
mod volume;

pub use backup::{
    BackupConfig, BlockEntry, DEFAULT_BLOCK_SIZE, LABEL_IMAGE_SIZE, MAX_BLOCK_SIZE,
    PARAM_BACKUP_MODE, PARAM_BLOCK_SIZE,
};
pub(crate) use lock_file::LockFile;
pub use quantity::parse_quantity;
pub use volume::VolumeConfig;

/// Largest `volume.cfg` accepted.
pub const MAX_VOLUME_CFG_SIZE: u64 = 1 << 20;

/// Largest backup config accepted. A 64 TiB volume in 2 MiB blocks lists 32
/// million entries of about 100 bytes; 64 MiB covers volumes of about 1.3 TiB
/// fully allocated at 2 MiB, and far more at 16 MiB.
pub const MAX_BACKUP_CFG_SIZE: u64 = 64 << 20;

/// Largest lock file accepted.
pub const MAX_LOCK_FILE_SIZE: u64 = 4 << 10;
