//! The streaming writer.

use crate::error::Error;
use crate::format::{
    COPIED, DEFAULT_CLUSTER_BITS, Header, MAX_CLUSTER_BITS, MAX_L1_BYTES, MIN_CLUSTER_BITS,
    encode_table, is_zero,
};
use crate::refcount::{refcount_block, refcount_layout};
use std::io::{BufWriter, Seek, SeekFrom, Write};

/// How the image is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterOptions {
    /// log2 of the cluster size, from [`MIN_CLUSTER_BITS`] to
    /// [`MAX_CLUSTER_BITS`]; default [`DEFAULT_CLUSTER_BITS`] (64 KiB).
    pub cluster_bits: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            cluster_bits: DEFAULT_CLUSTER_BITS,
        }
    }
}

/// What [`Qcow2Writer::finish`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSummary {
    /// Virtual size recorded in the header.
    pub virtual_size: u64,
    /// Clusters holding guest data.
    pub data_clusters: u64,
    /// Length of the file.
    pub file_size: u64,
}

/// Writes a qcow2 image from guest data given in increasing offset order.
///
/// Writes may have any length and alignment; each cluster is stored once
/// the writer has moved past it (or at [`Qcow2Writer::finish`]), and only if
/// it holds a non-zero byte. Dropping the writer without calling `finish`
/// leaves an invalid file (its header is all zeros).
#[derive(Debug)]
pub struct Qcow2Writer<W: Write + Seek> {
    out: BufWriter<W>,
    cluster_bits: u32,
    cluster_size: u64,
    virtual_size: u64,
    l1: Vec<u64>,
    l1_table_offset: u64,
    /// The L2 table being filled and its index in the L1 table.
    l2: Option<(usize, Vec<u64>)>,
    /// A partly written cluster and its guest cluster index.
    pending: Option<(u64, Vec<u8>)>,
    /// Smallest guest offset the next write may start at.
    next_offset: u64,
    /// End of the file written so far (cluster aligned).
    end: u64,
    data_clusters: u64,
}

impl<W: Write + Seek> Qcow2Writer<W> {
    /// Starts an image of `virtual_size` bytes (rounded up to a multiple of
    /// 512, the unit qcow2 readers count in) at the current position of
    /// `out`, which must be the start of an empty file.
    pub fn new(out: W, virtual_size: u64, options: WriterOptions) -> Result<Self, Error> {
        let bits = options.cluster_bits;
        if !(MIN_CLUSTER_BITS..=MAX_CLUSTER_BITS).contains(&bits) {
            return Err(Error::ClusterBits(bits));
        }
        let cluster_size = 1u64 << bits;
        let too_large = || Error::TooLarge {
            size: virtual_size,
            cluster_size,
        };
        let virtual_size = virtual_size
            .checked_next_multiple_of(512)
            .ok_or_else(too_large)?;
        let l2_entries = cluster_size / 8;
        let l1_entries = virtual_size.div_ceil(cluster_size * l2_entries);
        if l1_entries * 8 > MAX_L1_BYTES {
            return Err(too_large());
        }
        let l1_clusters = (l1_entries * 8).div_ceil(cluster_size).max(1);
        let l1_len = usize::try_from(l1_entries).map_err(|_| too_large())?;
        let mut out = BufWriter::with_capacity(1 << 20, out);
        // Header and L1 table are written at the end; reserve their clusters.
        let reserved = (1 + l1_clusters) * cluster_size;
        write_zeros(&mut out, reserved)?;
        Ok(Qcow2Writer {
            out,
            cluster_bits: bits,
            cluster_size,
            virtual_size,
            l1: vec![0; l1_len],
            l1_table_offset: cluster_size,
            l2: None,
            pending: None,
            next_offset: 0,
            end: reserved,
            data_clusters: 0,
        })
    }

    /// The virtual size the image will have.
    pub fn virtual_size(&self) -> u64 {
        self.virtual_size
    }

    /// Writes guest data at `offset`, which must not be below the end of
    /// the previous write. Bytes between writes stay zero.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Error> {
        let len = data.len() as u64;
        if offset < self.next_offset {
            return Err(Error::OutOfOrder {
                offset,
                expected: self.next_offset,
            });
        }
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.virtual_size)
        {
            return Err(Error::PastEnd {
                offset,
                len,
                size: self.virtual_size,
            });
        }
        let cs = self.cluster_size;
        let mut pos = offset;
        let mut rest = data;
        while !rest.is_empty() {
            let cluster = pos >> self.cluster_bits;
            let within = pos & (cs - 1);
            if self.pending.as_ref().is_some_and(|(c, _)| *c != cluster) {
                self.flush_pending()?;
            }
            let take = usize::try_from((cs - within).min(rest.len() as u64)).unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(take);
            if within == 0 && take as u64 == cs && self.pending.is_none() {
                self.store_cluster(cluster, chunk)?;
            } else {
                let (_, buf) = self
                    .pending
                    .get_or_insert_with(|| (cluster, vec![0u8; usize::try_from(cs).unwrap_or(0)]));
                let start = usize::try_from(within).unwrap_or(0);
                buf[start..start + take].copy_from_slice(chunk);
            }
            pos += take as u64;
            rest = tail;
        }
        self.next_offset = offset + len;
        Ok(())
    }

    /// Writes what is pending, the tables and the header, flushes, and
    /// returns the output.
    pub fn finish(mut self) -> Result<(W, WriteSummary), Error> {
        self.flush_pending()?;
        self.flush_l2()?;
        let cs = self.cluster_size;
        let used = self.end / cs;
        let (blocks, table_clusters) = refcount_layout(used, cs);
        let total = used + blocks + table_clusters;
        let first_block = self.end;
        for i in 0..blocks {
            self.out.write_all(&refcount_block(i, total, cs))?;
        }
        let table_offset = first_block + blocks * cs;
        let mut table: Vec<u64> = (0..blocks).map(|i| first_block + i * cs).collect();
        table.resize(usize::try_from(table_clusters * cs / 8).unwrap_or(0), 0);
        self.out.write_all(&encode_table(&table))?;
        let file_size = total * cs;

        let header = Header {
            cluster_bits: self.cluster_bits,
            size: self.virtual_size,
            l1_size: u32::try_from(self.l1.len()).map_err(|_| Error::TooLarge {
                size: self.virtual_size,
                cluster_size: cs,
            })?,
            l1_table_offset: self.l1_table_offset,
            refcount_table_offset: table_offset,
            refcount_table_clusters: u32::try_from(table_clusters).map_err(|_| {
                Error::TooLarge {
                    size: self.virtual_size,
                    cluster_size: cs,
                }
            })?,
        };
        self.out.seek(SeekFrom::Start(self.l1_table_offset))?;
        self.out.write_all(&encode_table(&self.l1))?;
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header.encode())?;
        self.out.flush()?;
        let out = self
            .out
            .into_inner()
            .map_err(|e| Error::Io(e.into_error()))?;
        Ok((
            out,
            WriteSummary {
                virtual_size: self.virtual_size,
                data_clusters: self.data_clusters,
                file_size,
            },
        ))
    }

    fn flush_pending(&mut self) -> Result<(), Error> {
        if let Some((cluster, buf)) = self.pending.take() {
            self.store_cluster(cluster, &buf)?;
        }
        Ok(())
    }

    /// Appends a guest cluster unless it is all zeros.
    fn store_cluster(&mut self, cluster: u64, data: &[u8]) -> Result<(), Error> {
        if is_zero(data) {
            return Ok(());
        }
        let l2_bits = self.cluster_bits - 3;
        let l1_index = usize::try_from(cluster >> l2_bits).unwrap_or(usize::MAX);
        let l2_index = usize::try_from(cluster & ((1 << l2_bits) - 1)).unwrap_or(0);
        if self.l2.as_ref().is_some_and(|(i, _)| *i != l1_index) {
            self.flush_l2()?;
        }
        let entries = usize::try_from(self.cluster_size / 8).unwrap_or(0);
        let (_, l2) = self.l2.get_or_insert_with(|| (l1_index, vec![0; entries]));
        l2[l2_index] = self.end | COPIED;
        self.out.write_all(data)?;
        self.end += self.cluster_size;
        self.data_clusters += 1;
        Ok(())
    }

    /// Appends the current L2 table and points its L1 entry at it.
    fn flush_l2(&mut self) -> Result<(), Error> {
        if let Some((index, table)) = self.l2.take() {
            self.out.write_all(&encode_table(&table))?;
            if let Some(entry) = self.l1.get_mut(index) {
                *entry = self.end | COPIED;
            }
            self.end += self.cluster_size;
        }
        Ok(())
    }
}

fn write_zeros(out: &mut impl Write, mut len: u64) -> std::io::Result<()> {
    let zeros = [0u8; 8192];
    while len > 0 {
        let n = len.min(zeros.len() as u64) as usize;
        out.write_all(&zeros[..n])?;
        len -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn be64(b: &[u8], at: usize) -> u64 {
        u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn empty_image_has_header_l1_and_refcounts() {
        let w = Qcow2Writer::new(Cursor::new(Vec::new()), 1000, WriterOptions::default()).unwrap();
        assert_eq!(w.virtual_size(), 1024);
        let (out, summary) = w.finish().unwrap();
        let b = out.into_inner();
        // header, L1, one refcount block, one refcount table cluster.
        assert_eq!(b.len(), 4 * 65536);
        assert_eq!(summary.file_size, b.len() as u64);
        assert_eq!(summary.data_clusters, 0);
        assert_eq!(be64(&b, 24), 1024);
        assert_eq!(be64(&b, 48), 3 * 65536);
        assert_eq!(be64(&b, 3 * 65536), 2 * 65536);
        assert_eq!(
            &b[2 * 65536..2 * 65536 + 10],
            &[0, 1, 0, 1, 0, 1, 0, 1, 0, 0]
        );
    }

    #[test]
    fn zero_clusters_are_not_stored() {
        let mut w =
            Qcow2Writer::new(Cursor::new(Vec::new()), 1 << 20, WriterOptions::default()).unwrap();
        w.write(0, &vec![0u8; 1 << 19]).unwrap();
        w.write(1 << 19, &[5u8; 10]).unwrap();
        let (out, summary) = w.finish().unwrap();
        assert_eq!(summary.data_clusters, 1);
        let b = out.into_inner();
        // L1 entry 0 -> the L2 table written after the single data cluster.
        assert_eq!(be64(&b, 65536), COPIED | (3 * 65536));
        let l2 = 3 * 65536;
        assert_eq!(be64(&b, l2 + 8 * 8), COPIED | (2 * 65536));
        assert_eq!(
            &b[2 * 65536..2 * 65536 + 11],
            &[5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 0]
        );
    }

    #[test]
    fn order_and_bounds_are_checked() {
        let mut w =
            Qcow2Writer::new(Cursor::new(Vec::new()), 4096, WriterOptions::default()).unwrap();
        w.write(100, &[1; 10]).unwrap();
        assert!(matches!(
            w.write(105, &[1]),
            Err(Error::OutOfOrder {
                offset: 105,
                expected: 110
            })
        ));
        assert!(matches!(
            w.write(4000, &[1; 97]),
            Err(Error::PastEnd { .. })
        ));
        w.write(110, &[2; 10]).unwrap();
        assert!(matches!(
            Qcow2Writer::new(
                Cursor::new(Vec::new()),
                1,
                WriterOptions { cluster_bits: 8 }
            ),
            Err(Error::ClusterBits(8))
        ));
        assert!(matches!(
            Qcow2Writer::new(Cursor::new(Vec::new()), u64::MAX, WriterOptions::default()),
            Err(Error::TooLarge { .. })
        ));
    }
}
