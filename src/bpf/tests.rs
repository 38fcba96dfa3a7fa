//! The compiler's listings against `tcpdump -d` (the real one, when it is installed), its
//! errors, and its jump resolution. Packet-for-packet semantics against libpcap on the kernel
//! are in tests/by-area/capture_filter.rs.
use super::*;

/// `tcpdump -d EXPR` without its "assuming Ethernet" warning; `None` when tcpdump is missing
/// (a failure under CI=true, where scripts/test installs it).
fn tcpdump_listing(expression: &str) -> Option<String> {
    match std::process::Command::new("tcpdump").args(["-d", expression]).output() {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => panic!("tcpdump -d '{expression}': {}", String::from_utf8_lossy(&out.stderr)),
        Err(err) => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "tcpdump is needed in CI: {err}");
            eprintln!("skipped: tcpdump not installed ({err})");
            None
        }
    }
}

#[test]
fn simple_listings_are_what_tcpdump_prints() {
    for expression in ["tcp port 502", "host 10.0.0.1", "not net 192.168.0.0/16", "", "icmp", "udp src port 53"] {
        let ours = compile(expression, KERNEL_MAX_INSNS).unwrap().listing();
        let Some(theirs) = tcpdump_listing(expression) else { return };
        assert_eq!(ours, theirs, "listing of '{expression}'");
    }
}

#[test]
fn the_empty_filter_accepts_everything() {
    assert_eq!(compile("", 1).unwrap().listing(), "(000) ret      #262144\n");
    assert_eq!(compile("  \t", 1).unwrap().insns.len(), 1);
}

#[test]
fn the_first_vlan_reads_the_kernel_metadata_and_moves_later_offsets() {
    let listing = compile("vlan 10 and ip", KERNEL_MAX_INSNS).unwrap().listing();
    assert!(listing.contains("ldb      [vlanp]"), "{listing}");
    assert!(listing.contains("ldh      [vlan_tci]"), "{listing}");
    assert!(listing.contains("ld       #0x4\n") && listing.contains("st       M[0]\n"), "{listing}");
    assert!(listing.contains("ldh      [x + 12]"), "{listing}");
    // A second vlan looks in the packet data, 4 bytes further on.
    let two = compile("vlan and vlan 5", KERNEL_MAX_INSNS).unwrap().listing();
    assert!(two.contains("ldh      [x + 14]"), "{two}");
    // Without a later test that reads the offset, it is not stored.
    let alone = compile("vlan", KERNEL_MAX_INSNS).unwrap().listing();
    assert!(!alone.contains("M[0]"), "{alone}");
}

#[test]
fn words_outside_the_subset_are_named() {
    for (expression, word) in [
        ("ether host 1:2:3:4:5:6", "ether"),
        ("tcp port 502 and greater 100", "greater"),
        ("host localhost", "localhost"),
        ("port http", "http"),
        ("ip proto 6", "proto"),
        ("tcp[13] = 2", "tcp[13]"),
        ("host 1.1.1.1; rm -rf /", "1.1.1.1;"),
        ("host $(reboot)", "$"),
        ("port 502 | nc", "|"),
        ("`id`", "`id`"),
        ("len > 100", ">"),
    ] {
        match check(expression) {
            Err(FilterError::Unsupported(named)) => assert!(named.contains(word), "'{expression}': named '{named}'"),
            other => panic!("'{expression}': {other:?}"),
        }
    }
    let shown = check("ether host x").unwrap_err().to_string();
    assert_eq!(shown, "unsupported word in capture filter: 'ether'");
}

#[test]
fn bad_values_and_syntax_are_refused_as_libpcap_refuses_them() {
    for (expression, fragment) in [
        ("port 70000", "illegal port number 70000 > 65535"),
        ("vlan 5000", "VLAN tag 5000 greater than maximum 4095"),
        ("net 10.1.2.3/8", "non-network bits set"),
        ("net 10.0.0.0/33", "mask length must be <= 32"),
        ("host 10.0.0.0/8", "mask syntax for networks only"),
        ("host 256.1.1.1", "invalid IPv4 address"),
        ("host 1.2.3.4.5", "invalid IPv4 address"),
        ("ip6 host 1.2.3.4", "'ip6' modifier applied to ip host"),
        ("tcp host 1.2.3.4", "'tcp' modifier applied to host"),
        ("ip port 80", "illegal qualifier of 'port'"),
        ("tcp or 80", "needs a keyword"),
        ("1.1.1.1", "needs a keyword"),
        ("host", "missing"),
        ("(tcp", "missing ')'"),
        ("tcp)", "unexpected ')'"),
        ("tcp and", "ends too early"),
        ("vlan 1 or 2", "needs a keyword"),
    ] {
        let err = check(expression).unwrap_err().to_string();
        assert!(err.contains(fragment), "'{expression}': {err}");
    }
}

#[test]
fn the_limit_is_the_smaller_of_the_callers_and_the_kernels() {
    assert_eq!(compile("tcp port 502", 19).unwrap_err(), FilterError::TooLong { size: 20, limit: 19 });
    assert!(compile("tcp port 502", 20).is_ok());
    let many: Vec<String> = (0..700).map(|i| format!("host 10.{}.{}.1", i / 250, i % 250)).collect();
    match compile(&many.join(" or "), usize::MAX) {
        Err(FilterError::TooLong { size, limit }) => assert!(size > 4096 && limit == KERNEL_MAX_INSNS, "{size}"),
        other => panic!("{other:?}"),
    }
    let err = FilterError::TooLong { size: 5000, limit: 4096 }.to_string();
    assert_eq!(err, "capture filter too long: 5000 instructions, the limit is 4096");
}

#[test]
fn long_jumps_go_through_an_unconditional_jump_and_every_jump_stays_inside() {
    let hosts: Vec<String> = (0..120).map(|i| format!("host 10.0.{i}.1")).collect();
    let program = compile(&format!("vlan and ({})", hosts.join(" or ")), KERNEL_MAX_INSNS).unwrap();
    assert!(program.insns.len() > 600, "{}", program.insns.len());
    let mut trampolines = 0;
    for (at, insn) in program.insns.iter().enumerate() {
        let class = insn.code & 0x07;
        if class == JMP && insn.code & 0xf0 == JA {
            trampolines += 1;
            assert!(at + 1 + (insn.k as usize) < program.insns.len());
        } else if class == JMP {
            assert!(at + 1 + usize::from(insn.jt.max(insn.jf)) < program.insns.len());
        }
    }
    assert!(trampolines > 0, "no long jump was needed");
    assert_eq!(program.insns.last().map(|i| i.code & 0x07), Some(RET));
}

#[test]
fn implicit_qualifiers_and_precedence_follow_libpcap() {
    // `port 502 or 503` is `port 502 or port 503`, and `a or b and c` is `(a or b) and c`.
    let same = |a: &str, b: &str| assert_eq!(compile(a, 4096).unwrap(), compile(b, 4096).unwrap(), "{a} vs {b}");
    same("tcp port 502 or 503", "tcp port 502 or tcp port 502 or tcp port 503");
    same("host 1.1.1.1 and not 2.2.2.2", "host 1.1.1.1 and not host 2.2.2.2");
    same("ip or udp and tcp", "(ip or udp) and tcp");
    same("ip && !tcp || arp", "(ip and not tcp) or arp");
    same("portrange 200-100", "portrange 100-200");
    same("net 10", "net 10.0.0.0/8");
    same("net 192.168", "net 192.168.0.0/16");
    same("net 172.16.0.0 mask 255.240.0.0", "net 172.16.0.0/12");
    same("port 0x1f6", "port 502");
    same("port 0766", "port 502");
}

/// Random expressions of the whole subset (deterministic): nested, negated, with several
/// `vlan`s, implicit qualifiers and long alternations.
fn random_expressions(count: usize) -> Vec<String> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    fn term(next: &mut dyn FnMut(usize) -> usize, depth: usize) -> String {
        let primitives = [
            "tcp", "udp", "icmp", "ip", "ip6", "arp", "vlan", "vlan 10", "host 10.0.0.1", "src net 192.168",
            "dst net 10.0.0.0/8", "port 502", "tcp src port 80", "udp portrange 1-1024", "portrange 500-400",
            "net 172.16.0.0 mask 255.240.0.0", "arp host 1.1.1.1", "ip host 2.2.2.2 or 3.3.3.3", "src and dst port 53",
        ];
        match next(if depth > 3 { 2 } else { 5 }) {
            0 | 1 => primitives[next(primitives.len())].to_string(),
            2 => format!("not {}", term(next, depth + 1)),
            3 => format!("({} or {})", term(next, depth + 1), term(next, depth + 1)),
            _ => format!("({} and {})", term(next, depth + 1), term(next, depth + 1)),
        }
    }
    (0..count)
        .map(|i| {
            let parts: Vec<String> = (0..1 + next(if i % 10 == 0 { 60 } else { 4 })).map(|_| term(&mut next, 0)).collect();
            parts.join(if next(2) == 0 { " or " } else { " and " })
        })
        .collect()
}

#[test]
fn every_program_is_well_formed_and_the_kernels_checker_accepts_it() {
    let programs: Vec<(String, Program)> = random_expressions(600)
        .into_iter()
        .filter_map(|e| compile(&e, KERNEL_MAX_INSNS).ok().map(|p| (e, p)))
        .collect();
    assert!(programs.len() > 400, "{} compiled", programs.len());
    assert!(programs.iter().any(|(_, p)| p.insns.len() > 300), "no long program in the sample");
    for (expression, program) in &programs {
        let insns = &program.insns;
        for (at, insn) in insns.iter().enumerate() {
            if insn.code & 0x07 == JMP {
                let reach = if insn.code & 0xf0 == JA { insn.k as usize } else { usize::from(insn.jt.max(insn.jf)) };
                assert!(at + 1 + reach < insns.len(), "'{expression}': jump out of the program at {at}");
            }
        }
        assert_eq!(insns.last().map(|i| i.code & 0x07), Some(RET), "'{expression}'");
        assert!(!program.listing().is_empty());
    }
    if let Err(err) = crate::sys::packet::open() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "a packet socket is needed in CI: {err}");
        eprintln!("skipped: the kernel check needs CAP_NET_RAW ({err})");
        return;
    }
    // The fuzzer's finds: long programs (2,000 and 3,000 instructions).
    let mut programs = programs;
    for name in ["capture_filter-optmem", "capture_filter-optmem-single"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz").join(name);
        let found = std::fs::read(path).unwrap();
        let found = compile(&String::from_utf8_lossy(&found[1..]), KERNEL_MAX_INSNS).unwrap();
        assert!(found.insns.len() > 1000, "{}", found.insns.len());
        programs.push((name.to_string(), found));
    }
    for (expression, program) in &programs {
        let insns: Vec<_> = program.insns.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        // One socket per program: replacing a filter charges the new one to the socket's option
        // memory before the old one is released (ENOMEM for two large ones in a row).
        let socket = crate::sys::packet::open().unwrap();
        match socket.attach_filter(&insns) {
            Ok(()) => {}
            // The checker runs first (bpf_prepare_filter); ENOMEM is the program being charged to
            // the socket's option memory (net.core.optmem_max, 128 KiB by default) after it:
            // 3,000 instructions convert to more than that. libpcap filters in user space then.
            Err(err) if err.raw_os_error() == Some(libc::ENOMEM) && program.insns.len() > 1500 => {}
            Err(err) => panic!("the kernel refused '{expression}' ({} instructions): {err}", program.insns.len()),
        }
    }
}

