//! The LZ4 frames of Longhorn's block files, written from and decoded into
//! a block buffer without `lz4_flex`'s frame writer and reader, which
//! allocate and fill two buffers of the frame's block size (4 MiB) for every
//! frame: for one frame per block file that costs more than the compression
//! itself, and a great deal more for small blocks.
//!
//! Writing ([`encode`]) gives what Longhorn's writer gives: 4 MiB frame
//! blocks, independent, each stored uncompressed when compression does not
//! shrink it, no block checksums, a content checksum.
//!
//! A block file is one LZ4 frame holding one block (Longhorn's blocks of
//! 2 MiB fit the frame's 4 MiB block size), most often stored uncompressed
//! when the data does not compress. `lz4_flex`'s frame reader allocates and
//! fills two buffers of the frame's block size for every frame, then copies
//! the content out; for one frame per block file that costs more than the
//! decoding itself. This module walks the frame with `lz4_flex`'s block
//! decoder writing into the caller's buffer, and checks every checksum the
//! frame carries (header, blocks, content) as the frame reader does.
//!
//! The frame's content checksum (xxHash32 of the whole content) can be left
//! unchecked by a reader that checks the block's SHA-512 right after: the
//! SHA-512 is the stronger check of the same bytes. `verify` still checks
//! it, because Longhorn's own reader refuses a frame whose content checksum
//! is wrong.
//!
//! It only answers for a frame it decodes completely and exactly: one frame,
//! no dictionary, linked blocks only when there is one block, every check
//! passed, exactly the expected length. For anything else it answers
//! `None` and the caller reads the file with the general frame reader,
//! which also gives the reason a damaged frame is refused.

use twox_hash::XxHash32;

const MAGIC: u32 = 0x184D_2204;
const FLG_VERSION_MASK: u8 = 0b1100_0000;
const FLG_VERSION: u8 = 0b0100_0000;
const FLG_INDEPENDENT: u8 = 0b0010_0000;
const FLG_BLOCK_CHECKSUM: u8 = 0b0001_0000;
const FLG_CONTENT_SIZE: u8 = 0b0000_1000;
const FLG_CONTENT_CHECKSUM: u8 = 0b0000_0100;
const FLG_RESERVED: u8 = 0b0000_0010;
const FLG_DICT_ID: u8 = 0b0000_0001;
const BD_RESERVED: u8 = 0b1000_1111;
const UNCOMPRESSED: u32 = 0x8000_0000;

/// Whether the frame's content checksum is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentChecksum {
    /// Checked, as Longhorn's reader does.
    Check,
    /// Not checked, by a reader that checks the content's SHA-512 itself.
    Skip,
}

/// A cursor over the frame's bytes.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
}

/// The frame descriptor's checksum byte: the second byte of the xxHash32
/// of the descriptor.
fn header_checksum(descriptor: &[u8]) -> u8 {
    (XxHash32::oneshot(0, descriptor) >> 8) as u8
}

/// The largest content of one frame block: the 4 MiB that Longhorn's
/// writer declares.
const FRAME_BLOCK: usize = 4 << 20;

/// The frame of `data`, as Longhorn's writer frames a block.
#[cfg(test)]
pub(crate) fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(data, &mut out);
    out
}

/// Like [`encode`], into `out` (cleared first), so that one buffer can
/// serve many blocks.
pub(crate) fn encode_into(data: &[u8], out: &mut Vec<u8>) {
    let flg = FLG_VERSION | FLG_INDEPENDENT | FLG_CONTENT_CHECKSUM;
    let bd = 7 << 4;
    let frame_blocks = data.len().div_ceil(FRAME_BLOCK);
    let bound = lz4_flex::block::get_maximum_output_size(data.len().min(FRAME_BLOCK));
    out.clear();
    out.reserve(7 + frame_blocks * 4 + data.len().max(bound) + 8);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&[flg, bd]);
    out.push(header_checksum(&[flg, bd]));
    for chunk in data.chunks(FRAME_BLOCK) {
        let at = out.len();
        let room = lz4_flex::block::get_maximum_output_size(chunk.len());
        out.resize(at + 4 + room, 0);
        let written = lz4_flex::block::compress_into(chunk, &mut out[at + 4..]).ok();
        // A frame block is at most 4 MiB: its size always fits the word.
        match written.filter(|n| *n < chunk.len()) {
            Some(n) => {
                out.truncate(at + 4 + n);
                out[at..at + 4].copy_from_slice(&(n as u32).to_le_bytes());
            }
            None => {
                out.truncate(at + 4);
                out.extend_from_slice(chunk);
                out[at..at + 4].copy_from_slice(&(chunk.len() as u32 | UNCOMPRESSED).to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&XxHash32::oneshot(0, data).to_le_bytes());
}

/// Decodes `frame` into `out`, which it fills exactly; `Some(())` only when
/// `frame` is one well-formed frame whose content is exactly `out.len()`
/// bytes and whose checksums all match (the content checksum as `content`
/// says). On `None`, `out` holds anything.
pub(crate) fn decode_exact(frame: &[u8], out: &mut [u8], content: ContentChecksum) -> Option<()> {
    let mut r = Bytes(frame);
    if r.u32()? != MAGIC {
        return None;
    }
    let descriptor_start = r.0;
    let flg = r.u8()?;
    let bd = r.u8()?;
    if flg & FLG_VERSION_MASK != FLG_VERSION
        || flg & (FLG_RESERVED | FLG_DICT_ID) != 0
        || bd & BD_RESERVED != 0
    {
        return None;
    }
    let max_block = match (bd >> 4) & 0b111 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        _ => return None,
    };
    let content_size = if flg & FLG_CONTENT_SIZE != 0 {
        Some(r.u64()?)
    } else {
        None
    };
    let descriptor = &descriptor_start[..descriptor_start.len() - r.0.len()];
    if r.u8()? != header_checksum(descriptor) {
        return None;
    }
    if content_size.is_some_and(|n| n != out.len() as u64) {
        return None;
    }

    let mut filled = 0usize;
    let mut blocks = 0usize;
    loop {
        let word = r.u32()?;
        if word == 0 {
            break;
        }
        let len = (word & !UNCOMPRESSED) as usize;
        if len > max_block {
            return None;
        }
        // A linked block may refer to the blocks before it: leave those
        // frames to the general reader.
        if blocks > 0 && flg & FLG_INDEPENDENT == 0 {
            return None;
        }
        let data = r.take(len)?;
        if flg & FLG_BLOCK_CHECKSUM != 0 && XxHash32::oneshot(0, data) != r.u32()? {
            return None;
        }
        let room = out.get_mut(filled..)?;
        let written = if word & UNCOMPRESSED != 0 {
            room.get_mut(..len)?.copy_from_slice(data);
            len
        } else {
            let end = room.len().min(max_block);
            lz4_flex::block::decompress_into(data, &mut room[..end]).ok()?
        };
        filled += written;
        blocks += 1;
    }
    if flg & FLG_CONTENT_CHECKSUM != 0 {
        let expected = r.u32()?;
        if content == ContentChecksum::Check && XxHash32::oneshot(0, &out[..filled]) != expected {
            return None;
        }
    }
    (filled == out.len() && r.0.is_empty()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
    use proptest::prelude::*;
    use std::io::{Read, Write};

    fn encode(data: &[u8], info: FrameInfo) -> Vec<u8> {
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// What the general frame reader makes of `frame`, when it is exactly
    /// `len` bytes.
    fn general(frame: &[u8], len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        FrameDecoder::new(frame).read_to_end(&mut out).ok()?;
        (out.len() == len).then_some(out)
    }

    fn mixed(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| {
                if (i / 3000) % 2 == 0 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                } else {
                    (i % 7) as u8
                }
            })
            .collect()
    }

    fn info(size: BlockSize, mode: BlockMode, block_sum: bool, content: bool) -> FrameInfo {
        FrameInfo::new()
            .block_size(size)
            .block_mode(mode)
            .block_checksums(block_sum)
            .content_checksum(content)
    }

    #[test]
    fn decodes_the_frames_longhorn_writes() {
        // Incompressible (stored), compressible and mixed content, in one
        // block of 4 MiB as Longhorn writes it, and split into several.
        let random = mixed(1 << 20, 7)
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ (i as u8).wrapping_mul(31))
            .collect::<Vec<u8>>();
        for data in [vec![0u8; 1 << 20], mixed(1 << 20, 3), random] {
            for size in [BlockSize::Max4MB, BlockSize::Max64KB] {
                for (bs, cs) in [(false, true), (true, true), (false, false)] {
                    let frame = encode(&data, info(size, BlockMode::Independent, bs, cs));
                    let mut out = vec![0xAA; data.len()];
                    assert_eq!(
                        decode_exact(&frame, &mut out, ContentChecksum::Check),
                        Some(())
                    );
                    assert!(out == data);
                }
            }
        }
    }

    #[test]
    fn leaves_what_it_does_not_decode_to_the_general_reader() {
        let data = mixed(300_000, 5);
        let linked = encode(
            &data,
            info(BlockSize::Max64KB, BlockMode::Linked, false, true),
        );
        let mut out = vec![0; data.len()];
        assert_eq!(
            decode_exact(&linked, &mut out, ContentChecksum::Check),
            None
        );
        assert_eq!(general(&linked, data.len()), Some(data.clone()));

        let one = encode(
            &data,
            info(BlockSize::Max4MB, BlockMode::Independent, false, true),
        );
        let mut two = one.clone();
        two.extend_from_slice(&one);
        let mut out = vec![0; 2 * data.len()];
        assert_eq!(
            decode_exact(&two, &mut out, ContentChecksum::Check),
            None,
            "two frames"
        );
        let mut out = vec![0; data.len() - 1];
        assert_eq!(
            decode_exact(&one, &mut out, ContentChecksum::Check),
            None,
            "longer than expected"
        );
        let mut out = vec![0; data.len() + 1];
        assert_eq!(
            decode_exact(&one, &mut out, ContentChecksum::Check),
            None,
            "shorter than expected"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Whatever is done to a frame, a decoding this module accepts is
        /// one the general reader accepts with the same content.
        #[test]
        fn never_accepts_what_the_general_reader_refuses(
            seed in any::<u64>(),
            len in 1usize..200_000,
            block_sums in any::<bool>(),
            linked in any::<bool>(),
            small in any::<bool>(),
            damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
            cut in prop::option::of(any::<prop::sample::Index>()),
        ) {
            let data = mixed(len, seed);
            let mode = if linked { BlockMode::Linked } else { BlockMode::Independent };
            let size = if small { BlockSize::Max64KB } else { BlockSize::Max4MB };
            let mut frame = encode(&data, info(size, mode, block_sums, true));
            for (at, value) in &damage {
                let i = at.index(frame.len());
                frame[i] ^= value;
            }
            if let Some(at) = cut {
                frame.truncate(at.index(frame.len()));
            }
            let mut out = vec![0; len];
            let mut unchecked = vec![0; len];
            let skipped = decode_exact(&frame, &mut unchecked, ContentChecksum::Skip);
            if decode_exact(&frame, &mut out, ContentChecksum::Check).is_some() {
                prop_assert!(general(&frame, len) == Some(out.clone()));
                prop_assert!(skipped.is_some() && unchecked == out);
            } else if skipped.is_some() {
                // Only the content checksum may be wrong: the content itself
                // is what an intact frame would hold.
                let mut fixed = frame.clone();
                let at = fixed.len() - 4;
                fixed[at..].copy_from_slice(&XxHash32::oneshot(0, &unchecked).to_le_bytes());
                prop_assert!(general(&fixed, len) == Some(unchecked));
            } else if damage.iter().all(|(_, v)| *v == 0) && cut.is_none() && !(linked && len > 65536 && small) {
                prop_assert!(false, "an intact frame was not decoded");
            }
        }
    }

    #[test]
    fn writes_the_frames_longhorn_writes() {
        let random: Vec<u8> = mixed(3 << 20, 11)
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ (i as u8).wrapping_mul(31))
            .collect();
        for data in [
            Vec::new(),
            b"data".to_vec(),
            vec![0u8; 4096],
            mixed(4096, 5),
            mixed(2 << 20, 3),
            random.clone(),
            [random.clone(), random.clone()].concat(),
            vec![9u8; (4 << 20) + 1],
        ] {
            let frame = super::encode(&data);
            assert_eq!(hex::encode(&frame[..7]), "04224d186470b9");
            assert_eq!(general(&frame, data.len()).as_deref(), Some(&data[..]));
            let mut out = vec![0xAA; data.len()];
            assert_eq!(
                decode_exact(&frame, &mut out, ContentChecksum::Check),
                Some(())
            );
            assert_eq!(out, data);
        }
        assert_eq!(
            hex::encode(super::encode(b"")),
            "04224d186470b900000000055dcc02"
        );
        // Incompressible data is stored, with the flag and no growth beyond
        // the frame's own bytes.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..2 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let frame = super::encode(&noise);
        assert_eq!(frame.len(), (2 << 20) + 19);
        assert_eq!(frame[10] & 0x80, 0x80);
    }

    proptest! {
        #[test]
        fn any_block_round_trips(data in proptest::collection::vec(any::<u8>(), 0..20_000), zeros in 0usize..20_000) {
            let mut data = data;
            data.extend(std::iter::repeat_n(0u8, zeros));
            let frame = super::encode(&data);
            let mut out = vec![0u8; data.len()];
            prop_assert_eq!(decode_exact(&frame, &mut out, ContentChecksum::Check), Some(()));
            prop_assert_eq!(&out, &data);
            prop_assert_eq!(general(&frame, data.len()), Some(data));
        }
    }
}
