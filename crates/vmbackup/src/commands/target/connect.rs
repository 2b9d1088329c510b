//! The options every `vmbackup target` command takes to reach a backup
//! target, and opening it.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use vmbackup_backupstore::{Credentials, Target, TargetOptions, TargetUrl};

use super::units::parse_duration;

/// Where the backup target is and how to reach it.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Backup target URL, as in Longhorn's backup target setting: a local
    /// directory (`/srv/backups` or `file:///srv/backups`),
    /// `nfs://server:/export` or `cifs://server/share` (with --mount-point),
    /// `s3://bucket@region/path` or `azblob://container@core.windows.net/path`.
    #[arg(long, env = "VMBACKUP_TARGET", value_name = "URL")]
    pub target: String,

    /// Local directory where the NFS export or CIFS share of the URL is
    /// mounted (for nfs:// and cifs:// targets).
    #[arg(long, value_name = "DIR")]
    pub mount_point: Option<PathBuf>,

    /// Kubernetes Secret manifest (YAML or JSON) with the target's
    /// credentials, shaped like the secret a Longhorn backup target names:
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINTS, AWS_CERT,
    /// VIRTUAL_HOSTED_STYLE, AZBLOB_ACCOUNT_NAME, AZBLOB_ACCOUNT_KEY, ... in
    /// `data` (base64) or `stringData`. Its values override the same
    /// variables from the environment.
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,

    /// Custom S3 or Azure Blob endpoint, e.g. `http://minio.local:9000`
    /// (overrides AWS_ENDPOINTS / AZBLOB_ENDPOINT).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Address S3 buckets as `bucket.endpoint` (virtual-hosted style)
    /// instead of `endpoint/bucket` (path style) on a custom endpoint.
    #[arg(long)]
    pub virtual_hosted_style: bool,

    /// How long to wait after writing a volume lock before checking for
    /// competing locks. Longhorn waits 2s; shorten it only when no Longhorn
    /// uses the target at the same time.
    #[arg(
        long,
        env = "VMBACKUP_LOCK_SETTLE",
        value_name = "DURATION",
        default_value = "2s",
        value_parser = parse_duration
    )]
    pub lock_settle: Duration,
}

impl TargetArgs {
    /// The library's options: credentials from the environment, then the
    /// secret file, then the flags.
    pub fn options(&self) -> anyhow::Result<TargetOptions> {
        let url = vmbackup_backupstore::target::parse_target_url(&self.target)?;
        let (is_s3, is_azure, is_mounted) = match &url {
            TargetUrl::S3 { .. } => (true, false, false),
            TargetUrl::Azure { .. } => (false, true, false),
            TargetUrl::Mounted { .. } => (false, false, true),
            _ => (false, false, false),
        };
        if self.mount_point.is_none() && is_mounted {
            bail!(
                "{} is read through its local mount: give the directory where it is mounted with --mount-point DIR",
                self.target
            );
        }
        if self.mount_point.is_some() && !is_mounted {
            bail!(
                "--mount-point applies to nfs:// and cifs:// targets, not {}",
                self.target
            );
        }
        if self.endpoint.is_some() && !(is_s3 || is_azure) {
            bail!(
                "--endpoint applies to s3:// and azblob:// targets, not {}",
                self.target
            );
        }
        if self.virtual_hosted_style && !is_s3 {
            bail!(
                "--virtual-hosted-style applies to s3:// targets, not {}",
                self.target
            );
        }
        let mut credentials = Credentials::from_env();
        if let Some(file) = &self.credentials {
            credentials = credentials.merge(
                Credentials::from_secret_file(file)
                    .with_context(|| format!("--credentials {}", file.display()))?,
            );
        }
        if let Some(endpoint) = &self.endpoint {
            let key = if is_azure {
                "AZBLOB_ENDPOINT"
            } else {
                "AWS_ENDPOINTS"
            };
            credentials.set(key, endpoint.clone());
        }
        if self.virtual_hosted_style {
            credentials.set("VIRTUAL_HOSTED_STYLE", "true");
        }
        Ok(TargetOptions {
            mount_point: self.mount_point.clone(),
            credentials,
        })
    }

    /// Opens the target.
    pub async fn open(&self) -> anyhow::Result<Target> {
        let options = self.options()?;
        let target = Target::open(&self.target, &options).await?;
        Ok(target.with_lock_settle(self.lock_settle))
    }
}
