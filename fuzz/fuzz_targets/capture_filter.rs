//! The capture-filter compiler (src/bpf) and the entry parser of src/capture_filter: an
//! operator's base filter and include/exclude lines reach them. First byte: 0-127 an
//! expression, 128-255 an include (even) or exclude (odd) list. No panic; every program has
//! its jumps inside it and ends in a return, its listing prints, and the kernel's checker
//! accepts it when a packet socket can be opened (the fuzzer runs as root here).
//! Found: tests/fixtures/fuzz/capture_filter-optmem (two large programs on one socket).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::bpf;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    if which >= 128 {
        if let Ok(entries) = sensorctl::capture_filter::parse_entries(&text, which % 2 == 1) {
            // Every accepted entry prints back as itself and makes a term the compiler takes.
            for entry in entries {
                let again = sensorctl::capture_filter::Entry::parse(&entry.to_string(), true).expect("reparse");
                assert_eq!(again, entry);
                bpf::check(&entry.term()).expect("an entry's term compiles");
            }
        }
        return;
    }
    let Ok(program) = bpf::compile(&text, bpf::KERNEL_MAX_INSNS) else { return };
    let insns = &program.insns;
    assert!(!insns.is_empty() && insns.len() <= bpf::KERNEL_MAX_INSNS);
    for (at, insn) in insns.iter().enumerate() {
        if insn.code & 0x07 == 0x05 {
            let reach = if insn.code & 0xf0 == 0 { insn.k as usize } else { usize::from(insn.jt.max(insn.jf)) };
            assert!(at + 1 + reach < insns.len(), "{text:?}: jump out of the program at {at}");
        }
    }
    assert_eq!(insns.last().map(|i| i.code & 0x07), Some(0x06), "{text:?}: no final return");
    assert_eq!(program.listing().lines().count(), insns.len());
    // A fresh socket each time: replacing a filter charges the new one to the socket's option
    // memory (net.core.optmem_max) before the old one is released, so two large programs in a
    // row on one socket fail with ENOMEM although each fits (found by this fuzzer).
    if let Ok(socket) = sensorctl::sys::packet::open() {
        let raw: Vec<_> = insns.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        match socket.attach_filter(&raw) {
            Ok(()) => {}
            // The checker runs before the program is charged to the socket's option memory
            // (net.core.optmem_max): ENOMEM means it passed and the program is large (found:
            // tests/fixtures/fuzz/capture_filter-optmem-single, 3,003 instructions).
            Err(e) if e.raw_os_error() == Some(libc::ENOMEM) && insns.len() > 1500 => {}
            Err(e) => panic!("the kernel refused {text:?} ({} instructions): {e}", insns.len()),
        }
    }
});
