//! The class of a handle, as named in the CLI and in JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a handle is, judged from the handle alone.
///
/// Whether a `backup` or `legacy-bs` handle resolves (whether some
/// BackupVolume's `spec.volumeName` equals its volume part) needs the
/// cluster's objects; the class does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HandleClass {
    /// `bak://<volume>/<backup>`: a Longhorn backup, in the form Longhorn
    /// writes today.
    Backup,
    /// `snap://<volume>/<snapshot>`: an in-cluster Longhorn snapshot.
    Snapshot,
    /// `bi://backing?...`: a Longhorn backing image.
    BackingImage,
    /// `bs://<volume>/<backup>`: the deprecated backup form. Longhorn 1.8 and
    /// later resolve it only when the volume part is the Longhorn volume name;
    /// older Harvester releases wrote the PVC name there.
    LegacyBs,
    /// Not a well-formed handle; see [`super::MalformedReason`].
    Malformed,
}

impl HandleClass {
    /// Every class, in display order.
    pub const ALL: [HandleClass; 5] = [
        HandleClass::Backup,
        HandleClass::Snapshot,
        HandleClass::BackingImage,
        HandleClass::LegacyBs,
        HandleClass::Malformed,
    ];

    /// The class's name in the CLI and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HandleClass::Backup => "backup",
            HandleClass::Snapshot => "snapshot",
            HandleClass::BackingImage => "backing-image",
            HandleClass::LegacyBs => "legacy-bs",
            HandleClass::Malformed => "malformed",
        }
    }
}

impl fmt::Display for HandleClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde() {
        for class in HandleClass::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
            let back: HandleClass = serde_json::from_str(&json).unwrap();
            assert_eq!(back, class);
        }
        assert_eq!(
            HandleClass::ALL.map(HandleClass::as_str),
            [
                "backup",
                "snapshot",
                "backing-image",
                "legacy-bs",
                "malformed"
            ]
        );
    }
}
