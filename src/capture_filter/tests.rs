use super::apply::{property, with_property};
use super::*;
use crate::testutil::TempDir;
use std::fs;
use std::path::Path;

fn request(include: &str, exclude: &str) -> Request {
    Request {
        include: parse_entries(include, false).unwrap(),
        exclude: parse_entries(exclude, true).unwrap(),
        ..Request::default()
    }
}

#[test]
fn the_reference_example_comes_out_word_for_word() {
    let mut r = request("", "192.168.1\n");
    r.exclude_tcp_ports = parse_ports("9000").unwrap();
    r.exclude_udp_ports = parse_ports("9000").unwrap();
    r.mode = Some(Mode::Internal);
    assert_eq!(
        expression(&r, Component::Horizon),
        "(((not (net 192.168.1))) and (not (tcp port 9000)) and (not (udp port 9000))) or \
         (vlan and ((not (net 192.168.1))) and (not (tcp port 9000)) and (not (udp port 9000)))"
    );
    assert_eq!(expression(&Request::default(), Component::Horizon), "");
    assert_eq!(debug_line(Component::Collector, ""), "debug: set new filter for dumpark ''");
}

#[test]
fn one_term_per_entry_type() {
    for (line, exclude, term) in [
        ("10.0.0.5", false, "host 10.0.0.5"),
        ("10.0.0.5,10.0.0.9", false, "host 10.0.0.5 and host 10.0.0.9"),
        ("10.0.0.5,10.0.0.9,443", true, "host 10.0.0.5 and host 10.0.0.9 and port 443"),
        ("192.168.1", false, "net 192.168.1"),
        (" 192.168.1 , 192.168.2 ", false, "net 192.168.1 and net 192.168.2"),
    ] {
        assert_eq!(Entry::parse(line, exclude).unwrap().term(), term);
    }
}

#[test]
fn the_mode_decides_whether_included_ends_may_talk_to_others() {
    let mut r = request("10.0.0.5\n192.168.1\n10.0.0.7,10.0.0.8\n", "");
    r.mode = Some(Mode::AllConnected);
    let body = "((host 10.0.0.5) or (net 192.168.1) or (host 10.0.0.7 and host 10.0.0.8))";
    assert_eq!(expression(&r, Component::Dissector), format!("({body}) or (vlan and {body})"));
    r.mode = Some(Mode::Internal);
    let body = "(((src host 10.0.0.5 or src net 192.168.1) and (dst host 10.0.0.5 or dst net 192.168.1)) \
                or (host 10.0.0.7 and host 10.0.0.8))";
    assert_eq!(expression(&r, Component::Dissector), format!("({body}) or (vlan and {body})"));
}

#[test]
fn ports_vlan_and_base_filters_take_their_places() {
    let mut r = request("10.0.0.5\n", "10.0.0.9\n");
    r.include_tcp_ports = vec![502];
    r.include_udp_ports = vec![47808];
    r.exclude_tcp_ports = vec![22];
    r.vlan = parse_vlan_ids("10").unwrap();
    r.set_base(Component::Horizon, "tcp or udp").unwrap();
    assert_eq!(
        expression(&r, Component::Horizon),
        "vlan 10 and (tcp or udp) and ((host 10.0.0.5) or (tcp port 502) or (udp port 47808)) \
         and ((not (host 10.0.0.9))) and (not (tcp port 22))"
    );
    // Base filters are per component.
    assert!(expression(&r, Component::Collector).starts_with("vlan 10 and ((host"));
    let only_vlan = Request { vlan: Some(7), ..Request::default() };
    assert_eq!(expression(&only_vlan, Component::Collector), "vlan 7");
}

#[test]
fn every_generated_expression_compiles() {
    let mut r = request("10.0.0.5\n192.168.1\n1.1.1.1,2.2.2.2\n1.1.1,2.2.2\n", "10.0.0.9\n3.3.3.3,4.4.4.4,443\n5.5.5\n");
    r.include_tcp_ports = vec![502, 443];
    r.exclude_udp_ports = vec![53];
    for mode in [Mode::Internal, Mode::AllConnected] {
        r.mode = Some(mode);
        let plans = plan(&r, &Program::All, crate::bpf::KERNEL_MAX_INSNS).unwrap();
        assert_eq!(plans.len(), Component::ALL.len());
        assert!(plans.iter().all(|p| p.program.insns.len() > 20));
    }
    match plan(&r, &Program::One(Component::Horizon), 50) {
        Err(CaptureFilterError::TooLong { component: Component::Horizon, size, limit: 50 }) => assert!(size > 50),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_input_is_a_typed_error_naming_the_item() {
    let usage = |err: CaptureFilterError| {
        assert!(err.is_usage());
        assert_eq!(crate::error::Error::from(err).exit_code(), 2);
    };
    for (text, exclude, fragment) in [
        ("1.1", false, "neither a device"),
        ("300.1.1.1", false, "not a number 0-255"),
        ("10.0.0.1,10.0.0.2,443", false, "can only be excluded"),
        ("10.0.0.1,10.0.0.2,70000", true, "invalid port '70000'"),
        ("10.0.0.1,10.0.1", false, "two devices or two subnets"),
        ("1.1.1.1; reboot", false, "not a number"),
        ("$(id)", false, "not a number"),
        ("010.0.0.1", false, "not a number"),
    ] {
        let err = Entry::parse(text, exclude).unwrap_err();
        assert!(err.to_string().contains(fragment), "'{text}': {err}");
        usage(err);
    }
    let err = parse_entries("10.0.0.1\n\n# comment\n1.1\n", false).unwrap_err().to_string();
    assert_eq!(err, "invalid entry '1.1': line 4: neither a device (a.b.c.d) nor a subnet (a.b.c)");
    assert_eq!(parse_ports("502,443").unwrap(), vec![502, 443]);
    assert_eq!(parse_ports("").unwrap(), Vec::<u16>::new());
    for bad in ["70000", "-1", "80;ls", "0x50", "5 02"] {
        assert!(matches!(parse_ports(bad), Err(CaptureFilterError::BadPort(_))), "{bad}");
    }
    assert_eq!(parse_vlan_ids("5000").unwrap_err().to_string(), "invalid VLAN id '5000' (0-4095)");
    assert!(matches!(parse_vlan_ids("10,20"), Err(CaptureFilterError::TooManyVlans(2))));
    assert_eq!(Program::parse("all").unwrap(), Program::All);
    assert_eq!(Program::parse("dumpark").unwrap(), Program::One(Component::Collector));
    assert!(Program::parse("malware").unwrap_err().to_string().starts_with("unknown program 'malware' (all, collector"));
    assert_eq!(Mode::parse("both").unwrap_err().to_string(), "unknown mode 'both' (internal, all-connected)");
    let mut r = Request::default();
    let err = r.set_base(Component::Horizon, "tcp and ether host 1:2:3:4:5:6").unwrap_err();
    assert_eq!(err.to_string(), "horizon: unsupported word in capture filter: 'ether'");
    usage(err);
    usage(r.set_base(Component::Horizon, "port 1 `reboot`").unwrap_err());
}

#[test]
fn the_property_line_changes_and_every_other_byte_stays() {
    let text = b"# dumpark\r\ndumpark.network.snaplen=4096\r\ndumpark.network.filter = old \\\n  continued\r\n\
                 x=\xff\xfe binary\nlast=1";
    let new = with_property(text, "dumpark.network.filter", "tcp port 502");
    assert_eq!(
        new,
        b"# dumpark\r\ndumpark.network.snaplen=4096\r\ndumpark.network.filter=tcp port 502\r\nx=\xff\xfe binary\nlast=1".to_vec()
    );
    assert_eq!(property(text, "dumpark.network.filter").as_deref(), Some("old continued"));
    assert_eq!(property(&new, "dumpark.network.filter").as_deref(), Some("tcp port 502"));
    // Missing: appended on a line of its own.
    assert_eq!(with_property(b"a=1", "k", "v"), b"a=1\nk=v\n".to_vec());
    assert_eq!(with_property(b"", "k", ""), b"k=\n".to_vec());
    // Comments that mention the key, and keys that only start with it, are not it.
    let text = b"#k=commented\nk.x=other\nk : first\nk=second\n";
    assert_eq!(property(text, "k").as_deref(), Some("second"));
    assert_eq!(with_property(text, "k", "third"), b"#k=commented\nk.x=other\nk : first\nk=third\n".to_vec());
}

fn root_with_files() -> (TempDir, crate::paths::RootDir) {
    let dir = TempDir::new("capture-filter");
    let root = crate::paths::RootDir::new(dir.path());
    let props = dir.path().join(PROPERTIES_DIR);
    for component in Component::ALL {
        let path = props.join(component.file());
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, format!("# {}\nother.setting=1\n{}=\nlast=2\n", component.name(), component.key())).unwrap();
    }
    (dir, root)
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push((path.strip_prefix(dir).unwrap().display().to_string(), fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn apply_sets_every_component_and_current_reads_them_back() {
    let (dir, root) = root_with_files();
    let filters: Vec<(Component, String)> = Component::ALL.iter().map(|c| (*c, format!("tcp port {}", 500 + *c as u16))).collect();
    apply(&root, &filters).unwrap();
    for stored in current(&root).unwrap() {
        let want = format!("tcp port {}", 500 + stored.component as u16);
        assert_eq!(stored.expression.as_deref(), Some(want.as_str()));
        let text = fs::read_to_string(&stored.path).unwrap();
        let key = stored.component.key();
        assert_eq!(text, format!("# {}\nother.setting=1\n{key}={want}\nlast=2\n", stored.component.name()));
    }
    reset(&root).unwrap();
    assert!(current(&root).unwrap().iter().all(|s| s.expression.as_deref() == Some("")));
    let names: Vec<String> = snapshot(dir.path()).into_iter().map(|(n, _)| n).collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-") && !n.contains(".old-") && !n.contains("journal")), "{names:?}");
}

/// File operations that fail at the n-th stage or the n-th rename.
struct Failing {
    stage_fails_at: usize,
    rename_fails_at: usize,
    stages: usize,
    renames: usize,
}

impl FileOps for Failing {
    fn stage(&mut self, path: &Path, contents: &[u8]) -> crate::error::Result<crate::store::Staged> {
        self.stages += 1;
        if self.stages == self.stage_fails_at {
            return Err(crate::error::Error::io("write", path, std::io::Error::from_raw_os_error(28)));
        }
        StoreOps.stage(path, contents)
    }
    fn rename(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.renames += 1;
        if self.renames == self.rename_fails_at {
            return Err(std::io::Error::from_raw_os_error(5));
        }
        std::fs::rename(from, to)
    }
}

#[test]
fn a_failure_at_any_write_or_rename_changes_no_component() {
    let filters: Vec<(Component, String)> = Component::ALL.iter().map(|c| (*c, "udp".to_string())).collect();
    for (stage_fails_at, rename_fails_at) in (1..=7).map(|n| (n, 0)).chain((1..=7).map(|n| (0, n))) {
        let (dir, root) = root_with_files();
        // A file that did not exist must be gone again after a rollback.
        let created = dir.path().join(PROPERTIES_DIR).join(Component::SmbParser.file());
        fs::remove_file(&created).unwrap();
        let before = snapshot(dir.path());
        let mut ops = Failing { stage_fails_at, rename_fails_at, stages: 0, renames: 0 };
        let err = apply_with(&root, &filters, &mut ops).unwrap_err();
        assert!(!err.is_usage(), "{err}");
        assert_eq!(snapshot(dir.path()), before, "stage {stage_fails_at} / rename {rename_fails_at}: {err}");
        apply(&root, &filters).unwrap();
        assert!(current(&root).unwrap().iter().all(|s| s.expression.as_deref() == Some("udp")));
    }
}

#[test]
fn a_crash_after_the_commit_point_is_finished_by_recover() {
    let (dir, root) = root_with_files();
    let before = snapshot(dir.path());
    // Simulate a kill after the journal was written and two renames were done: stage every
    // file, write the journal as apply does, rename only the first two, and forget the rest.
    struct Crash(usize);
    impl FileOps for Crash {
        fn stage(&mut self, path: &Path, contents: &[u8]) -> crate::error::Result<crate::store::Staged> {
            StoreOps.stage(path, contents)
        }
        fn rename(&mut self, from: &Path, to: &Path) -> std::io::Result<()> {
            self.0 += 1;
            if self.0 > 2 {
                // Leave the rest for recover: as if the process had died here.
                return Err(std::io::Error::other("killed"));
            }
            std::fs::rename(from, to)
        }
    }
    let filters: Vec<(Component, String)> = Component::ALL.iter().map(|c| (*c, "icmp".to_string())).collect();
    // The rollback path is the in-process answer to a failed rename; a kill skips it, so turn
    // the journal back to "commit" and restore the renamed state to what a kill leaves.
    let journal = dir.path().join(PROPERTIES_DIR).join(".capture-filter.journal");
    assert!(apply_with(&root, &filters, &mut Crash(0)).is_err());
    assert_eq!(snapshot(dir.path()), before, "the failed rename rolled everything back");
    assert!(!journal.exists());
    // Now a real interruption: stage and journal by hand through the same code path.
    let props = dir.path().join(PROPERTIES_DIR);
    let mut lines = String::from("commit\n");
    let mut staged = Vec::new();
    for component in Component::ALL {
        let target = props.join(component.file());
        let new = with_property(&fs::read(&target).unwrap(), component.key(), "icmp");
        let stage = crate::store::stage(&target, &new, crate::store::Mode::Preserve).unwrap();
        let rel = |p: &Path| p.strip_prefix(&props).unwrap().display().to_string();
        lines.push_str(&format!("{}\t{}\t-\n", rel(stage.temp()), rel(&target)));
        staged.push(stage.keep());
    }
    fs::write(&journal, lines).unwrap();
    fs::rename(&staged[0], props.join(Component::ALL[0].file())).unwrap();
    recover(&root).unwrap();
    assert!(current(&root).unwrap().iter().all(|s| s.expression.as_deref() == Some("icmp")));
    assert!(!journal.exists());
}

#[test]
fn reload_signals_the_service_that_reads_a_component_and_reports_the_rest() {
    let dir = TempDir::new("capture-filter-reload");
    let root = crate::paths::RootDir::new(dir.path());
    fs::create_dir_all(dir.path().join("run")).unwrap();
    let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    fs::write(dir.path().join("run/tm.pid"), format!("{}\n", child.id())).unwrap();
    let mut board = crate::board::Board::embedded_default().unwrap();
    board.services = vec![
        crate::board::Service {
            name: "Traffic Monitor".into(),
            probe: crate::board::ServiceProbe::Pidfile { path: "/run/tm.pid".into(), program: Some("sleep".into()) },
            argv: vec![],
            reloads: vec!["traffic-monitor".into(), "horizon".into()],
        },
        crate::board::Service {
            name: "Collector".into(),
            probe: crate::board::ServiceProbe::Pidfile { path: "/run/none.pid".into(), program: None },
            argv: vec![],
            reloads: vec!["collector".into()],
        },
    ];
    let outcome = reload(&board, &root, &[Component::Collector, Component::TrafficMonitor, Component::Horizon, Component::SmbParser]);
    let pid = child.id();
    assert_eq!(
        outcome,
        vec![
            (
                Component::Collector,
                Reloaded::NotRunning { service: "Collector".into(), reason: "no pidfile /run/none.pid".into() }
            ),
            (Component::TrafficMonitor, Reloaded::Signalled { service: "Traffic Monitor".into(), pid }),
            (Component::Horizon, Reloaded::Signalled { service: "Traffic Monitor".into(), pid }),
            (Component::SmbParser, Reloaded::NoService),
        ]
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGHUP), "signalled once, with SIGHUP");
}

#[test]
fn a_test_on_the_wire_counts_matches_bytes_and_drops() {
    let program = crate::bpf::compile("udp port 9", 4096).unwrap();
    let outcome = crate::sys::packet::tests::in_veth_namespace(move || {
        let sender = std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let socket = crate::sys::packet::open().unwrap();
            socket.bind(crate::sys::netdev::index_of("pk0").unwrap()).unwrap();
            for port in [9u16, 10, 9, 9] {
                let mut frame = vec![0xff; 6];
                frame.extend([2, 0, 0, 0, 0, 1, 0x08, 0x00]);
                // IPv4, 20-byte header, UDP, then the UDP header with destination `port`.
                frame.extend([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
                frame.extend([0x30, 0x39]);
                frame.extend(port.to_be_bytes());
                frame.extend([0, 8, 0, 0]);
                rustix::net::send(&socket, &frame, rustix::net::SendFlags::empty()).unwrap();
            }
        });
        let count = test_on_wire("pk1", &program, std::time::Duration::from_millis(900), &|| false);
        sender.join().unwrap();
        (count.unwrap(), test_on_wire("nosuch0", &program, std::time::Duration::ZERO, &|| false).unwrap_err())
    });
    let Some((count, missing)) = outcome else {
        eprintln!("skipped: needs CAP_NET_ADMIN for a network namespace, CAP_NET_RAW and iproute2");
        return;
    };
    assert_eq!(count, WireCount { matched: 3, bytes: 3 * 42, dropped: 0 });
    assert_eq!(missing.to_string(), "interface 'nosuch0' does not exist");
}

#[test]
fn old_version_links_of_a_killed_apply_are_removed_and_a_running_ones_kept() {
    let (_dir, root) = root_with_files();
    let target = root.resolve(PROPERTIES_DIR).join(Component::ALL[0].file());
    let name = target.file_name().unwrap().to_string_lossy().into_owned();
    let mut other_apply = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    // Killed between linking the old version and writing the journal: nothing names the link.
    let dead = target.with_file_name(format!(".{name}.old-4999999"));
    let running = target.with_file_name(format!(".{name}.old-{}", other_apply.id()));
    let unrelated = target.with_file_name(format!(".{name}.older-4999999"));
    for path in [&dead, &running, &unrelated] {
        fs::hard_link(&target, path).unwrap();
    }
    let applied = apply(&root, &[(Component::ALL[0], "tcp port 502".to_string())]);
    let _ = other_apply.kill();
    let _ = other_apply.wait();
    applied.unwrap();
    assert!(!dead.exists(), "the killed apply's link stayed");
    assert!(running.exists(), "a running apply's link was removed");
    assert!(unrelated.exists());
}
