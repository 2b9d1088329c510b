//! Name rules: what Longhorn accepts for volume, backup and lock names, block
//! checksums, and Kubernetes names used in Harvester metadata paths.
//!
//! Every name that becomes a path component goes through one of these checks,
//! whether it came from the caller, from a listing or from a file's content.

use crate::error::{Error, NameKind, Result};

/// Longest name accepted. Longhorn has no bound, but `backup_<name>.cfg` must
/// fit in a 255-byte file name on every filesystem a target can live on.
pub const MAX_NAME_LEN: usize = 240;

/// Longhorn's backupstore rule `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$` (at least two
/// characters, the first alphanumeric), plus [`MAX_NAME_LEN`].
pub fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && bytes.len() <= MAX_NAME_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// longhorn-manager's stricter rule for listed volume names
/// (`^[a-z0-9][a-z0-9_.-]+$`); it is what hides Longhorn's internal
/// `BACKINGIMAGE` lock directory from volume listings.
pub fn is_manager_volume_name(name: &str) -> bool {
    is_valid_name(name) && !name.bytes().any(|b| b.is_ascii_uppercase())
}

/// Checks a name against [`is_valid_name`].
pub fn validate_name(kind: NameKind, name: &str) -> Result<()> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(Error::InvalidName {
            kind,
            name: name.to_owned(),
            reason: "must be 2 to 240 characters of letters, digits, '_', '.' or '-', starting with a letter or digit",
        })
    }
}

/// A block checksum: the first half of the SHA-512 of the uncompressed
/// block, written as 64 lowercase hex characters. Kept as its 32 bytes, so
/// that the block list of a large backup costs half the memory; ordered as
/// its hex form is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum([u8; 32]);

impl std::fmt::Debug for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Checksum({self})")
    }
}

impl Checksum {
    /// Parses and validates a checksum string.
    pub fn parse(s: &str) -> Result<Self> {
        let bytes = s.as_bytes();
        let mut out = [0u8; 32];
        if bytes.len() == 64
            && bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            && hex::decode_to_slice(bytes, &mut out).is_ok()
        {
            Ok(Checksum(out))
        } else {
            Err(Error::InvalidName {
                kind: NameKind::Checksum,
                name: s.chars().take(100).collect(),
                reason: "must be 64 lowercase hexadecimal characters",
            })
        }
    }

    /// Builds a checksum from the first 32 bytes of a digest (zero-padded
    /// if shorter).
    pub(crate) fn from_digest(digest: &[u8]) -> Self {
        let mut out = [0u8; 32];
        let n = digest.len().min(32);
        out[..n].copy_from_slice(&digest[..n]);
        Checksum(out)
    }

    /// The 32 bytes.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex characters, as ASCII bytes.
    pub fn hex_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        // 32 bytes always fit 64 hex digits.
        let _ = hex::encode_to_slice(self.0, &mut out);
        out
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only ASCII hex digits are written.
        f.write_str(std::str::from_utf8(&self.hex_bytes()).unwrap_or_default())
    }
}

/// Longest Kubernetes object name (a DNS-1123 subdomain).
const MAX_K8S_NAME_LEN: usize = 253;

/// Checks a Kubernetes namespace or object name used in a Harvester metadata
/// path: a DNS-1123 subdomain (lowercase letters, digits, '-' and '.',
/// starting and ending with a letter or digit, at most 253 characters). This
/// rules out `..`, `/` and every other way out of the metadata folder.
pub fn validate_k8s_name(kind: NameKind, name: &str) -> Result<()> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_K8S_NAME_LEN
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            kind,
            name: name.chars().take(300).collect(),
            reason: "must be a Kubernetes name: lowercase letters, digits, '-' or '.', starting and ending with a letter or digit",
        })
    }
}

/// A fresh name `<prefix>-<16 hex>` in Longhorn's style (the 13th hex digit is
/// `4`, as in a version-4 UUID).
pub fn generate_name(prefix: &str) -> String {
    use sha2::{Digest, Sha512};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut h = Sha512::new();
    h.update(now.to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    h.update(format!("{:p}", &COUNTER).as_bytes());
    let digest = h.finalize();
    let mut hex = Checksum::from_digest(&digest).to_string()[..16].to_owned();
    hex.replace_range(12..13, "4");
    format!("{prefix}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longhorn_rule() {
        for ok in [
            "ab",
            "pvc-0123abcd-test",
            "BACKINGIMAGE",
            "ubuntu14.04_v1",
            "x.",
            "9lives",
        ] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in [
            "a",
            "_x1",
            "-3-vol",
            "123/456.a",
            "vol ",
            "",
            "..",
            ".a",
            "a/b",
            "vol\n",
        ] {
            assert!(!is_valid_name(bad), "{bad:?}");
        }
        assert!(!is_valid_name(&"a".repeat(241)));
        assert!(!is_manager_volume_name("BACKINGIMAGE"));
        assert!(is_manager_volume_name("pvc-1"));
    }

    #[test]
    fn checksums() {
        let c = "731859029215873fdac1c9f2f8bd25a334abf0f3a9e1b057cf2cacc2826d86b0";
        assert_eq!(Checksum::parse(c).unwrap().to_string(), c);
        assert!(Checksum::parse(&c.to_uppercase()).is_err());
        assert!(Checksum::parse(&c[..63]).is_err());
        assert!(Checksum::parse("../../../../etc/passwd").is_err());
    }

    #[test]
    fn k8s_names() {
        assert!(validate_k8s_name(NameKind::Namespace, "default").is_ok());
        assert!(validate_k8s_name(NameKind::ObjectName, "vm1-b1.x").is_ok());
        for bad in ["", "..", "a/b", "A", "-a", "a-", "a..b", "."] {
            assert!(
                validate_k8s_name(NameKind::ObjectName, bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_names() {
        let a = generate_name("backup");
        let b = generate_name("backup");
        assert_ne!(a, b);
        assert!(is_valid_name(&a));
        assert_eq!(a.len(), "backup-".len() + 16);
        assert_eq!(&a[7 + 12..7 + 13], "4");
    }
}
