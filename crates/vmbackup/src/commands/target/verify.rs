//! `vmbackup target verify`: read every block of the chosen backups, check
//! it against its checksum, and report each damaged block with the backup,
//! offset and file that use it.

use serde::Serialize;
use vmbackup_backupstore::{Problem, Target, VerifyOptions, VerifyReport};

use crate::output::Format;
use crate::progress::{ProgressMode, Reporter, human_bytes};

/// Arguments of `vmbackup target verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::connect::TargetArgs,
    /// Only this backup volume (default: every volume on the target).
    #[arg(long, value_name = "VOLUME")]
    pub volume: Option<String>,
    /// Only this backup of the volume.
    #[arg(long, value_name = "BACKUP", requires = "volume")]
    pub backup: Option<String>,
    /// Hold Longhorn's volume lock while reading, so that a deletion
    /// meanwhile fails instead. Needs write access to the target. Without
    /// it, damage found in a backup that a deletion removed meanwhile is
    /// not reported, since the backup is gone.
    #[arg(long)]
    pub lock: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// How to show progress on standard error.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
}

/// What `verify` found on one volume.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeResult {
    pub volume: String,
    pub ok: bool,
    pub backups_checked: Vec<String>,
    pub in_progress: Vec<String>,
    pub blocks_checked: u64,
    pub bytes_checked: u64,
    /// Damaged blocks, one entry per backup and offset using them.
    pub bad_blocks: Vec<BadBlock>,
    /// Backup configs (or `volume.cfg`) that could not be used.
    pub bad_configs: Vec<BadConfig>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadBlock {
    pub backup: String,
    pub offset: u64,
    /// Block file, relative to the target root.
    pub file: String,
    pub checksum: String,
    pub error: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadConfig {
    /// Backup name; empty for the volume's own `volume.cfg`.
    pub backup: String,
    pub error: String,
}

impl VolumeResult {
    fn from_report(r: VerifyReport) -> Self {
        let mut bad_blocks = Vec::new();
        let mut bad_configs = Vec::new();
        for p in r.problems {
            match p {
                Problem::Block {
                    checksum,
                    path,
                    used_by,
                    error,
                } => {
                    for u in used_by {
                        bad_blocks.push(BadBlock {
                            backup: u.backup,
                            offset: u.offset,
                            file: path.clone(),
                            checksum: checksum.to_string(),
                            error: error.to_string(),
                        });
                    }
                }
                Problem::Config { backup, error } => bad_configs.push(BadConfig {
                    backup,
                    error: error.to_string(),
                }),
            }
        }
        bad_blocks.sort_by(|a, b| (&a.backup, a.offset).cmp(&(&b.backup, b.offset)));
        VolumeResult {
            ok: bad_blocks.is_empty() && bad_configs.is_empty(),
            volume: r.volume,
            backups_checked: r.backups_checked,
            in_progress: r.in_progress,
            blocks_checked: r.blocks_checked,
            bytes_checked: r.bytes_checked,
            bad_blocks,
            bad_configs,
        }
    }
}

/// Verifies the volumes and backups the arguments select.
pub async fn collect(
    target: &Target,
    volume: Option<&str>,
    backup: Option<&str>,
    lock: bool,
    progress: ProgressMode,
) -> anyhow::Result<Vec<VolumeResult>> {
    let mut unlisted = Vec::new();
    let volumes = match volume {
        Some(v) => {
            super::presence::require(target, v, backup).await?;
            vec![v.to_owned()]
        }
        None => {
            let listed = target.list_volumes().await?;
            // A directory that could not be listed may hold volumes nothing
            // checks: it is damage, reported as a volume that failed.
            unlisted = listed.unlisted;
            listed.volumes
        }
    };
    let only: Option<Vec<String>> = backup.map(|b| vec![b.to_owned()]);
    let options = VerifyOptions {
        lock,
        ..Default::default()
    };
    let mut out: Vec<VolumeResult> = unlisted
        .into_iter()
        .map(|u| VolumeResult {
            volume: u.path,
            ok: false,
            backups_checked: Vec::new(),
            in_progress: Vec::new(),
            blocks_checked: 0,
            bytes_checked: 0,
            bad_blocks: Vec::new(),
            bad_configs: vec![BadConfig {
                backup: String::new(),
                error: u.reason,
            }],
        })
        .collect();
    for v in volumes {
        let reporter = Reporter::new(progress, &format!("verify {v}"));
        let report = target
            .verify_volume(&v, only.as_deref(), &options, &reporter)
            .await?;
        reporter.finish();
        if let Some(b) = backup
            && report.in_progress.iter().any(|x| x == b)
        {
            anyhow::bail!(
                "backup {b} of volume {v} is not complete (an import in progress, or one that \
                 was stopped): its config has no CreatedTime, so it has no blocks to verify"
            );
        }
        out.push(VolumeResult::from_report(report));
    }
    Ok(out)
}

/// Renders the results as text: a summary line per volume, then one line
/// per damaged block use and per unusable config.
pub fn render_text(results: &[VolumeResult]) -> String {
    let mut out = String::new();
    if results.is_empty() {
        out.push_str("No backup volumes to verify.\n");
    }
    for r in results {
        let mut line = format!(
            "volume {}: {} ({} backups, {} blocks, {} checked",
            r.volume,
            if r.ok { "OK" } else { "DAMAGED" },
            r.backups_checked.len(),
            r.blocks_checked,
            human_bytes(r.bytes_checked),
        );
        if !r.in_progress.is_empty() {
            line.push_str(&format!(
                "; in progress, not checked: {}",
                r.in_progress.join(", ")
            ));
        }
        line.push_str(")\n");
        out.push_str(&line);
        for c in &r.bad_configs {
            if c.backup.is_empty() {
                out.push_str(&format!("  bad volume: {}\n", c.error));
            } else {
                out.push_str(&format!("  bad backup {}: {}\n", c.backup, c.error));
            }
        }
        for b in &r.bad_blocks {
            // The error names the file too: say it once.
            let error = b
                .error
                .strip_prefix(&format!("{}: ", b.file))
                .unwrap_or(&b.error);
            out.push_str(&format!(
                "  bad block: backup {} offset {} file {}: {error}\n",
                b.backup, b.offset, b.file
            ));
        }
    }
    out
}

/// Renders results in a structured format.
pub fn render(results: &[VolumeResult], format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Table => render_text(results),
        Format::Json => serde_json::to_string_pretty(results)? + "\n",
        Format::Yaml => crate::yaml::to_string(results)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_block_line_names_its_file_once() {
        let file = "backupstore/volumes/d7/f9/v1/blocks/d3/d4/d3d4.blk";
        let result = VolumeResult {
            volume: "v1".into(),
            ok: false,
            backups_checked: vec!["backup-1".into()],
            in_progress: vec![],
            blocks_checked: 1,
            bytes_checked: 2 << 20,
            bad_blocks: vec![BadBlock {
                backup: "backup-1".into(),
                offset: 4 << 20,
                file: file.into(),
                checksum: "d3d4".into(),
                error: format!(
                    "{file}: damaged block (lz4): the LZ4 content checksum does not match"
                ),
            }],
            bad_configs: vec![],
        };
        let text = render_text(&[result]);
        assert_eq!(text.matches(file).count(), 1, "{text}");
        assert!(
            text.contains(&format!(
                "bad block: backup backup-1 offset 4194304 file {file}: damaged block (lz4)"
            )),
            "{text}"
        );
    }
}
