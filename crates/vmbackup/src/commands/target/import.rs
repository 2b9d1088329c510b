//! `vmbackup target import`: back up a raw disk image as a new Longhorn
//! backup, incremental when the volume already has one.

use std::path::PathBuf;

use object_store::ObjectStoreExt;
use vmbackup_backupstore::{Compression, ImportOptions, ImportSummary, Progress, Target, layout};

use super::units::parse_size;
use crate::progress::{ProgressMode, human_bytes};

/// Block compression for a new backup volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressionArg {
    /// LZ4 (Longhorn's default).
    Lz4,
    /// gzip.
    Gzip,
    /// No compression.
    None,
}

impl From<CompressionArg> for Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::None => Compression::None,
        }
    }
}

/// Arguments of `vmbackup target import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::connect::TargetArgs,
    /// Backup volume to add the backup to (created if new), e.g. the
    /// Longhorn volume name `pvc-…`.
    #[arg(long, value_name = "VOLUME")]
    pub volume: String,
    /// Raw disk image (or block device) to back up.
    #[arg(long, value_name = "IMAGE")]
    pub from: PathBuf,
    /// Name of the new backup (default: `backup-<16 hex digits>`).
    #[arg(long, value_name = "NAME")]
    pub backup: Option<String>,
    /// Block compression for a new volume; an existing volume keeps the
    /// method it was created with, as Longhorn does. Default: lz4.
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// Block size: a power of two from 4Ki to 16Mi (Longhorn writes 2Mi or
    /// 16Mi).
    #[arg(long, value_name = "SIZE", default_value = "2Mi", value_parser = parse_size)]
    pub block_size: u64,
    /// Upload every block even when the target already has it (Longhorn's
    /// full backup mode).
    #[arg(long)]
    pub full: bool,
    /// Directory of the local fingerprint cache, which spares an
    /// incremental import the SHA-512 of every block that did not change.
    /// Default: `$VMBACKUP_CACHE_DIR`, else `$XDG_CACHE_HOME/vmbackup`, else
    /// `~/.cache/vmbackup`.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Use no fingerprint cache: hash every block.
    #[arg(long)]
    pub no_cache: bool,
    /// How to show progress on standard error.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// The fingerprint cache directory `import` uses, if any.
pub fn cache_dir(args: &Args) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    args.cache_dir
        .clone()
        .or_else(|| env("VMBACKUP_CACHE_DIR"))
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("vmbackup")))
        .or_else(|| env("HOME").map(|d| d.join(".cache").join("vmbackup")))
}

/// The backup name to use: the one asked for, or a fresh one. Choosing it
/// here lets an interrupted import find and remove its own placeholder.
pub fn backup_name(args: &Args) -> String {
    args.backup
        .clone()
        .unwrap_or_else(|| vmbackup_backupstore::name::generate_name("backup"))
}

/// Warnings for names the target accepts but Longhorn does not: a backup
/// stored under them can be exported, but no Longhorn volume, Backup or
/// `bak://` handle can refer to it. A name the target refuses as well gets
/// its error from the import, not a warning first.
pub fn name_warnings(volume: &str, backup: &str) -> Vec<String> {
    use vmbackup_api::handle::{BackupName, VolumeName};
    use vmbackup_backupstore::name::is_valid_name;
    let mut out = Vec::new();
    if let (true, Err(e)) = (is_valid_name(volume), VolumeName::new(volume)) {
        out.push(format!(
            "volume name {volume:?} is not a Longhorn volume name ({e}): Longhorn and bak:// handles cannot refer to this backup"
        ));
    }
    if let (true, Err(e)) = (is_valid_name(backup), BackupName::new(backup)) {
        out.push(format!(
            "backup name {backup:?} is not a Longhorn backup name ({e}): Longhorn and bak:// handles cannot refer to it"
        ));
    }
    out
}

/// Runs the import.
pub async fn import(
    target: &Target,
    args: &Args,
    backup: &str,
    progress: &dyn Progress,
) -> anyhow::Result<ImportSummary> {
    if let (Some(asked), Some(cfg)) = (
        args.compression,
        target.volume_config_opt(&args.volume).await?,
    ) {
        let asked = Compression::from(asked);
        let path = layout::volume_cfg(&args.volume)?;
        let existing = cfg.compression(&path)?;
        if existing != asked {
            eprintln!(
                "warning: volume {} stores its blocks with {}; --compression {} applies to new volumes only",
                args.volume,
                existing.as_str(),
                asked.as_str()
            );
        }
    }
    let options = ImportOptions {
        backup_name: Some(backup.to_owned()),
        compression: args.compression.map_or(Compression::Lz4, Compression::from),
        block_size: args.block_size,
        full: args.full,
        cache_dir: cache_dir(args),
        ..Default::default()
    };
    Ok(target
        .import_raw(&args.volume, &args.from, &options, progress)
        .await?)
}

/// True when the volume has a backup config of that name.
pub async fn backup_exists(target: &Target, volume: &str, backup: &str) -> anyhow::Result<bool> {
    match target.backup_config(volume, backup).await {
        Ok(_) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        // Present but unreadable.
        Err(_) => Ok(true),
    }
}

/// Removes the in-progress placeholder an interrupted import left, if it is
/// still in progress. Returns true when it removed one.
pub async fn remove_placeholder(
    target: &Target,
    volume: &str,
    backup: &str,
) -> anyhow::Result<bool> {
    match target.backup_config(volume, backup).await {
        Ok(cfg) if !cfg.is_complete() => {
            let key = target.object_key(&layout::backup_cfg(volume, backup)?);
            target
                .store()
                .delete(&object_store::path::Path::from(key.as_str()))
                .await
                .map_err(|e| anyhow::anyhow!("removing {key}: {e}"))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The summary lines printed before the backup name.
pub fn render_summary(s: &ImportSummary) -> String {
    format!(
        "{kind} backup of {size} image into volume {vol} ({comp}): {blocks} blocks, {up} uploaded ({bytes}), {reused} already on the target, {zero} zero blocks skipped, {cached} checksums from the fingerprint cache\n",
        kind = if s.incremental { "incremental" } else { "full" },
        size = human_bytes(s.image_size),
        vol = s.volume,
        comp = s.compression.as_str(),
        blocks = s.blocks,
        up = s.blocks_uploaded + s.blocks_reuploaded,
        bytes = human_bytes(s.bytes_uploaded),
        reused = s.blocks_reused,
        zero = s.zero_blocks,
        cached = s.blocks - s.blocks_hashed.min(s.blocks),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_longhorn_cannot_use_are_warned_about() {
        assert!(name_warnings("pvc-0123abcd", "backup-0123456789ab4def").is_empty());
        let w = name_warnings("UPPER", "backup-1");
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("\"UPPER\" is not a Longhorn volume name"),
            "{w:?}"
        );
        assert_eq!(name_warnings(&"v".repeat(41), "Backup_1").len(), 2);
        // Names the target refuses are errors, not warnings.
        assert!(name_warnings("../x", "a/b").is_empty());
    }
}
