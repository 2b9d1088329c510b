//! Names Longhorn gives its objects.

use sha2::{Digest, Sha256};

use super::LonghornVersion;

/// Name of the BackupVolume object of `volume` on backup target `target`:
/// the volume name before 1.8, `<volume>-<first 8 hex of
/// SHA-256("<volume>-<target>")>` from 1.9.1 on (1.8.0–1.9.0 used a random
/// suffix instead).
pub fn backup_volume(version: LonghornVersion, volume: &str, target: &str) -> String {
    match version {
        LonghornVersion::V1_7 => volume.to_owned(),
        LonghornVersion::V1_8 => {
            let digest = hex::encode(Sha256::digest(format!("{volume}-{target}").trim()));
            format!("{volume}-{}", &digest[..8])
        }
    }
}

/// Name of the engine of volume `volume` (Longhorn's `<volume>-e-0`).
pub fn engine(volume: &str) -> String {
    format!("{volume}-e-0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_volume_names_match_longhorn() {
        // Vectors computed from Longhorn's rule.
        assert_eq!(
            backup_volume(LonghornVersion::V1_8, "pvc-0123abcd-test", "default"),
            "pvc-0123abcd-test-0fbc591a"
        );
        assert_eq!(
            backup_volume(LonghornVersion::V1_8, "vol", "default"),
            "vol-c4eb6c05"
        );
        assert_eq!(
            backup_volume(LonghornVersion::V1_8, "vol", "s3-target"),
            "vol-681a8860"
        );
        assert_eq!(
            backup_volume(LonghornVersion::V1_7, "vol", "default"),
            "vol"
        );
    }
}
