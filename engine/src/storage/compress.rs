//! Optional LZ4 compression of log frames and snapshot chunks (the `compression` feature,
//! [`crate::TreeBuilder::compression`]).
//!
//! A file that may hold compressed frames says so in its head frame: format 4, a format-3
//! head with a flags word, [`FLAG_LZ4`] set. Only such files ever hold one, so a build
//! without the feature refuses a compressed tree at its first file, naming it
//! ([`crate::Error::CompressionUnsupported`]), before it reads a frame; and a tree written
//! without compression keeps format-3 heads, readable by every build. A compressed payload
//! is `[tag][raw length u32][LZ4 block]` (a commit keeps its version before the length, so
//! the log's readers find it without decompressing). The frame's CRC covers the compressed
//! bytes: damage is found before decompression, which is itself checked (a block that does
//! not decode to exactly its stated length is damage). This module knows nothing of
//! frames: `frame.rs` and `snapshot.rs` build on it and turn its errors into theirs.

/// The head flag: frames of this file may be LZ4 compressed.
pub(crate) const FLAG_LZ4: u32 = 1;

/// The flags this build reads.
pub(crate) const READ_FLAGS: u32 = if cfg!(feature = "compression") {
    FLAG_LZ4
} else {
    0
};

/// Payloads shorter than this are written as they are (a few dozen bytes rarely shrink).
#[cfg(feature = "compression")]
pub(crate) const MIN_LEN: usize = 64;

/// How a tree's new files are written: [`crate::TreeBuilder::compression`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Frames and snapshot chunks as they are (the default).
    #[default]
    None,
    /// LZ4 (block format, `lz4_flex`) per log frame and per snapshot chunk of about
    /// 256 KiB, each kept only when it is smaller. Needs the `compression` feature.
    #[cfg(feature = "compression")]
    Lz4,
}

impl Compression {
    /// The head flags of a file written with it.
    pub(crate) fn flags(self) -> u32 {
        match self {
            Compression::None => 0,
            #[cfg(feature = "compression")]
            Compression::Lz4 => FLAG_LZ4,
        }
    }
}

/// Bytes given to the compressor and bytes written for them: the ratio in
/// [`crate::Stats`].
#[derive(Debug, Default)]
pub(crate) struct Tally {
    raw: std::sync::atomic::AtomicU64,
    stored: std::sync::atomic::AtomicU64,
}

impl Tally {
    pub(crate) fn add(&self, raw: usize, stored: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        self.raw.fetch_add(raw as u64, Relaxed);
        self.stored.fetch_add(stored as u64, Relaxed);
    }

    /// `(raw, stored)` so far.
    pub(crate) fn get(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.raw.load(Relaxed), self.stored.load(Relaxed))
    }
}

/// Replaces `buf[from..]` with `[raw length u32][LZ4 block]` when that is shorter (and
/// `buf[from..]` is at least [`MIN_LEN`]); returns whether it did. `scratch` is reused.
#[cfg(feature = "compression")]
pub(crate) fn shrink(buf: &mut Vec<u8>, from: usize, scratch: &mut Vec<u8>) -> bool {
    let raw = &buf[from..];
    if raw.len() < MIN_LEN {
        return false;
    }
    scratch.clear();
    scratch.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
    let Ok(n) = lz4_flex::block::compress_into(raw, scratch) else {
        return false;
    };
    if n + 4 >= raw.len() {
        return false;
    }
    let len = raw.len() as u32;
    buf.truncate(from);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&scratch[..n]);
    true
}

/// Decodes `[raw length u32][LZ4 block]` into the bytes it was made of (at most `max`),
/// appended to `out`; the error says why it cannot.
pub(crate) fn expand(bytes: &[u8], max: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let (len, block) = match bytes {
        [a, b, c, d, block @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, block),
        _ => return Err(format!("{} bytes, no room for a length", bytes.len())),
    };
    if len > max {
        return Err(format!(
            "a raw length of {len} bytes, over the maximum {max}"
        ));
    }
    expand_block(block, len, out)
}

#[cfg(feature = "compression")]
fn expand_block(block: &[u8], len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let at = out.len();
    out.resize(at + len, 0);
    match lz4_flex::block::decompress_into(block, &mut out[at..]) {
        Ok(n) if n == len => Ok(()),
        Ok(n) => Err(format!("{n} bytes where the frame says {len}")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(not(feature = "compression"))]
fn expand_block(_: &[u8], _: usize, _: &mut Vec<u8>) -> Result<(), String> {
    Err("this build of acorn has no `compression` feature".into())
}

#[cfg(all(test, feature = "compression"))]
mod tests {
    use super::*;

    #[test]
    fn shrink_and_expand_round_trip_and_refuse_what_does_not_pay() {
        let mut scratch = Vec::new();
        let mut buf = b"head".to_vec();
        buf.extend(std::iter::repeat_n(b"abcdefgh".as_slice(), 100).flatten());
        let raw = buf[4..].to_vec();
        assert!(shrink(&mut buf, 4, &mut scratch));
        assert!(buf.len() < 100);
        let mut out = Vec::new();
        expand(&buf[4..], 1 << 20, &mut out).unwrap();
        assert_eq!(out, raw);
        // A wrong stated length is damage, never a short or long result.
        let mut lying = buf[4..].to_vec();
        lying[0] += 1;
        assert!(expand(&lying, 1 << 20, &mut Vec::new()).is_err());
        assert!(
            expand(&buf[4..], 10, &mut Vec::new()).is_err(),
            "over the maximum"
        );
        // Short or random bytes do not shrink: left as they are.
        let mut small = vec![7u8; MIN_LEN - 1];
        assert!(!shrink(&mut small, 0, &mut scratch));
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let before = noise.clone();
        assert!(!shrink(&mut noise, 0, &mut scratch));
        assert_eq!(noise, before);
    }
}
