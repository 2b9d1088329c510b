//! Where everything lives on a target, as paths relative to the target root.
//! Callers pass validated names; the functions here validate again so that no
//! path is ever built from an unchecked component.

use crate::error::{NameKind, Result};
use crate::name::{Checksum, validate_k8s_name, validate_name};
use sha2::{Digest, Sha512};

/// The fixed top-level directory Longhorn keeps its data in.
pub const PREFIX: &str = "backupstore";

/// Directory holding every backup volume.
pub const VOLUMES_DIR: &str = "backupstore/volumes";

/// Harvester's VM backup metadata folder.
pub const HARVESTER_VMBACKUPS_DIR: &str = "harvester/vmbackups";

/// Harvester's VM image metadata folder.
pub const HARVESTER_VMIMAGES_DIR: &str = "harvester/vmimages";

/// `backupstore/volumes/<h[0:2]>/<h[2:4]>/<volume>` where `h` is the hex
/// SHA-512 of the volume name.
pub fn volume_dir(volume: &str) -> Result<String> {
    validate_name(NameKind::Volume, volume)?;
    let digest = Sha512::digest(volume.as_bytes());
    let hex = Checksum::from_digest(&digest);
    let h = hex.to_string();
    Ok(format!("{VOLUMES_DIR}/{}/{}/{volume}", &h[0..2], &h[2..4]))
}

/// `<volume dir>/volume.cfg`.
pub fn volume_cfg(volume: &str) -> Result<String> {
    Ok(format!("{}/volume.cfg", volume_dir(volume)?))
}

/// `<volume dir>/backups`.
pub fn backups_dir(volume: &str) -> Result<String> {
    Ok(format!("{}/backups", volume_dir(volume)?))
}

/// `<volume dir>/backups/backup_<backup>.cfg`.
pub fn backup_cfg(volume: &str, backup: &str) -> Result<String> {
    // The volume first: a bad volume name is the first thing to fix.
    let dir = backups_dir(volume)?;
    validate_name(NameKind::Backup, backup)?;
    Ok(format!("{dir}/backup_{backup}.cfg"))
}

/// `<volume dir>/blocks`.
pub fn blocks_dir(volume: &str) -> Result<String> {
    Ok(format!("{}/blocks", volume_dir(volume)?))
}

/// `<c[0:2]>/<c[2:4]>/<c>.blk`, the block's path below `blocks/`.
pub fn block_rel_path(checksum: &Checksum) -> String {
    let c = checksum.to_string();
    format!("{}/{}/{c}.blk", &c[0..2], &c[2..4])
}

/// `<volume dir>/blocks/<c[0:2]>/<c[2:4]>/<c>.blk`.
pub fn block_path(volume: &str, checksum: &Checksum) -> Result<String> {
    Ok(format!(
        "{}/{}",
        blocks_dir(volume)?,
        block_rel_path(checksum)
    ))
}

/// `<volume dir>/locks`.
pub fn locks_dir(volume: &str) -> Result<String> {
    Ok(format!("{}/locks", volume_dir(volume)?))
}

/// `<volume dir>/locks/<lock>.lck`.
pub fn lock_path(volume: &str, lock: &str) -> Result<String> {
    validate_name(NameKind::Lock, lock)?;
    Ok(format!("{}/{lock}.lck", locks_dir(volume)?))
}

/// The backup name in a `backups/` listing entry (`backup_<name>.cfg`), if the
/// entry is one; the name still has to be validated.
pub fn backup_name_from_file(file_name: &str) -> Option<&str> {
    file_name
        .trim_start_matches('/')
        .strip_prefix("backup_")?
        .strip_suffix(".cfg")
}

/// The lock name in a `locks/` listing entry (`<name>.lck`), if it is one.
pub fn lock_name_from_file(file_name: &str) -> Option<&str> {
    file_name.strip_suffix(".lck")
}

/// The checksum of a block file found at `<c1>/<c2>/<file>` below `blocks/`,
/// if that is a well-formed block path (the directories must match the
/// checksum's first characters).
pub fn block_checksum_from_rel_path(rel: &str) -> Option<Checksum> {
    let mut parts = rel.split('/');
    let (c1, c2, file, rest) = (parts.next()?, parts.next()?, parts.next()?, parts.next());
    if rest.is_some() {
        return None;
    }
    let checksum = Checksum::parse(file.strip_suffix(".blk")?).ok()?;
    let c = checksum.to_string();
    (c1 == &c[0..2] && c2 == &c[2..4]).then_some(checksum)
}

/// `backupstore/backing-images/backing-images/<name>/backing-image.cfg`.
pub fn backing_image_cfg(name: &str) -> Result<String> {
    validate_name(NameKind::Volume, name)?;
    Ok(format!(
        "{PREFIX}/backing-images/backing-images/{name}/backing-image.cfg"
    ))
}

/// `backupstore/backing-images/blocks/<c[0:2]>/<c[2:4]>/<c>.blk` (one pool
/// shared by every backing image).
pub fn backing_image_block(checksum: &Checksum) -> String {
    format!(
        "{PREFIX}/backing-images/blocks/{}",
        block_rel_path(checksum)
    )
}

/// `backupstore/system-backups/<version>/<name>/system-backup.cfg`.
pub fn system_backup_cfg(version: &str, name: &str) -> Result<String> {
    validate_name(NameKind::Volume, version)?;
    validate_name(NameKind::Backup, name)?;
    Ok(format!(
        "{PREFIX}/system-backups/{version}/{name}/system-backup.cfg"
    ))
}

/// `backupstore/system-backups/<version>/<name>/system-backup.zip`.
pub fn system_backup_zip(version: &str, name: &str) -> Result<String> {
    validate_name(NameKind::Volume, version)?;
    validate_name(NameKind::Backup, name)?;
    Ok(format!(
        "{PREFIX}/system-backups/{version}/{name}/system-backup.zip"
    ))
}

/// `harvester/vmbackups/<namespace>/<name>.cfg` (Harvester ≥ 1.3).
pub fn vm_backup_metadata(namespace: &str, name: &str) -> Result<String> {
    validate_k8s_name(NameKind::Namespace, namespace)?;
    validate_k8s_name(NameKind::ObjectName, name)?;
    Ok(format!("{HARVESTER_VMBACKUPS_DIR}/{namespace}/{name}.cfg"))
}

/// `harvester/vmbackups/<namespace>-<name>.cfg` (Harvester 1.0 – 1.2).
pub fn legacy_vm_backup_metadata(namespace: &str, name: &str) -> Result<String> {
    validate_k8s_name(NameKind::Namespace, namespace)?;
    validate_k8s_name(NameKind::ObjectName, name)?;
    Ok(format!("{HARVESTER_VMBACKUPS_DIR}/{namespace}-{name}.cfg"))
}

/// `harvester/vmimages/<namespace>/<name>.cfg`.
pub fn vm_image_metadata(namespace: &str, name: &str) -> Result<String> {
    validate_k8s_name(NameKind::Namespace, namespace)?;
    validate_k8s_name(NameKind::ObjectName, name)?;
    Ok(format!("{HARVESTER_VMIMAGES_DIR}/{namespace}/{name}.cfg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(volume_dir("vol").unwrap(), "backupstore/volumes/47/e3/vol");
        assert_eq!(
            backup_cfg("vol", "backup-1").unwrap(),
            "backupstore/volumes/47/e3/vol/backups/backup_backup-1.cfg"
        );
        assert!(volume_dir("../x").is_err());
        assert!(backup_cfg("vol", "a/b").is_err());
        assert!(lock_path("vol", "..").is_err());
        // Both names bad: the volume's is named.
        match backup_cfg("../../etc", "x") {
            Err(crate::error::Error::InvalidName { kind, .. }) => {
                assert_eq!(kind, NameKind::Volume)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listing_names() {
        assert_eq!(backup_name_from_file("backup_b-1.cfg"), Some("b-1"));
        assert_eq!(backup_name_from_file("/backup_b-1.cfg"), Some("b-1"));
        assert_eq!(backup_name_from_file("backup_b-1.cfg.tmp.123"), None);
        assert_eq!(backup_name_from_file("volume.cfg"), None);
        let c = "731859029215873fdac1c9f2f8bd25a334abf0f3a9e1b057cf2cacc2826d86b0";
        assert!(block_checksum_from_rel_path(&format!("73/18/{c}.blk")).is_some());
        assert!(block_checksum_from_rel_path(&format!("73/19/{c}.blk")).is_none());
        assert!(block_checksum_from_rel_path(&format!("73/18/{c}.blk.tmp.1")).is_none());
        assert!(block_checksum_from_rel_path(&format!("x/73/18/{c}.blk")).is_none());
    }

    #[test]
    fn harvester_paths() {
        assert_eq!(
            vm_backup_metadata("default", "vm1-b1").unwrap(),
            "harvester/vmbackups/default/vm1-b1.cfg"
        );
        assert_eq!(
            legacy_vm_backup_metadata("default", "vm1-b1").unwrap(),
            "harvester/vmbackups/default-vm1-b1.cfg"
        );
        assert_eq!(
            vm_image_metadata("default", "image-x").unwrap(),
            "harvester/vmimages/default/image-x.cfg"
        );
        assert!(vm_backup_metadata("..", "x").is_err());
        assert!(vm_image_metadata("default", "../../etc").is_err());
    }
}
