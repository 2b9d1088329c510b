//! `volume.cfg` (Go type `Volume`).

use crate::block::Compression;
use crate::error::Result;
use crate::json::{ObjectWriter, parse_object, to_go_json};
use serde_json::Value;
use std::collections::BTreeMap;

/// The content of a backup volume's `volume.cfg`.
///
/// String fields keep exactly what the file holds; helpers interpret them
/// (for example an empty `compression_method` means gzip).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VolumeConfig {
    /// Volume name (equals the directory name).
    pub name: String,
    /// Size in bytes given with the latest backup.
    pub size: i64,
    /// Labels of the latest backup; `None` is written as `null`.
    pub labels: Option<BTreeMap<String, String>>,
    /// When the file was first created (RFC 3339).
    pub created_time: String,
    /// Name of the last completed backup, or "".
    pub last_backup_name: String,
    /// `SnapshotCreatedAt` of that backup.
    pub last_backup_at: String,
    /// Number of block files believed present.
    pub block_count: i64,
    /// Backing image name.
    pub backing_image_name: String,
    /// Backing image checksum.
    pub backing_image_checksum: String,
    /// `none`, `gzip` or `lz4`; "" means gzip. Sticky: fixed by whoever
    /// created the file.
    pub compression_method: String,
    /// Storage class name.
    pub storage_class_name: String,
    /// `v1` or `v2`; "" means v1.
    pub data_engine: String,
    /// Keys this version does not know (written by newer Longhorn releases),
    /// kept and written back after the known ones.
    pub extra: Vec<(String, Value)>,
}

const KNOWN: &[&str] = &[
    "Name",
    "Size",
    "Labels",
    "CreatedTime",
    "LastBackupName",
    "LastBackupAt",
    "BlockCount",
    "BackingImageName",
    "BackingImageChecksum",
    "CompressionMethod",
    "StorageClassName",
    "DataEngine",
];

impl VolumeConfig {
    /// Decodes `volume.cfg` bytes as Longhorn's Go reader does. `path` names
    /// the file in errors.
    pub fn from_json(bytes: &[u8], path: &str) -> Result<Self> {
        let f = parse_object(bytes, path)?;
        Ok(VolumeConfig {
            name: f.string("Name")?,
            size: f.int_string("Size")?,
            labels: f.string_map("Labels")?,
            created_time: f.string("CreatedTime")?,
            last_backup_name: f.string("LastBackupName")?,
            last_backup_at: f.string("LastBackupAt")?,
            block_count: f.int_string("BlockCount")?,
            backing_image_name: f.double_encoded("BackingImageName")?,
            backing_image_checksum: f.double_encoded("BackingImageChecksum")?,
            compression_method: f.double_encoded("CompressionMethod")?,
            storage_class_name: f.double_encoded("StorageClassName")?,
            data_engine: f.double_encoded("DataEngine")?,
            extra: f.unknown(KNOWN),
        })
    }

    /// Encodes the file byte for byte as Longhorn writes it (compact, struct
    /// key order, `,string` fields quoted or double-encoded, no newline).
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("Name", &self.name)
            .int_string("Size", self.size)
            .map("Labels", self.labels.as_ref())
            .string("CreatedTime", &self.created_time)
            .string("LastBackupName", &self.last_backup_name)
            .string("LastBackupAt", &self.last_backup_at)
            .int_string("BlockCount", self.block_count)
            .double_encoded("BackingImageName", &self.backing_image_name)
            .double_encoded("BackingImageChecksum", &self.backing_image_checksum)
            .double_encoded("CompressionMethod", &self.compression_method)
            .double_encoded("StorageClassName", &self.storage_class_name)
            .double_encoded("DataEngine", &self.data_engine);
        for (k, v) in &self.extra {
            w.raw(k, &to_go_json(v));
        }
        w.finish()
    }

    /// Longhorn's `DataStored`: `BlockCount × 2 MiB`, whatever the real
    /// block size.
    pub fn data_stored(&self) -> i64 {
        self.block_count.saturating_mul(2 << 20)
    }

    /// The compression method new backups of this volume must use.
    pub fn compression(&self, path: &str) -> Result<Compression> {
        Compression::from_config(&self.compression_method, path, "CompressionMethod")
    }
}
