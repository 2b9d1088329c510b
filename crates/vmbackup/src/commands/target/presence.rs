//! Whether the target holds the volume and backup a command names, so that
//! a mistyped name gets the same answer from every command.

use vmbackup_backupstore::Target;

/// Fails, saying which, when the target holds no such volume or the volume
/// no such backup. A volume exists when the target has anything of it: its
/// `volume.cfg` or an entry under its `backups`.
pub async fn require(target: &Target, volume: &str, backup: Option<&str>) -> anyhow::Result<()> {
    let has_cfg = target.volume_exists(volume).await?;
    // Listed once, and only when the answer needs it.
    let listed = if has_cfg && backup.is_none() {
        None
    } else {
        Some(target.list_backups(volume).await)
    };
    let exists = has_cfg
        || match &listed {
            Some(Ok(list)) => !list.backups.is_empty() || !list.ignored.is_empty(),
            Some(Err(e)) => !e.is_not_found(),
            None => false,
        };
    if !exists {
        anyhow::bail!(
            "volume {volume} does not exist on the target {}",
            target.url()
        );
    }
    if let (Some(b), Some(listed)) = (backup, listed)
        && !listed?.backups.iter().any(|x| x == b)
    {
        anyhow::bail!(
            "backup {b} of volume {volume} does not exist on the target {}",
            target.url()
        );
    }
    Ok(())
}
