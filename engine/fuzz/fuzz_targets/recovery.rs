//! Feeds arbitrary bytes to the log-frame decoder and the snapshot reader, exactly as
//! recovery reads them. Any panic, hang or out-of-bounds read is a bug: damaged files must
//! become `Error::Corrupt` or a torn tail, never a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = acorn::fuzz_decode(data);
});
