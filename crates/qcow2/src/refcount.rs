//! Sizing the refcount structures that close the file: enough refcount
//! blocks to count every cluster, themselves and the refcount table
//! included.

use crate::format::REFCOUNT_BYTES;

/// How many refcount blocks and refcount table clusters a file needs when
/// `used` clusters precede them.
pub(crate) fn refcount_layout(used: u64, cluster_size: u64) -> (u64, u64) {
    let per_block = cluster_size / REFCOUNT_BYTES;
    let (mut blocks, mut table) = (0u64, 0u64);
    loop {
        let total = used + blocks + table;
        let need_blocks = total.div_ceil(per_block);
        let need_table = (need_blocks * 8).div_ceil(cluster_size);
        if need_blocks == blocks && need_table == table {
            return (blocks, table);
        }
        blocks = need_blocks;
        table = need_table;
    }
}

/// Refcount block `index`: 1 for every cluster below `total`, 0 above.
pub(crate) fn refcount_block(index: u64, total: u64, cluster_size: u64) -> Vec<u8> {
    let per_block = cluster_size / REFCOUNT_BYTES;
    let first = index * per_block;
    let used = total.saturating_sub(first).min(per_block);
    let mut block = vec![0u8; usize::try_from(cluster_size).unwrap_or(0)];
    for entry in block
        .chunks_exact_mut(REFCOUNT_BYTES as usize)
        .take(usize::try_from(used).unwrap_or(0))
    {
        entry.copy_from_slice(&1u16.to_be_bytes());
    }
    block
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_covers_itself() {
        let cs = 65536;
        let per_block = cs / REFCOUNT_BYTES;
        for used in [
            1,
            2,
            100,
            per_block - 2,
            per_block - 1,
            per_block,
            5 * per_block,
            1 << 26,
        ] {
            let (blocks, table) = refcount_layout(used, cs);
            let total = used + blocks + table;
            assert!(blocks * per_block >= total, "{used}");
            assert!(table * cs >= blocks * 8, "{used}");
            // Minimal: one block fewer would not do.
            assert!((blocks - 1) * per_block < total, "{used}");
        }
        // 512-byte clusters: 256 refcounts per block, 64 table entries per cluster.
        let (blocks, table) = refcount_layout(20_000, 512);
        assert!(blocks * 256 >= 20_000 + blocks + table);
        assert!(table * 64 >= blocks);
    }

    #[test]
    fn block_contents() {
        let b = refcount_block(0, 3, 512);
        assert_eq!(&b[..8], &[0, 1, 0, 1, 0, 1, 0, 0]);
        assert!(b[6..].iter().all(|x| *x == 0));
        let b = refcount_block(1, 300, 512);
        assert_eq!(b.iter().filter(|x| **x == 1).count(), 300 - 256);
        assert!(refcount_block(2, 300, 512).iter().all(|x| *x == 0));
    }
}
