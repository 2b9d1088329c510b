//! An independent, minimal qcow2 reader used to check what the writer
//! produced: it follows L1/L2 tables to read guest data and recounts every
//! reference to compare with the stored refcounts.
#![allow(dead_code)]

use std::collections::BTreeMap;

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

const OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;

/// A parsed image held in memory.
pub struct Image {
    pub bytes: Vec<u8>,
    pub cluster_size: u64,
    pub size: u64,
    l1: Vec<u64>,
}

impl Image {
    pub fn parse(bytes: Vec<u8>) -> Image {
        assert_eq!(&bytes[..4], b"QFI\xfb");
        assert_eq!(be32(&bytes, 4), 3, "version");
        let cluster_bits = be32(&bytes, 20);
        let size = be64(&bytes, 24);
        let l1_size = be32(&bytes, 36) as usize;
        let l1_off = be64(&bytes, 40) as usize;
        assert_eq!(be32(&bytes, 96), 4, "refcount order");
        let l1 = (0..l1_size).map(|i| be64(&bytes, l1_off + 8 * i)).collect();
        Image {
            cluster_size: 1 << cluster_bits,
            size,
            l1,
            bytes,
        }
    }

    /// The whole guest content.
    pub fn guest(&self) -> Vec<u8> {
        let cs = self.cluster_size as usize;
        let l2_entries = cs / 8;
        let mut out = vec![0u8; self.size as usize];
        for (i, e) in self.l1.iter().enumerate() {
            let l2 = (e & OFFSET_MASK) as usize;
            if l2 == 0 {
                continue;
            }
            for j in 0..l2_entries {
                let entry = be64(&self.bytes, l2 + 8 * j);
                let host = (entry & OFFSET_MASK) as usize;
                if host == 0 {
                    continue;
                }
                let guest = (i * l2_entries + j) * cs;
                let n = cs.min(out.len() - guest);
                out[guest..guest + n].copy_from_slice(&self.bytes[host..host + n]);
            }
        }
        out
    }

    /// Checks that every cluster's stored refcount equals the number of
    /// references to it, that every allocated cluster lies inside the file,
    /// and that entries with refcount 1 carry the COPIED flag.
    pub fn check_refcounts(&self) {
        let cs = self.cluster_size;
        let mut refs: BTreeMap<u64, u64> = BTreeMap::new();
        let mut add = |off: u64, what: &str| {
            assert_eq!(off % cs, 0, "{what} at {off} is not cluster aligned");
            assert!(
                off + cs <= self.bytes.len() as u64,
                "{what} at {off} is past the end"
            );
            *refs.entry(off / cs).or_default() += 1;
        };
        add(0, "header");
        let l1_off = be64(&self.bytes, 40);
        let l1_clusters = (self.l1.len() as u64 * 8).div_ceil(cs).max(1);
        for c in 0..l1_clusters {
            add(l1_off + c * cs, "L1");
        }
        for e in &self.l1 {
            let l2 = e & OFFSET_MASK;
            if l2 == 0 {
                continue;
            }
            assert_ne!(e & (1 << 63), 0, "L1 entry without COPIED");
            add(l2, "L2");
            for j in 0..cs / 8 {
                let entry = be64(&self.bytes, (l2 + 8 * j) as usize);
                if entry & OFFSET_MASK != 0 {
                    assert_ne!(entry & (1 << 63), 0, "L2 entry without COPIED");
                    add(entry & OFFSET_MASK, "data");
                }
            }
        }
        let rt_off = be64(&self.bytes, 48);
        let rt_clusters = be32(&self.bytes, 56) as u64;
        for c in 0..rt_clusters {
            add(rt_off + c * cs, "refcount table");
        }
        let per_block = cs / 2;
        let mut stored: BTreeMap<u64, u64> = BTreeMap::new();
        for i in 0..rt_clusters * cs / 8 {
            let block = be64(&self.bytes, (rt_off + 8 * i) as usize);
            if block == 0 {
                continue;
            }
            add(block, "refcount block");
            for k in 0..per_block {
                let v = u16::from_be_bytes(
                    self.bytes[(block + 2 * k) as usize..(block + 2 * k + 2) as usize]
                        .try_into()
                        .unwrap(),
                );
                if v != 0 {
                    stored.insert(i * per_block + k, v as u64);
                }
            }
        }
        assert_eq!(stored, refs, "stored refcounts differ from references");
        assert_eq!(
            self.bytes.len() as u64,
            (refs.keys().max().unwrap() + 1) * cs,
            "file ends after its last cluster"
        );
    }
}
