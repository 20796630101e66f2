//! The frame format's own tests: round trips, truncations, damage and compressed frames.

use super::*;

#[test]
fn commit_round_trip_and_every_truncation_is_incomplete() {
    let mut rec = Record::new(b"key", b"value", 0, 0, 0);
    rec.stamp(7, 99);
    let changes = vec![Change::Put(rec), Change::Delete(b"gone".as_slice().into())];
    let mut buf = Vec::new();
    encode_commit(&mut buf, 7, &changes);
    let Next::Frame(p, end) = next(&buf, 0) else {
        panic!("no frame")
    };
    assert_eq!(end, buf.len());
    let (v, got) = decode_commit(p).unwrap();
    assert_eq!(v, 7);
    assert_eq!(got.len(), 2);
    assert!(matches!(&got[0], Change::Put(r) if r.value() == b"value" && r.timestamp() == 99));
    assert!(matches!(&got[1], Change::Delete(k) if &**k == b"gone"));
    for cut in 1..buf.len() {
        assert_eq!(next(&buf[..cut], 0), Next::Incomplete, "cut at {cut}");
    }
    for bit in 0..buf.len() * 8 {
        let mut bad = buf.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            matches!(next(&bad, 0), Next::Bad(_)),
            "bit {bit} undetected"
        );
    }
}

#[test]
fn an_expiry_is_a_mark_and_a_delete_that_read_back_as_one() {
    let mut rec = Record::new(b"a", b"v", 0, 0, 0);
    rec.stamp(9, 5);
    let changes = vec![
        Change::Put(rec),
        Change::Expire(b"b".as_slice().into()),
        Change::Delete(b"c".as_slice().into()),
    ];
    let mut buf = Vec::new();
    encode_commit(&mut buf, 9, &changes);
    let Next::Frame(p, _) = next(&buf, 0) else {
        panic!("no frame")
    };
    // Four entries on disk: a reader of format 3 that knows nothing of expiries puts
    // the mark and deletes it again.
    assert_eq!(u32::from_le_bytes(p[9..13].try_into().unwrap()), 4);
    let (_, got) = decode_commit(p).unwrap();
    assert!(matches!(&got[..], [
        Change::Put(r),
        Change::Expire(b),
        Change::Delete(c),
    ] if r.key() == b"a" && &**b == b"b" && &**c == b"c"));
    // A mark not followed by the delete of its key is an ordinary put (none is
    // written, but a reader must not swallow anything).
    let mut mark = Vec::new();
    Record::encode_expiry_mark(&mut mark, b"m", 9);
    let marked = Record::from_bytes(&mark).unwrap();
    assert!(marked.is_expiry_mark());
    for tail in [vec![], vec![Change::Delete(b"other".as_slice().into())]] {
        let mut changes = vec![Change::Put(marked.clone())];
        changes.extend(tail.clone());
        let mut buf = Vec::new();
        encode_commit(&mut buf, 9, &changes);
        let (_, got) = decode_commit(&buf[FRAME_HEADER..]).unwrap();
        assert!(matches!(&got[0], Change::Put(r) if r.is_expiry_mark()));
        assert_eq!(got.len(), 1 + tail.len());
    }
}

#[test]
fn a_head_with_flags_is_format_4_and_flags_this_build_cannot_read_are_refused() {
    let head = |flags| {
        let mut buf = Vec::new();
        encode_segment_head(&mut buf, 5, flags);
        decode_segment_head(&buf[FRAME_HEADER..])
    };
    assert_eq!(head(0), Ok((5, FORMAT, 0)));
    let lz4 = compress::FLAG_LZ4;
    if cfg!(feature = "compression") {
        assert_eq!(head(lz4), Ok((5, FORMAT_FLAGS, lz4)));
    } else {
        assert_eq!(head(lz4), Err(HeadError::Flags(lz4)));
    }
    // A flag no build knows yet.
    assert_eq!(head(lz4 | 2), Err(HeadError::Flags(lz4 | 2)));
}

#[cfg(feature = "compression")]
#[test]
fn a_compressed_commit_decodes_as_the_plain_one_and_keeps_its_version_in_front() {
    let mut rec = Record::new(b"key", "value ".repeat(40).as_bytes(), 0, 0, 0);
    rec.stamp(12, 99);
    let changes = vec![Change::Put(rec), Change::Expire(b"gone".as_slice().into())];
    let mut plain = Vec::new();
    encode_commit(&mut plain, 12, &changes);
    let mut packed = plain.clone();
    let (raw, stored) = compress_commit(&mut packed, 0, &mut Vec::new()).unwrap();
    assert_eq!(raw, plain.len() - FRAME_HEADER);
    assert_eq!(stored, packed.len() - FRAME_HEADER);
    assert!(stored < raw / 3, "{stored} of {raw}");
    let Next::Frame(p, _) = next(&packed, 0) else {
        panic!("no frame")
    };
    assert_eq!(p[0], TAG_COMMIT_LZ4);
    assert_eq!(commit_version(p), Some(12));
    let (v, got) = decode_commit(p).unwrap();
    assert_eq!((v, got.len()), (12, 2));
    assert!(matches!(&got[1], Change::Expire(k) if &**k == b"gone"));
    // Every flipped bit is caught (by the CRCs, before decompression).
    for bit in 0..packed.len() * 8 {
        let mut bad = packed.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(matches!(next(&bad, 0), Next::Bad(_)), "bit {bit}");
    }
    // A block that decodes to another length than it states is damage.
    let mut lying = p.to_vec();
    lying[9] ^= 1;
    assert!(matches!(
        decode_commit(&lying),
        Err(FrameError::Decompress(_))
    ));
}

#[test]
fn each_kind_of_damage_is_its_own_error_with_the_text_recovery_reports() {
    let mut rec = Record::new(b"key", b"value", 0, 0, 0);
    rec.stamp(7, 99);
    let mut buf = Vec::new();
    encode_commit(&mut buf, 7, &[Change::Put(rec)]);
    let payload = &buf[FRAME_HEADER..];
    let decode = |p: &[u8]| decode_commit(p).map(|(v, _)| v);
    assert_eq!(decode(payload), Ok(7));
    assert_eq!(
        decode(&payload[..payload.len() - 1]),
        // The record (19-byte header, key, value) starts after tag, version, count and length.
        Err(FrameError::Short { need: 27, at: 18 })
    );
    let mut longer = payload.to_vec();
    longer.push(0);
    assert_eq!(decode(&longer), Err(FrameError::Trailing(1)));
    let mut not_commit = payload.to_vec();
    not_commit[0] = b'X';
    assert_eq!(decode(&not_commit), Err(FrameError::NotCommit));
    let mut other_version = payload.to_vec();
    other_version[1] = 8;
    assert_eq!(
        decode(&other_version),
        Err(FrameError::RecordVersion {
            record: 7,
            commit: 8
        })
    );
    let mut zero = Vec::new();
    encode_commit(&mut zero, 0, &[]);
    let err = decode(&zero[FRAME_HEADER..]).unwrap_err();
    assert_eq!(err, FrameError::ImpossibleVersion(0));
    assert_eq!(
        err.to_string(),
        format!("commit version 0 is impossible (versions run from 1 to {MAX_VERSION})")
    );
    let mut bad_header = buf.clone();
    bad_header[0] ^= 1;
    assert_eq!(next(&bad_header, 0), Next::Bad(FrameError::HeaderChecksum));
    assert_eq!(
        FrameError::HeaderChecksum.to_string(),
        "frame header checksum mismatch"
    );
    let mut head = Vec::new();
    encode_segment_head(&mut head, 1, 0);
    let Next::Frame(p, _) = next(&head, 0) else {
        panic!("no header frame")
    };
    assert_eq!(decode_segment_head(p), Ok((1, FORMAT, 0)));
    let mut bad_magic = p.to_vec();
    bad_magic[1] = b'X';
    assert_eq!(
        decode_segment_head(&bad_magic),
        Err(HeadError::Bad(FrameError::SegmentMagic))
    );
}
