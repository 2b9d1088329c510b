//! Deterministic identifiers: UIDs and Longhorn-style random names derived
//! from a seed and a counter, so the same scenario always yields the same
//! names (and two clusters never share one).

use sha2::{Digest, Sha256};

/// A source of unique, reproducible identifiers.
#[derive(Debug, Clone)]
pub struct Ids {
    seed: String,
    counter: u64,
}

impl Ids {
    /// Identifiers for the simulation `seed` (for example a cluster name).
    pub fn new(seed: impl Into<String>) -> Self {
        Ids {
            seed: seed.into(),
            counter: 0,
        }
    }

    fn next_digest(&mut self) -> [u8; 32] {
        self.counter += 1;
        let mut h = Sha256::new();
        h.update(self.seed.as_bytes());
        h.update(b"/");
        h.update(self.counter.to_be_bytes());
        h.finalize().into()
    }

    /// A UUID (version 4 layout) as the API server assigns to `metadata.uid`.
    pub fn uid(&mut self) -> String {
        let mut b = self.next_digest();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(&b[..16]);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// `<prefix>-<16 hex>`, Longhorn's generated names (`backup-…`): the
    /// first 16 hex digits of a UUID without dashes.
    pub fn generated_name(&mut self, prefix: &str) -> String {
        let uid = self.uid().replace('-', "");
        format!("{prefix}-{}", &uid[..16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_look_like_uuids_and_repeat_per_seed() {
        let mut a = Ids::new("c1");
        let mut b = Ids::new("c1");
        let mut c = Ids::new("c2");
        let u = a.uid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(u, b.uid());
        assert_ne!(u, c.uid());
        assert_ne!(a.uid(), u);
    }

    #[test]
    fn generated_names_follow_longhorn() {
        let mut ids = Ids::new("x");
        let n = ids.generated_name("backup");
        assert_eq!(n.len(), "backup-".len() + 16);
        // The 13th hex digit of a version-4 UUID is always 4.
        assert_eq!(&n[7 + 12..7 + 13], "4");
    }
}
