//! The Longhorn backupstore on-target format and Harvester's metadata files,
//! read and written over the [`object_store`] crate.
//!
//! A [`Target`] is opened from a backup target URL (a local directory, an NFS
//! or CIFS mount, S3 or Azure Blob). On it you can list volumes and backups,
//! load their configs, verify and export backups as raw images, import raw
//! images as new (incremental) backups, delete backups and collect unused
//! blocks, and read and write Harvester's VM backup and VM image metadata.
//!
//! Everything on a target is treated as untrusted: names are validated before
//! they become paths, file sizes are bounded, and every problem is reported as
//! an [`Error`] naming the file and the field.

pub mod block;
mod block_read;
pub mod config;
pub mod error;
mod json;
pub mod layout;
mod lz4_frame;
pub mod name;
pub mod target;

pub use block::Compression;
pub use config::{BackupConfig, BlockEntry, VolumeConfig};
pub use error::{Error, NameKind, Result};
pub use name::Checksum;
pub use target::{Credentials, Target, TargetOptions, TargetUrl};
pub mod export;
pub mod lock;
pub mod progress;
pub mod read;
pub mod verify;

pub use export::{
    BackupImage, ExportOptions, ExportSummary, ImageBlock, PartialFile, check_destination,
};
pub use lock::{LockKind, VolumeLock};
pub use progress::{NoProgress, Progress};
pub use read::{BackupList, BackupState, BackupSummary, Ignored, VolumeList};
pub use verify::{BlockUse, Problem, VerifyOptions, VerifyReport};
pub mod gc;
pub mod import;
mod source;

pub use gc::{DeleteSummary, GcOutcome};
pub use import::{ImportOptions, ImportSummary};
pub mod harvester;

pub use harvester::{
    MetadataFile, MetadataLayout, MetadataList, VmBackupMetadata, VmImageMetadata, VolumeBackupRef,
};
pub mod backup_url;

pub use backup_url::{BackupUrl, decode_backup_url, encode_backup_url};
