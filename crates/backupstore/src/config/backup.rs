//! `backups/backup_<name>.cfg` (Go type `Backup`).

use super::quantity::parse_quantity;
use crate::block::Compression;
use crate::error::{Error, Result};
use crate::json::{Fields, ObjectWriter, parse_object_with_list, to_go_json};
use crate::name::Checksum;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;

/// Block size when a backup does not declare one: 2 MiB.
pub const DEFAULT_BLOCK_SIZE: u64 = 2 << 20;

/// Largest block size accepted (Longhorn offers 2 MiB and 16 MiB).
pub const MAX_BLOCK_SIZE: u64 = 16 << 20;

/// `Parameters` key holding the block size (a Kubernetes quantity).
pub const PARAM_BLOCK_SIZE: &str = "backup-block-size";

/// `Parameters` key holding the backup mode (`full` or `incremental`).
pub const PARAM_BACKUP_MODE: &str = "backup-mode";

/// Label recording the exact size of an imported image whose size is not a
/// multiple of the block size (the volume size is rounded up for Longhorn).
pub const LABEL_IMAGE_SIZE: &str = "vmbackup.io/image-size";

/// One stored block of a backup: its offset in the volume and its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BlockEntry {
    /// Byte offset in the volume, a multiple of the block size.
    pub offset: u64,
    /// Checksum of the uncompressed block, which also names its file.
    pub checksum: Checksum,
}

/// The content of a backup config.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupConfig {
    /// Backup name.
    pub name: String,
    /// Owning volume.
    pub volume_name: String,
    /// Longhorn snapshot the backup was taken from.
    pub snapshot_name: String,
    /// RFC 3339 time of that snapshot.
    pub snapshot_created_at: String,
    /// Completion time; "" while the backup is in progress.
    pub created_time: String,
    /// `len(blocks) × block size`.
    pub size: i64,
    /// Labels (`null` when `None`).
    pub labels: Option<BTreeMap<String, String>>,
    /// Parameters such as `backup-block-size` (`null` when `None`).
    pub parameters: Option<BTreeMap<String, String>>,
    /// True when a previous backup was the base.
    pub is_incremental: bool,
    /// Compression of this backup's blocks; "" means gzip.
    pub compression_method: String,
    /// Compressed bytes of blocks that did not exist before.
    pub newly_uploaded_data_size: i64,
    /// Compressed bytes of blocks written again (full mode).
    pub re_uploaded_data_size: i64,
    /// Whether `ProcessingBlocks` is written as `{}` (full backups) rather
    /// than `null`.
    pub processing_blocks: bool,
    /// Every stored block of the image, sorted by offset.
    pub blocks: Vec<BlockEntry>,
    /// `SingleFile.FilePath`; non-empty only for single-file backups.
    pub single_file_path: String,
    /// Keys this version does not know, kept and written back.
    pub extra: Vec<(String, Value)>,
}

const KNOWN: &[&str] = &[
    "Name",
    "VolumeName",
    "SnapshotName",
    "SnapshotCreatedAt",
    "CreatedTime",
    "Size",
    "Labels",
    "Parameters",
    "IsIncremental",
    "CompressionMethod",
    "NewlyUploadedDataSize",
    "ReUploadedDataSize",
    "ProcessingBlocks",
    "Blocks",
    "SingleFile",
];

impl BackupConfig {
    /// The placeholder a writer saves before uploading any block: only the
    /// names and the compression method, no completion time.
    pub fn in_progress(name: &str, volume: &str, compression: Compression) -> Self {
        BackupConfig {
            name: name.to_owned(),
            volume_name: volume.to_owned(),
            compression_method: compression.as_str().to_owned(),
            ..Default::default()
        }
    }

    /// Decodes a backup config as Longhorn's Go reader does, and checks that
    /// every block entry names a well-formed checksum at a non-negative
    /// offset. `path` names the file in errors.
    pub fn from_json(bytes: &[u8], path: &str) -> Result<Self> {
        // Block lists are long: each entry is turned into a BlockEntry as
        // it is read, so that no tree of JSON values is ever held for them.
        let mut entry = |i: usize, fields: Fields| block_entry(&fields, i, path);
        let (f, blocks) = parse_object_with_list(bytes, path, "Blocks", &mut entry)?;
        let processing_blocks = f.object("ProcessingBlocks")?.is_some();
        let single_file_path = match f.object("SingleFile")? {
            Some(sf) => sf.string("FilePath")?,
            None => String::new(),
        };
        Ok(BackupConfig {
            name: f.string("Name")?,
            volume_name: f.string("VolumeName")?,
            snapshot_name: f.string("SnapshotName")?,
            snapshot_created_at: f.string("SnapshotCreatedAt")?,
            created_time: f.string("CreatedTime")?,
            size: f.int_string("Size")?,
            labels: f.string_map("Labels")?,
            parameters: f.string_map("Parameters")?,
            is_incremental: f.bool("IsIncremental")?,
            compression_method: f.string("CompressionMethod")?,
            newly_uploaded_data_size: f.int_string("NewlyUploadedDataSize")?,
            re_uploaded_data_size: f.int_string("ReUploadedDataSize")?,
            processing_blocks,
            blocks,
            single_file_path,
            extra: f.unknown(KNOWN),
        })
    }

    /// Encodes the file byte for byte as Longhorn writes it.
    pub fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("Name", &self.name)
            .string("VolumeName", &self.volume_name)
            .string("SnapshotName", &self.snapshot_name)
            .string("SnapshotCreatedAt", &self.snapshot_created_at)
            .string("CreatedTime", &self.created_time)
            .int_string("Size", self.size)
            .map("Labels", self.labels.as_ref())
            .map("Parameters", self.parameters.as_ref())
            .bool("IsIncremental", self.is_incremental)
            .string("CompressionMethod", &self.compression_method)
            .int_string("NewlyUploadedDataSize", self.newly_uploaded_data_size)
            .int_string("ReUploadedDataSize", self.re_uploaded_data_size)
            .raw(
                "ProcessingBlocks",
                if self.processing_blocks {
                    b"{}"
                } else {
                    b"null"
                },
            );
        if !self.blocks.is_empty() {
            // Written in place: a block list can be tens of megabytes.
            w.raw_with("Blocks", |out| {
                out.reserve(self.blocks.len() * 110 + 2);
                out.push(b'[');
                for (i, b) in self.blocks.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"Offset\":");
                    // Writing into a Vec cannot fail.
                    let _ = write!(out, "{}", b.offset);
                    out.extend_from_slice(b",\"BlockChecksum\":\"");
                    out.extend_from_slice(&b.checksum.hex_bytes());
                    out.extend_from_slice(b"\"}");
                }
                out.push(b']');
            });
        }
        let mut sf = ObjectWriter::new();
        sf.string("FilePath", &self.single_file_path);
        w.raw("SingleFile", &sf.finish());
        for (k, v) in &self.extra {
            w.raw(k, &to_go_json(v));
        }
        w.finish()
    }

    /// True once the backup has a completion time.
    pub fn is_complete(&self) -> bool {
        !self.created_time.is_empty()
    }

    /// Compression of this backup's blocks ("" means gzip).
    pub fn compression(&self, path: &str) -> Result<Compression> {
        Compression::from_config(&self.compression_method, path, "CompressionMethod")
    }

    /// The block size the backup declares in `Parameters["backup-block-size"]`
    /// (a Kubernetes quantity; absent, empty or zero means 2 MiB).
    pub fn block_size(&self, path: &str) -> Result<u64> {
        let Some(raw) = self
            .parameters
            .as_ref()
            .and_then(|p| p.get(PARAM_BLOCK_SIZE))
            .filter(|v| !v.is_empty())
        else {
            return Ok(DEFAULT_BLOCK_SIZE);
        };
        let field = format!("Parameters[{PARAM_BLOCK_SIZE:?}]");
        match parse_quantity(raw) {
            Some(0) => Ok(DEFAULT_BLOCK_SIZE),
            Some(n) if n > 0 && n.unsigned_abs() <= MAX_BLOCK_SIZE => Ok(n.unsigned_abs()),
            Some(n) => Err(Error::field(
                path,
                field,
                format!("block size {n} is outside 1..={MAX_BLOCK_SIZE}"),
            )),
            None => Err(Error::field(
                path,
                field,
                format!("invalid block size {raw:?}: not a Kubernetes quantity"),
            )),
        }
    }

    /// What an export of this backup reads from its config, checked as an
    /// export checks it: the block size, the compression and (when the
    /// volume's size is known) the recorded image size. A backup for which
    /// this fails cannot be exported, whatever its state says.
    pub fn export_parameters(
        &self,
        path: &str,
        volume_size: Option<u64>,
    ) -> Result<(u64, Compression)> {
        let block_size = self.block_size(path)?;
        let compression = self.compression(path)?;
        if let Some(size) = volume_size {
            self.image_size(path, size, block_size)?;
        }
        Ok((block_size, compression))
    }

    /// The size of the image this backup restores to: the exact size an
    /// import recorded in its labels, else `volume_size`. A recorded size
    /// that is not a byte count, or that does not fit the volume (rounded
    /// up to `block_size`) and the stored blocks, is an error naming the
    /// label.
    pub fn image_size(&self, path: &str, volume_size: u64, block_size: u64) -> Result<u64> {
        let Some(raw) = self.labels.as_ref().and_then(|l| l.get(LABEL_IMAGE_SIZE)) else {
            return Ok(volume_size);
        };
        let field = format!("Labels[{LABEL_IMAGE_SIZE:?}]");
        let exact: u64 = raw
            .parse()
            .map_err(|_| Error::field(path, &field, format!("{raw:?} is not a byte count")))?;
        let end = self
            .blocks
            .iter()
            .map(|b| b.offset)
            .max()
            .map_or(0, |o| o + 1);
        let room = volume_size
            .div_ceil(block_size.max(1))
            .saturating_mul(block_size);
        if exact > room || exact < end {
            return Err(Error::field(
                path,
                &field,
                format!("{exact} does not fit the volume size {volume_size} and the stored blocks"),
            ));
        }
        Ok(exact)
    }

    /// Checks that the config belongs where it was found and that its block
    /// list is usable: names match, the backup is a block backup, offsets are
    /// aligned, unique and inside `volume_size` (rounded up to the block size).
    pub fn validate(
        &self,
        path: &str,
        volume: &str,
        backup: &str,
        volume_size: Option<u64>,
    ) -> Result<()> {
        if self.name != backup {
            return Err(Error::field(
                path,
                "Name",
                format!(
                    "{:?} does not match the file name (backup {backup})",
                    self.name
                ),
            ));
        }
        if self.volume_name != volume {
            return Err(Error::field(
                path,
                "VolumeName",
                format!(
                    "{:?} does not match the volume directory {volume}",
                    self.volume_name
                ),
            ));
        }
        self.compression(path)?;
        let block_size = self.block_size(path)?;
        let limit = volume_size.map(|s| s.div_ceil(block_size).saturating_mul(block_size));
        let mut seen = HashSet::with_capacity(self.blocks.len());
        for (i, b) in self.blocks.iter().enumerate() {
            if b.offset % block_size != 0 {
                return Err(Error::field(
                    path,
                    format!("Blocks[{i}].Offset"),
                    format!(
                        "{} is not a multiple of the block size {block_size}",
                        b.offset
                    ),
                ));
            }
            if let Some(limit) = limit
                && b.offset.saturating_add(block_size) > limit
            {
                return Err(Error::field(
                    path,
                    format!("Blocks[{i}].Offset"),
                    format!(
                        "{} lies beyond the volume size {}",
                        b.offset,
                        volume_size.unwrap_or(0)
                    ),
                ));
            }
            if !seen.insert(b.offset) {
                return Err(Error::field(
                    path,
                    format!("Blocks[{i}].Offset"),
                    format!("offset {} is listed twice", b.offset),
                ));
            }
        }
        if !self.single_file_path.is_empty() {
            return Err(Error::Unsupported(format!(
                "{path}: single-file backups ({}) are not block backups and cannot be read as images",
                self.single_file_path
            )));
        }
        Ok(())
    }
}

/// One entry of `Blocks`: a well-formed checksum at a non-negative offset.
fn block_entry(entry: &Fields, i: usize, path: &str) -> Result<BlockEntry> {
    let offset = entry.int("Offset")?;
    let offset = u64::try_from(offset).map_err(|_| {
        Error::field(
            path,
            format!("Blocks[{i}].Offset"),
            format!("negative offset {offset}"),
        )
    })?;
    let sum = entry.string("BlockChecksum")?;
    let checksum = Checksum::parse(&sum).map_err(|_| {
        Error::field(
            path,
            format!("Blocks[{i}].BlockChecksum"),
            format!(
                "{:?} is not 64 lowercase hexadecimal characters",
                sum.chars().take(80).collect::<String>()
            ),
        )
    })?;
    Ok(BlockEntry { offset, checksum })
}
