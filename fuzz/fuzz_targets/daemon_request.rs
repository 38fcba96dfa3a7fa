//! The daemon's request decoder (src/daemon.rs): every line a local user writes to the socket
//! becomes a `Request` (or, while one runs, an `Answer`) through `sensorctl::json::decode`
//! (a syntax check, then nanoserde), after a lossy UTF-8 conversion; so does this target. A
//! decoded request must survive the trip back through the wire format (the CLI sends what the
//! daemon decodes: the check must accept what nanoserde writes), and its policy lookup must
//! not fail.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nanoserde::SerJson;
use sensorctl::daemon::{Answer, Reply, Request};
use sensorctl::json::decode;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if let Ok(request) = decode::<Request>(&line) {
        let kind = request.action.kind();
        let _ = sensorctl::action::allowed_roles(kind);
        let _ = sensorctl::daemon::changes_state(kind);
        let wire = request.serialize_json();
        assert!(!wire.contains('\n'), "a request must stay one line: {wire:?}");
        let again = decode::<Request>(&wire).expect("a decoded request must decode again after encoding");
        assert_eq!(again, request);
    }
    if let Ok(answer) = decode::<Answer>(&line) {
        let again = decode::<Answer>(&answer.serialize_json()).expect("answer round trip");
        assert_eq!(again, answer);
    }
    // The CLI's side decodes replies from the daemon with the same machinery.
    if let Ok(reply) = decode::<Reply>(&line) {
        let wire = reply.serialize_json();
        assert!(!wire.contains('\n'));
        assert_eq!(decode::<Reply>(&wire).expect("reply round trip"), reply);
    }
});
