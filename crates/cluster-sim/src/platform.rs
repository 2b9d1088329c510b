//! The parts of the platform that are neither vmbackup nor Longhorn:
//! Harvester's own setting controller, which points Longhorn's default
//! BackupTarget at the target of the `backup-target` setting (URL, and the
//! poll interval when `refreshIntervalInSeconds` is above 0, as Harvester
//! does; setting it back to 0 leaves the poll interval alone).

use vmbackup_api::harvester::Setting;
use vmbackup_api::longhorn::BackupTarget;
use vmbackup_api::wellknown;

use crate::env::Env;
use crate::error::SimError;
use crate::longhorn;

/// One pass.
pub fn run(env: &mut Env) -> Result<(), SimError> {
    let Some(setting) = env
        .store
        .get_as::<Setting>("", wellknown::SETTING_BACKUP_TARGET)
        .cloned()
    else {
        return Ok(());
    };
    let Ok(value) = setting.backup_target() else {
        return Ok(());
    };
    let url = if value.is_unset() {
        String::new()
    } else {
        value.url()
    };
    let refresh = value.refresh_interval_seconds();
    if env
        .store
        .get_as::<BackupTarget>(longhorn::NAMESPACE, longhorn::TARGET)
        .is_none()
    {
        return Ok(());
    }
    env.store
        .update::<BackupTarget>(longhorn::NAMESPACE, longhorn::TARGET, |bt| {
            bt.spec.backup_target_url = Some(url.clone());
            if refresh > 0 {
                bt.spec.poll_interval = Some(format!("{refresh}s"));
            }
        })?;
    Ok(())
}
