//! Our raw-deflate decoder (src/archive/inflate.rs), the one under every backup read, against
//! miniz_oxide's. The input is a byte that sets the piece size, then a deflate stream. On any
//! input: no panic; fed in pieces it gives what it gives fed whole; and what it accepts,
//! miniz_oxide accepts with the same output (it may refuse more: it is zlib-strict).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::archive::inflate::{Inflater, Progress};

/// Output beyond this is not compared (a few KiB of input can expand 1000-fold).
const OUTPUT_CAP: usize = 4 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&piece, stream)) = data.split_first() else { return };
    let whole = inflate(stream, stream.len().max(1));
    let pieces = inflate(stream, usize::from(piece % 16) + 1);
    match (&whole, &pieces) {
        (Some(Ok(a)), Some(Ok(b))) => assert!(a == b, "pieces of {} bytes changed the output", piece % 16 + 1),
        (Some(a), Some(b)) => assert_eq!(a.is_ok(), b.is_ok(), "whole: {a:?}, pieces: {b:?}"),
        _ => {}
    }
    if let Some(Ok((out, used))) = &whole {
        match miniz_oxide::inflate::decompress_to_vec(&stream[..*used]) {
            Ok(theirs) => assert!(theirs == *out, "miniz_oxide decodes it differently"),
            Err(err) => panic!("accepted what miniz_oxide refuses: {err:?}"),
        }
    }
});

/// Decodes `stream` given `piece` bytes at a time: the output and the bytes used, an error
/// message, or `None` when the output passed the cap.
fn inflate(stream: &[u8], piece: usize) -> Option<Result<(Vec<u8>, usize), String>> {
    let mut inflater = Inflater::new(0);
    inflater.start_member();
    let (mut out, mut pending, mut fed, mut used) = (Vec::new(), Vec::new(), 0, 0);
    loop {
        let result = match inflater.inflate(&pending, fed == stream.len()) {
            Ok(result) => result,
            Err(err) => return Some(Err(err.to_string())),
        };
        out.extend_from_slice(&inflater.output()[result.produced.clone()]);
        if out.len() > OUTPUT_CAP {
            return None;
        }
        pending.drain(..result.consumed);
        used += result.consumed;
        match result.progress {
            Progress::Done => return Some(Ok((out, used))),
            Progress::OutputFull => {}
            Progress::NeedInput => {
                assert!(fed < stream.len(), "asked for input after the end");
                let take = piece.min(stream.len() - fed);
                pending.extend_from_slice(&stream[fed..fed + take]);
                fed += take;
            }
        }
    }
}
