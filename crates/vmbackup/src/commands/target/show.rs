//! `vmbackup target show`: one backup in detail.

use std::collections::BTreeMap;

use serde::Serialize;
use vmbackup_backupstore::{Target, encode_backup_url, layout};

use crate::output::Format;
use crate::progress::human_bytes;

/// Arguments of `vmbackup target show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::connect::TargetArgs,
    /// Backup volume (Longhorn volume name, e.g. `pvc-…`).
    #[arg(long, value_name = "VOLUME")]
    pub volume: String,
    /// Backup name, e.g. `backup-0123456789ab4def`.
    #[arg(long, value_name = "BACKUP")]
    pub backup: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// The details `show` prints.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Details {
    pub volume: String,
    pub backup: String,
    /// Longhorn backup URL (`<target>?backup=…&volume=…`).
    pub url: String,
    /// Config file, relative to the target root.
    pub config_path: String,
    /// `complete` or `in-progress`.
    pub state: &'static str,
    pub complete: bool,
    pub created: Option<String>,
    pub snapshot: String,
    pub snapshot_created: Option<String>,
    /// Size Longhorn reports (bytes of stored blocks).
    pub size: u64,
    /// Size of the restored image, for a complete backup.
    pub image_size: Option<u64>,
    pub block_size: u64,
    pub compression: String,
    pub incremental: bool,
    pub blocks: usize,
    pub newly_uploaded_bytes: i64,
    pub re_uploaded_bytes: i64,
    pub labels: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

/// Loads the details of a backup.
pub async fn collect(target: &Target, volume: &str, backup: &str) -> anyhow::Result<Details> {
    let config_path = layout::backup_cfg(volume, backup)?;
    let mut cfg = target.backup_config(volume, backup).await?;
    let block_size = cfg.block_size(&config_path)?;
    let compression = cfg.compression(&config_path)?;
    // Only the count is shown; the list (which can be long) goes before the
    // image is opened, which reads it again.
    let blocks = std::mem::take(&mut cfg.blocks).len();
    let image_size = if cfg.is_complete() {
        Some(target.open_backup_image(volume, backup).await?.size)
    } else {
        None
    };
    Ok(Details {
        volume: volume.to_owned(),
        backup: backup.to_owned(),
        url: encode_backup_url(backup, volume, target.url()),
        config_path,
        state: if cfg.is_complete() {
            "complete"
        } else {
            "in-progress"
        },
        complete: cfg.is_complete(),
        created: (!cfg.created_time.is_empty()).then(|| cfg.created_time.clone()),
        snapshot: cfg.snapshot_name.clone(),
        snapshot_created: (!cfg.snapshot_created_at.is_empty())
            .then(|| cfg.snapshot_created_at.clone()),
        size: cfg.size.unsigned_abs(),
        image_size,
        block_size,
        compression: compression.as_str().to_owned(),
        incremental: cfg.is_incremental,
        blocks,
        newly_uploaded_bytes: cfg.newly_uploaded_data_size,
        re_uploaded_bytes: cfg.re_uploaded_data_size,
        labels: cfg.labels.clone().unwrap_or_default(),
        parameters: cfg.parameters.clone().unwrap_or_default(),
    })
}

/// Renders the details as `Field: value` lines.
pub fn render_text(d: &Details) -> String {
    let bytes = |n: u64| format!("{} ({n} bytes)", human_bytes(n));
    let map = |m: &BTreeMap<String, String>| {
        if m.is_empty() {
            "-".to_owned()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let fields: Vec<(&str, String)> = vec![
        ("Volume", d.volume.clone()),
        ("Backup", d.backup.clone()),
        ("URL", d.url.clone()),
        ("Config", d.config_path.clone()),
        ("State", d.state.to_owned()),
        ("Created", d.created.clone().unwrap_or_else(|| "-".into())),
        (
            "Snapshot",
            match &d.snapshot_created {
                Some(t) => format!("{} (taken {t})", d.snapshot),
                None => d.snapshot.clone(),
            },
        ),
        ("Size", bytes(d.size)),
        ("Image size", d.image_size.map_or("-".into(), bytes)),
        ("Block size", bytes(d.block_size)),
        ("Compression", d.compression.clone()),
        (
            "Incremental",
            if d.incremental { "yes" } else { "no" }.into(),
        ),
        ("Blocks", d.blocks.to_string()),
        (
            "Newly uploaded",
            bytes(d.newly_uploaded_bytes.unsigned_abs()),
        ),
        ("Re-uploaded", bytes(d.re_uploaded_bytes.unsigned_abs())),
        ("Labels", map(&d.labels)),
        ("Parameters", map(&d.parameters)),
    ];
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    fields
        .into_iter()
        .map(|(k, v)| format!("{:<width$} {v}\n", format!("{k}:")))
        .collect()
}
