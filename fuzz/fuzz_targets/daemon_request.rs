//! The daemon's request decoder (src/daemon/server.rs): every line a local user writes to the
//! socket becomes a `Request` through `sensorctl::wire::decode` (a syntax check, then the typed
//! read) or, while one runs, a `Followup` (answer, cancel) through `sensorctl::json::decode` (the check, then
//! nanoserde), after a lossy UTF-8 conversion; so does this target. A decoded request must
//! survive the trip back through the wire format (the CLI sends what the daemon decodes), and
//! its policy lookup must not fail.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nanoserde::SerJson;
use sensorctl::daemon::protocol::Followup;
use sensorctl::daemon::{Reply, Request};
use sensorctl::json::decode;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Ok(request) = sensorctl::wire::decode::<Request>(&line) {
        let kind = request.action.kind();
        let _ = kind.spec();
        let wire = sensorctl::wire::encode(&request);
        assert!(!wire.contains('\n'), "a request must stay one line: {wire:?}");
        let again = sensorctl::wire::decode::<Request>(&wire).expect("a decoded request must decode again after encoding");
        assert_eq!(again, request);
    }
    if let Ok(answer) = decode::<Followup>(&line) {
        let again = decode::<Followup>(&answer.serialize_json()).expect("answer round trip");
        assert_eq!(again, answer);
    }
    // The CLI's side decodes replies from the daemon with the same machinery.
    if let Ok(reply) = decode::<Reply>(&line) {
        let wire = reply.serialize_json();
        assert!(!wire.contains('\n'));
        assert_eq!(decode::<Reply>(&wire).expect("reply round trip"), reply);
    }
});
