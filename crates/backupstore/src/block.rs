//! Block content: checksums and the three compression methods Longhorn writes.

use crate::error::{Error, Result};
pub(crate) use crate::lz4_frame::ContentChecksum;
use crate::name::Checksum;
use std::io::{self, Read, Write};

/// How block files are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Raw block bytes.
    None,
    /// One gzip member (readers accept several).
    Gzip,
    /// An LZ4 frame with content checksum (Longhorn's default).
    #[default]
    Lz4,
}

impl Compression {
    /// The name written in configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Lz4 => "lz4",
        }
    }

    /// Parses a config value; "" means gzip (stores older than Longhorn 1.5).
    pub fn from_config(value: &str, path: &str, field: &str) -> Result<Self> {
        match value {
            "" | "gzip" => Ok(Compression::Gzip),
            "lz4" => Ok(Compression::Lz4),
            "none" => Ok(Compression::None),
            other => Err(Error::field(
                path,
                field,
                format!("unknown compression method {other:?} (expected none, gzip or lz4)"),
            )),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Compression {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "lz4" => Ok(Compression::Lz4),
            "none" => Ok(Compression::None),
            other => Err(Error::Unsupported(format!(
                "unknown compression method {other:?} (expected none, gzip or lz4)"
            ))),
        }
    }
}

/// Longhorn's block checksum: the first 64 hex characters of the SHA-512 of
/// the uncompressed bytes. (ring's SHA-512 is used here, on the hot path
/// of every import, export and verify: it is faster than the portable
/// implementation on the same CPU.)
pub fn checksum(data: &[u8]) -> Checksum {
    Checksum::from_digest(ring::digest::digest(&ring::digest::SHA512, data).as_ref())
}

/// True when every byte is zero.
pub fn is_zero(data: &[u8]) -> bool {
    data.chunks(4096)
        .all(|chunk| chunk.iter().fold(0u8, |acc, b| acc | b) == 0)
}

/// Compresses one block.
pub fn compress(method: Compression, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    compress_into(method, data, &mut out);
    out
}

/// Like [`compress`], into `out` (cleared first), so that one buffer can
/// serve many blocks.
pub fn compress_into(method: Compression, data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match method {
        Compression::None => out.extend_from_slice(data),
        Compression::Gzip => {
            out.reserve(data.len() / 2);
            let mut enc = flate2::GzBuilder::new()
                .operating_system(255)
                .write(std::mem::take(out), flate2::Compression::default());
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(data);
            *out = enc.finish().unwrap_or_default();
        }
        Compression::Lz4 => crate::lz4_frame::encode_into(data, out),
    }
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const LZ4_MAGIC: &[u8] = &[0x04, 0x22, 0x4d, 0x18];

/// Decompresses one block file. The result must be exactly `block_size`
/// bytes; anything longer is cut off and reported, so a hostile file cannot
/// make the reader allocate more than one block. Like Longhorn, a gzip
/// config whose file is an LZ4 frame (or the reverse) is read by its magic.
pub fn decompress(
    method: Compression,
    data: &[u8],
    block_size: u64,
    path: &str,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decompress_into(method, data, block_size, path, &mut out)?;
    Ok(out)
}

/// Like [`decompress`], into `out` (cleared first), so that one buffer can
/// serve many blocks.
pub fn decompress_into(
    method: Compression,
    data: &[u8],
    block_size: u64,
    path: &str,
    out: &mut Vec<u8>,
) -> Result<()> {
    decompress_block(method, data, block_size, path, out, ContentChecksum::Check)
}

/// Like [`decompress_into`]; `content` tells whether an LZ4 frame's content
/// checksum is checked (a reader that checks the SHA-512 of the block may
/// skip it).
pub(crate) fn decompress_block(
    method: Compression,
    data: &[u8],
    block_size: u64,
    path: &str,
    out: &mut Vec<u8>,
    content: ContentChecksum,
) -> Result<()> {
    let method = match method {
        Compression::Gzip if !data.starts_with(GZIP_MAGIC) && data.starts_with(LZ4_MAGIC) => {
            Compression::Lz4
        }
        Compression::Lz4 if !data.starts_with(LZ4_MAGIC) && data.starts_with(GZIP_MAGIC) => {
            Compression::Gzip
        }
        m => m,
    };
    let damaged = |reason: String| Error::Block {
        path: path.to_owned(),
        compression: method.as_str().to_owned(),
        reason,
    };
    let expected =
        usize::try_from(block_size).map_err(|_| damaged("block size too large".into()))?;
    match method {
        Compression::None => {
            out.clear();
            out.extend_from_slice(&data[..data.len().min(expected + 1)]);
        }
        Compression::Gzip => read_bounded(flate2::read::MultiGzDecoder::new(data), expected, out)
            .map_err(|e| damaged(e.to_string()))?,
        Compression::Lz4 => {
            out.resize(expected, 0);
            if crate::lz4_frame::decode_exact(data, out, content).is_none() {
                read_bounded(lz4_flex::frame::FrameDecoder::new(data), expected, out)
                    .map_err(|e| damaged(lz4_reason(&e)))?;
            }
        }
    }
    if out.len() != expected {
        return Err(damaged(if out.len() > expected {
            format!("decompresses to more than the block size {expected}")
        } else {
            format!("decompresses to {} bytes, expected {expected}", out.len())
        }));
    }
    Ok(())
}

/// What is wrong with an LZ4 frame, in words (the decoder's own messages
/// are its variant names).
fn lz4_reason(e: &io::Error) -> String {
    use lz4_flex::frame::Error as Lz4;
    let Some(frame) = e.get_ref().and_then(|inner| inner.downcast_ref::<Lz4>()) else {
        return e.to_string();
    };
    match frame {
        Lz4::WrongMagicNumber => "not an LZ4 frame (wrong magic number)".into(),
        Lz4::HeaderChecksumError => "the LZ4 frame header checksum does not match".into(),
        Lz4::BlockChecksumError => "an LZ4 block checksum does not match".into(),
        Lz4::ContentChecksumError => {
            "the LZ4 content checksum (xxHash32) does not match the data".into()
        }
        Lz4::ContentLengthError { expected, actual } => {
            format!("the LZ4 frame declares {expected} bytes of content but holds {actual}")
        }
        Lz4::BlockTooBig => "an LZ4 block is larger than the frame header allows".into(),
        Lz4::InvalidBlockInfo | Lz4::ReservedBitsSet => "malformed LZ4 frame header".into(),
        Lz4::DecompressionError(d) => format!("corrupt LZ4 data: {d}"),
        Lz4::IoError(io) => io.to_string(),
        other => format!("unsupported LZ4 frame: {other:?}"),
    }
}

/// Reads at most `expected + 1` bytes into `out`, which ends up holding
/// exactly what was read. A buffer reused from block to block is not
/// cleared first: it is filled in place, so its memory is not zeroed again
/// for every block.
fn read_bounded(mut reader: impl Read, expected: usize, out: &mut Vec<u8>) -> io::Result<()> {
    out.resize(expected, 0);
    let mut filled = 0;
    while filled < expected {
        match reader.read(&mut out[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.truncate(filled);
    if filled == expected {
        // One byte more means the block is longer than it may be.
        let mut extra = [0u8; 1];
        loop {
            match reader.read(&mut extra) {
                Ok(0) => break,
                Ok(_) => {
                    out.push(extra[0]);
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_every_method() {
        let data: Vec<u8> = (0..65536u32).map(|i| (i * 7 % 251) as u8).collect();
        for m in [Compression::None, Compression::Gzip, Compression::Lz4] {
            let c = compress(m, &data);
            assert_eq!(
                decompress(m, &c, data.len() as u64, "b.blk").unwrap(),
                data,
                "{m}"
            );
        }
    }

    #[test]
    fn damaged_lz4_frames_are_explained_in_words() {
        let data = vec![7u8; 4096];
        let good = compress(Compression::Lz4, &data);
        let reason = |bytes: &[u8]| match decompress(Compression::Lz4, bytes, 4096, "b.blk") {
            Err(Error::Block { reason, .. }) => reason,
            other => panic!("expected a damaged block, got {other:?}"),
        };
        // The content checksum is the frame's last four bytes.
        let mut bad_sum = good.clone();
        let last = bad_sum.len() - 1;
        bad_sum[last] ^= 1;
        assert_eq!(
            reason(&bad_sum),
            "the LZ4 content checksum (xxHash32) does not match the data"
        );
        // The header checksum is the byte after the flags.
        let mut bad_header = good.clone();
        bad_header[6] ^= 1;
        assert_eq!(
            reason(&bad_header),
            "the LZ4 frame header checksum does not match"
        );
        let mut bad_magic = good;
        bad_magic[0] = 0;
        assert!(
            reason(&bad_magic).contains("magic"),
            "{}",
            reason(&bad_magic)
        );
    }

    #[test]
    fn go_compatible_headers() {
        assert_eq!(
            &compress(Compression::Gzip, b"x")[..10],
            &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
        );
        assert_eq!(
            hex::encode(&compress(Compression::Lz4, b"x")[..7]),
            "04224d186470b9"
        );
        assert_eq!(
            hex::encode(compress(Compression::Lz4, b"")),
            "04224d186470b900000000055dcc02"
        );
    }

    #[test]
    fn multi_member_gzip_and_fallback() {
        let mut two = compress(Compression::Gzip, b"hello ");
        two.extend(compress(Compression::Gzip, b"world"));
        assert_eq!(
            decompress(Compression::Gzip, &two, 11, "b").unwrap(),
            b"hello world"
        );
        let lz = compress(Compression::Lz4, b"hello");
        assert_eq!(
            decompress(Compression::Gzip, &lz, 5, "b").unwrap(),
            b"hello"
        );
        let gz = compress(Compression::Gzip, b"hello");
        assert_eq!(decompress(Compression::Lz4, &gz, 5, "b").unwrap(), b"hello");
    }

    #[test]
    fn damaged_blocks() {
        let data = vec![1u8; 4096];
        let c = compress(Compression::Lz4, &data);
        assert!(decompress(Compression::Lz4, &c[..c.len() - 3], 4096, "b").is_err());
        assert!(decompress(Compression::Lz4, &c, 4095, "b").is_err());
        assert!(decompress(Compression::Lz4, &c, 4097, "b").is_err());
        assert!(decompress(Compression::Gzip, b"garbage", 7, "b").is_err());
        assert!(decompress(Compression::None, b"short", 7, "b").is_err());
        let mut flipped = compress(Compression::Lz4, &data);
        let n = flipped.len();
        flipped[n - 1] ^= 1;
        assert!(decompress(Compression::Lz4, &flipped, 4096, "b").is_err());
    }

    #[test]
    fn a_reused_buffer_gives_what_a_fresh_one_gives() {
        let big = vec![9u8; 8192];
        let small: Vec<u8> = (0..4096u32).map(|i| (i % 13) as u8).collect();
        for m in [Compression::None, Compression::Gzip, Compression::Lz4] {
            let mut buf = Vec::new();
            decompress_into(m, &compress(m, &big), 8192, "b", &mut buf).unwrap();
            assert_eq!(buf, big);
            decompress_into(m, &compress(m, &small), 4096, "b", &mut buf).unwrap();
            assert_eq!(buf, small, "{m}: nothing of the previous block is left");
            // Too short and too long, after a longer block was in the buffer.
            decompress_into(m, &compress(m, &big), 8192, "b", &mut buf).unwrap();
            assert!(decompress_into(m, &compress(m, &small), 8192, "b", &mut buf).is_err());
            assert!(decompress_into(m, &compress(m, &big), 4096, "b", &mut buf).is_err());
            decompress_into(m, &compress(m, &small), 4096, "b", &mut buf).unwrap();
            assert_eq!(buf, small);
        }
    }

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[0; 10000]));
        let mut v = vec![0u8; 10000];
        v[9999] = 1;
        assert!(!is_zero(&v));
        assert!(is_zero(&[]));
    }
}
