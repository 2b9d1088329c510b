//! Names of every object and file the engine creates, exactly as Harvester
//! names them, so that objects made by either system are recognised by the
//! other.
//!
//! Harvester shortens only the names it builds with wrangler's
//! `SafeConcatName` (the cross-namespace restore VolumeSnapshot and
//! VolumeSnapshotContent); every other name is a plain concatenation, with no
//! length limit, and is reproduced as such.

use md5::Md5;
use sha2::{Digest, Sha256};

/// Longest name [`safe_concat_name`] returns unshortened (one DNS-1123 label).
pub const MAX_LABEL_LEN: usize = 63;

/// Prefix of the two objects made for a cross-namespace restore.
const RESTORE_PREFIX: &str = "restore";

/// Suffix Harvester appends to a volume backup renamed during handle repair.
pub const REVISE_SUFFIX: &str = "-snap-revise";

/// Suffix of the pre-provisioned content of a rediscovered volume backup.
pub const CONTENT_SUFFIX: &str = "-vsc";

/// A DNS-1123 subdomain (what Kubernetes accepts as an object name).
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A DNS-1123 label (what Kubernetes accepts as a namespace name).
pub fn is_dns1123_label(name: &str) -> bool {
    name.len() <= MAX_LABEL_LEN && !name.contains('.') && is_dns1123_subdomain(name)
}

/// `Ok` for an object name, else what an object name is.
pub fn check_object_name(name: &str) -> Result<(), String> {
    if is_dns1123_subdomain(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a Kubernetes object name (lowercase letters, digits, '-' and '.', at most 253 characters)"
        ))
    }
}

/// `Ok` for a namespace name, else what a namespace name is.
pub fn check_namespace_name(name: &str) -> Result<(), String> {
    if is_dns1123_label(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a namespace name (lowercase letters, digits and '-', at most 63 characters)"
        ))
    }
}

/// Joins `parts` with `-`; a result longer than 63 characters is cut and
/// given a hash suffix so that it is exactly 63 characters (wrangler's
/// `SafeConcatName`, which Harvester uses for the restore VolumeSnapshot and
/// VolumeSnapshotContent).
///
/// The cut keeps 57 characters and a 5-hex suffix when the 57th kept
/// character is a lowercase letter or digit, else 56 characters and a 6-hex
/// suffix, so the result never has `--` or ends a segment with `.`.
pub fn safe_concat_name(parts: &[&str]) -> String {
    let full = parts.join("-");
    if full.len() <= MAX_LABEL_LEN {
        return full;
    }
    let digest = hex::encode(Sha256::digest(full.as_bytes()));
    let bytes = full.as_bytes();
    // Names are ASCII in practice; cut on a char boundary all the same so a
    // hostile non-ASCII name can never make this panic.
    let keep = if bytes
        .get(56)
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        57
    } else {
        56
    };
    let hash_len = MAX_LABEL_LEN - keep - 1;
    let mut cut = keep;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}-{}", &full[..cut], &digest[..hash_len])
}

/// Name of a volume backup entry, which is also its VolumeSnapshot's name:
/// `<vmbackup>-volume-<pvc>`.
pub fn volume_backup_name(vmbackup: &str, pvc: &str) -> String {
    format!("{vmbackup}-volume-{pvc}")
}

/// Name of the pre-provisioned VolumeSnapshotContent made for a volume backup
/// that has a Longhorn backup but no VolumeSnapshot: `<vb>-vsc`.
pub fn content_for_volume_backup(volume_backup: &str) -> String {
    format!("{volume_backup}{CONTENT_SUFFIX}")
}

/// Name of the pre-provisioned content of volume backup `volume_backup` of
/// namespace `ns` when Harvester's `<vb>-vsc` cannot be used because a
/// volume backup of the same name in another namespace needs it too
/// (contents are cluster-scoped): `<vb>-vsc-<8 hex>`, the hex from the
/// SHA-256 of `<ns>/<vb>`.
pub fn namespaced_content_for_volume_backup(ns: &str, volume_backup: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{ns}/{volume_backup}").as_bytes()));
    format!("{volume_backup}{CONTENT_SUFFIX}-{}", &digest[..8])
}

/// The name a volume backup's repaired names derive from: the name without
/// a trailing `-snap-revise` or `-snap-revise-<n>`.
pub fn volume_backup_base(volume_backup: &str) -> &str {
    let trimmed = volume_backup.trim_end_matches(|c: char| c.is_ascii_digit());
    let without_n = trimmed
        .strip_suffix('-')
        .filter(|_| trimmed.len() < volume_backup.len())
        .unwrap_or(volume_backup);
    without_n
        .strip_suffix(REVISE_SUFFIX)
        .unwrap_or(volume_backup)
}

/// New name of a volume backup whose content had to be replaced:
/// `<vb>-snap-revise`. A name that already ends in the suffix is returned
/// unchanged, so repairing twice never stacks suffixes.
pub fn revised_volume_backup_name(volume_backup: &str) -> String {
    if volume_backup.ends_with(REVISE_SUFFIX) {
        volume_backup.to_string()
    } else {
        format!("{volume_backup}{REVISE_SUFFIX}")
    }
}

/// VolumeSnapshot made in the restore's namespace for a cross-namespace
/// restore: `SafeConcatName("restore", <vmrestore>, <vb>)`.
pub fn restore_snapshot_name(vmrestore: &str, volume_backup: &str) -> String {
    safe_concat_name(&[RESTORE_PREFIX, vmrestore, volume_backup])
}

/// VolumeSnapshotContent made for a cross-namespace restore:
/// `SafeConcatName("restore", <vmrestore namespace>, <vmrestore>, <vb>)`.
pub fn restore_content_name(
    vmrestore_namespace: &str,
    vmrestore: &str,
    volume_backup: &str,
) -> String {
    safe_concat_name(&[
        RESTORE_PREFIX,
        vmrestore_namespace,
        vmrestore,
        volume_backup,
    ])
}

/// PVC created by a restore: `restore-<vmbackup>-<vmrestore uid>-<volume>`,
/// where `volume` is the KubeVirt volume name (e.g. `disk-0`).
pub fn restored_pvc_name(vmbackup: &str, vmrestore_uid: &str, volume_name: &str) -> String {
    format!("restore-{vmbackup}-{vmrestore_uid}-{volume_name}")
}

/// Identifier of one restore, stored on the VM it restored:
/// `<vmrestore>-<vmrestore uid>`.
pub fn restore_id(vmrestore: &str, vmrestore_uid: &str) -> String {
    format!("{vmrestore}-{vmrestore_uid}")
}

/// Name of a secret copied for a *new* VM, in the released Harvester form
/// `vm-<vm>-<first 8 hex of MD5(secret)>-ref`. A replaced VM keeps the
/// original secret names.
pub fn new_vm_secret_name(vm: &str, secret: &str) -> String {
    let digest = hex::encode(Md5::digest(secret.as_bytes()));
    format!("vm-{vm}-{}-ref", &digest[..8])
}

/// The dynamically provisioned content of a CSI snapshot named
/// `snapshot-<uid>` is `snapcontent-<uid>`: the first `snapshot` is replaced.
pub fn content_for_longhorn_snapshot(snapshot_name: &str) -> Option<String> {
    snapshot_name.find("snapshot").map(|at| {
        format!(
            "{}snapcontent{}",
            &snapshot_name[..at],
            &snapshot_name[at + "snapshot".len()..]
        )
    })
}

/// Path of a VM backup's metadata file on the backup target, relative to the
/// target root: `harvester/vmbackups/<namespace>/<name>.cfg`.
pub fn vmbackup_metadata_path(namespace: &str, name: &str) -> String {
    format!("harvester/vmbackups/{namespace}/{name}.cfg")
}

/// Handle of a Longhorn backup as Longhorn ≥ 1.8 resolves it:
/// `bak://<volume>/<backup>`, where `volume` is the Backup CR's
/// `status.volumeName`.
pub fn backup_handle(volume: &str, backup: &str) -> String {
    format!("bak://{volume}/{backup}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_joined_unchanged() {
        assert_eq!(safe_concat_name(&["restore", "r1", "vb"]), "restore-r1-vb");
        let exactly = "a".repeat(63);
        assert_eq!(safe_concat_name(&[&exactly]), exactly);
    }

    #[test]
    fn worked_example_of_harvester_restore_content() {
        let name = restore_content_name(
            "default",
            "restore-vm1-2zt5k",
            "vm1-backup-volume-vm1-disk-0-yjwbh",
        );
        assert_eq!(
            name,
            "restore-default-restore-vm1-2zt5k-vm1-backup-volume-vm1-d-b05c8"
        );
        assert_eq!(name.len(), 63);
        let snap = restore_snapshot_name("restore-vm1-2zt5k", "vm1-backup-volume-vm1-disk-0-yjwbh");
        assert_eq!(
            snap,
            "restore-restore-vm1-2zt5k-vm1-backup-volume-vm1-disk-0-yjwbh"
        );
        assert_eq!(snap.len(), 60);
    }

    #[test]
    fn a_cut_on_a_dash_keeps_one_char_less_and_a_longer_hash() {
        // 56 chars, then '-' at index 56.
        let first = "a".repeat(56);
        let name = safe_concat_name(&[&first, "tail-of-the-name"]);
        assert_eq!(name.len(), 63);
        assert_eq!(&name[..56], first);
        assert_eq!(name.as_bytes()[56], b'-');
        assert!(name[57..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(name[57..].len(), 6);
    }

    #[test]
    fn sixty_four_characters_are_shortened() {
        let name = safe_concat_name(&[&"b".repeat(64)]);
        assert_eq!(name.len(), 63);
        assert_eq!(&name[..57], "b".repeat(57));
        assert_eq!(name[58..].len(), 5);
    }

    #[test]
    fn non_ascii_input_never_panics() {
        let name = safe_concat_name(&[&"é".repeat(40)]);
        assert!(name.len() <= 63);
    }

    #[test]
    fn plain_concatenations() {
        assert_eq!(
            volume_backup_name("vm1-b1", "vm1-disk-0-abcde"),
            "vm1-b1-volume-vm1-disk-0-abcde"
        );
        assert_eq!(content_for_volume_backup("x"), "x-vsc");
        assert_eq!(revised_volume_backup_name("x"), "x-snap-revise");
        for (name, base) in [
            ("b-volume-disk-1", "b-volume-disk-1"),
            ("b-volume-disk-1-snap-revise", "b-volume-disk-1"),
            ("b-volume-disk-1-snap-revise-2", "b-volume-disk-1"),
            ("b-volume-disk-1-snap-revise-17", "b-volume-disk-1"),
            ("b-volume-x-2", "b-volume-x-2"),
            ("snap-revise", "snap-revise"),
        ] {
            assert_eq!(volume_backup_base(name), base, "{name}");
        }
        let a = namespaced_content_for_volume_backup("a", "x");
        let b = namespaced_content_for_volume_backup("b", "x");
        assert!(
            a.starts_with("x-vsc-") && a.len() == "x-vsc-".len() + 8,
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(a, namespaced_content_for_volume_backup("a", "x"));
        assert_eq!(revised_volume_backup_name("x-snap-revise"), "x-snap-revise");
        assert_eq!(
            restored_pvc_name("b", "u-1", "disk-0"),
            "restore-b-u-1-disk-0"
        );
        assert_eq!(restore_id("r", "u-1"), "r-u-1");
        assert_eq!(
            vmbackup_metadata_path("default", "vm1-b1"),
            "harvester/vmbackups/default/vm1-b1.cfg"
        );
        assert_eq!(backup_handle("pvc-1", "backup-2"), "bak://pvc-1/backup-2");
    }

    #[test]
    fn new_vm_secret_uses_md5_prefix() {
        // md5("vm1-cloudinit") = 3f0c... computed independently below.
        let name = new_vm_secret_name("vm2", "vm1-cloudinit");
        let digest = hex::encode(Md5::digest(b"vm1-cloudinit"));
        assert_eq!(name, format!("vm-vm2-{}-ref", &digest[..8]));
        assert_eq!(new_vm_secret_name("a", ""), "vm-a-d41d8cd9-ref");
    }

    #[test]
    fn snapcontent_replaces_first_snapshot_only() {
        assert_eq!(
            content_for_longhorn_snapshot("snapshot-90ff09a6-930f-44be-9f72-813db40addb2")
                .as_deref(),
            Some("snapcontent-90ff09a6-930f-44be-9f72-813db40addb2")
        );
        assert_eq!(
            content_for_longhorn_snapshot("snapshot-snapshot").as_deref(),
            Some("snapcontent-snapshot")
        );
        assert_eq!(content_for_longhorn_snapshot("backup-1"), None);
    }
}
