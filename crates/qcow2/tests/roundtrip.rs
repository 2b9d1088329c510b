//! Images written by the writer read back exactly, with consistent
//! refcounts, for any sparse content, write pattern and cluster size.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use proptest::prelude::*;
use std::io::Cursor;
use vmbackup_qcow2::{Qcow2Writer, WriterOptions};

/// Writes `guest` in pieces of the given lengths, skipping pieces marked as
/// holes (they must be zeros in `guest`).
fn write_image(guest: &[u8], pieces: &[(usize, bool)], cluster_bits: u32) -> Vec<u8> {
    let mut w = Qcow2Writer::new(
        Cursor::new(Vec::new()),
        guest.len() as u64,
        WriterOptions { cluster_bits },
    )
    .unwrap();
    let mut pos = 0usize;
    for &(len, hole) in pieces {
        let end = (pos + len).min(guest.len());
        if !hole {
            w.write(pos as u64, &guest[pos..end]).unwrap();
        }
        pos = end;
    }
    if pos < guest.len() {
        w.write(pos as u64, &guest[pos..]).unwrap();
    }
    let (out, summary) = w.finish().unwrap();
    let bytes = out.into_inner();
    assert_eq!(summary.file_size, bytes.len() as u64);
    bytes
}

fn guest_strategy() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, bool)>, u32)> {
    (9u32..=13, 0usize..200_000).prop_flat_map(|(bits, size)| {
        let extents =
            prop::collection::vec((0usize..size.max(1), 1usize..9000, any::<u8>()), 0..12);
        let pieces = prop::collection::vec((1usize..20_000, any::<bool>()), 0..30);
        (Just(size), extents, pieces, Just(bits)).prop_map(|(size, extents, pieces, bits)| {
            let mut guest = vec![0u8; size];
            for (at, len, byte) in extents {
                let end = (at + len).min(size);
                for (i, b) in guest[at..end].iter_mut().enumerate() {
                    *b = byte.wrapping_add(i as u8);
                }
            }
            // A piece marked as a hole must really be zeros: clear it.
            let mut pos = 0;
            for &(len, hole) in &pieces {
                let end = (pos + len).min(size);
                if hole {
                    guest[pos..end].fill(0);
                }
                pos = end;
            }
            (guest, pieces, bits)
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn reads_back_exactly((guest, pieces, bits) in guest_strategy()) {
        let bytes = write_image(&guest, &pieces, bits);
        let image = common::Image::parse(bytes);
        image.check_refcounts();
        prop_assert_eq!(image.size, (guest.len() as u64).next_multiple_of(512));
        let mut back = image.guest();
        prop_assert!(back[guest.len()..].iter().all(|b| *b == 0));
        back.truncate(guest.len());
        prop_assert!(back == guest, "guest content differs");
    }
}

#[test]
fn many_l2_tables_and_refcount_blocks() {
    // 512-byte clusters: an L2 table maps 32 KiB and a refcount block
    // counts 256 clusters, so 4 MiB of scattered data needs many of both.
    let size = 8usize << 20;
    let mut guest = vec![0u8; size];
    for (i, chunk) in guest.chunks_mut(4096).enumerate() {
        if i % 3 != 1 {
            chunk[..700].fill((i % 251) as u8 + 1);
        }
    }
    let bytes = write_image(&guest, &[(1 << 20, false); 8], 9);
    let image = common::Image::parse(bytes);
    image.check_refcounts();
    assert_eq!(image.guest(), guest);
}

#[test]
fn only_nonzero_clusters_take_space() {
    let size = 64usize << 20;
    let mut guest = vec![0u8; size];
    guest[3 << 20] = 1;
    guest[(40 << 20) + 65535] = 2;
    let bytes = write_image(&guest, &[(size, false)], 16);
    // header + L1 + 2 data + 1 L2 (both in the first 512 MiB) + refcount block + table
    assert_eq!(bytes.len(), 7 * 65536);
    let image = common::Image::parse(bytes);
    image.check_refcounts();
    assert_eq!(image.guest(), guest);
}
