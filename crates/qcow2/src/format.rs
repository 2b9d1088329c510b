//! The on-disk structures of qcow2 version 3 that the writer produces: the
//! header and the table entry encodings. All integers are big-endian.

/// Default cluster size: 64 KiB, as `qemu-img` uses.
pub const DEFAULT_CLUSTER_BITS: u32 = 16;
/// Smallest cluster size readers accept (512 bytes).
pub const MIN_CLUSTER_BITS: u32 = 9;
/// Largest cluster size readers accept (2 MiB).
pub const MAX_CLUSTER_BITS: u32 = 21;

/// `QFI\xfb`.
pub(crate) const MAGIC: u32 = 0x5146_49fb;
/// Length of a version 3 header without optional fields.
pub(crate) const HEADER_LENGTH: u32 = 104;
/// Refcounts are 16 bits wide (`refcount_order` 4), as QEMU's default.
pub(crate) const REFCOUNT_ORDER: u32 = 4;
/// Bytes per refcount entry.
pub(crate) const REFCOUNT_BYTES: u64 = 1 << (REFCOUNT_ORDER - 3);
/// Largest L1 table QEMU opens.
pub(crate) const MAX_L1_BYTES: u64 = 32 << 20;
/// Bit 63 of L1 and L2 entries: the cluster's refcount is exactly one.
pub(crate) const COPIED: u64 = 1 << 63;

/// The fields of a version 3 header this writer sets. Everything else
/// (backing file, encryption, snapshots, feature bits) is zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) cluster_bits: u32,
    pub(crate) size: u64,
    pub(crate) l1_size: u32,
    pub(crate) l1_table_offset: u64,
    pub(crate) refcount_table_offset: u64,
    pub(crate) refcount_table_clusters: u32,
}

impl Header {
    /// The header bytes, followed by the end-of-extensions marker.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_LENGTH as usize + 8);
        b.extend_from_slice(&MAGIC.to_be_bytes());
        b.extend_from_slice(&3u32.to_be_bytes()); // version
        b.extend_from_slice(&0u64.to_be_bytes()); // backing_file_offset
        b.extend_from_slice(&0u32.to_be_bytes()); // backing_file_size
        b.extend_from_slice(&self.cluster_bits.to_be_bytes());
        b.extend_from_slice(&self.size.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes()); // crypt_method
        b.extend_from_slice(&self.l1_size.to_be_bytes());
        b.extend_from_slice(&self.l1_table_offset.to_be_bytes());
        b.extend_from_slice(&self.refcount_table_offset.to_be_bytes());
        b.extend_from_slice(&self.refcount_table_clusters.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes()); // nb_snapshots
        b.extend_from_slice(&0u64.to_be_bytes()); // snapshots_offset
        b.extend_from_slice(&0u64.to_be_bytes()); // incompatible_features
        b.extend_from_slice(&0u64.to_be_bytes()); // compatible_features
        b.extend_from_slice(&0u64.to_be_bytes()); // autoclear_features
        b.extend_from_slice(&REFCOUNT_ORDER.to_be_bytes());
        b.extend_from_slice(&HEADER_LENGTH.to_be_bytes());
        debug_assert_eq!(b.len(), HEADER_LENGTH as usize);
        // Header extension "end of extensions": type 0, length 0.
        b.extend_from_slice(&[0u8; 8]);
        b
    }
}

/// Encodes a table of 64-bit entries as big-endian bytes.
pub(crate) fn encode_table(entries: &[u64]) -> Vec<u8> {
    entries.iter().flat_map(|e| e.to_be_bytes()).collect()
}

/// True when every byte is zero.
pub(crate) fn is_zero(data: &[u8]) -> bool {
    let mut chunks = data.chunks_exact(16);
    chunks
        .by_ref()
        .all(|c| u128::from_ne_bytes(c.try_into().unwrap_or([1; 16])) == 0)
        && chunks.remainder().iter().all(|b| *b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_layout() {
        let h = Header {
            cluster_bits: 16,
            size: 0x1_0000_0200,
            l1_size: 9,
            l1_table_offset: 0x10000,
            refcount_table_offset: 0x50000,
            refcount_table_clusters: 1,
        };
        let b = h.encode();
        assert_eq!(b.len(), 112);
        assert_eq!(&b[0..4], b"QFI\xfb");
        assert_eq!(u32::from_be_bytes(b[4..8].try_into().unwrap()), 3);
        assert_eq!(u32::from_be_bytes(b[20..24].try_into().unwrap()), 16);
        assert_eq!(
            u64::from_be_bytes(b[24..32].try_into().unwrap()),
            0x1_0000_0200
        );
        assert_eq!(u32::from_be_bytes(b[36..40].try_into().unwrap()), 9);
        assert_eq!(u64::from_be_bytes(b[40..48].try_into().unwrap()), 0x10000);
        assert_eq!(u64::from_be_bytes(b[48..56].try_into().unwrap()), 0x50000);
        assert_eq!(u32::from_be_bytes(b[56..60].try_into().unwrap()), 1);
        assert_eq!(u32::from_be_bytes(b[96..100].try_into().unwrap()), 4);
        assert_eq!(u32::from_be_bytes(b[100..104].try_into().unwrap()), 104);
        assert!(b[104..].iter().all(|x| *x == 0));
    }

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[]));
        assert!(is_zero(&[0; 33]));
        let mut v = vec![0u8; 33];
        v[32] = 1;
        assert!(!is_zero(&v));
        v[32] = 0;
        v[3] = 1;
        assert!(!is_zero(&v));
    }

    #[test]
    fn table_encoding() {
        assert_eq!(
            encode_table(&[1, COPIED | 0x20000]),
            vec![0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 2, 0, 0]
        );
    }
}
