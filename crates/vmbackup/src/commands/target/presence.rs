//! Whether the target holds the volume and backup a command names, so that
//! a mistyped name gets the same answer from every command.

use vmbackup_backupstore::Target;

/// Fails, saying which, when the target holds no such volume or the volume
/// no such backup.
pub async fn require(target: &Target, volume: &str, backup: Option<&str>) -> anyhow::Result<()> {
    if !volume_is_on_target(target, volume).await? {
        anyhow::bail!(
            "volume {volume} does not exist on the target {}",
            target.url()
        );
    }
    if let Some(b) = backup
        && !target
            .list_backups(volume)
            .await?
            .backups
            .iter()
            .any(|x| x == b)
    {
        anyhow::bail!(
            "backup {b} of volume {volume} does not exist on the target {}",
            target.url()
        );
    }
    Ok(())
}

/// True when the target has anything of the volume: its `volume.cfg` or
/// an entry under its `backups`. A volume with neither does not exist.
async fn volume_is_on_target(target: &Target, volume: &str) -> anyhow::Result<bool> {
    if target.volume_exists(volume).await? {
        return Ok(true);
    }
    Ok(match target.list_backups(volume).await {
        Ok(list) => !list.backups.is_empty() || !list.ignored.is_empty(),
        Err(e) => !e.is_not_found(),
    })
}
