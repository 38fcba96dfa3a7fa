//! The validated newtypes of src/validate.rs (and the backup file-name parser): the first byte
//! picks the validator, the rest is the text. Whatever is accepted must print back as itself
//! and parse again to the same value; refusals must be one line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::validate::{printable, BackupName, DirPath, IfName, Ipv4, Label, Netmask, Rate, UserName};

fn one_line(err: sensorctl::error::Error) {
    let text = err.to_string();
    assert!(!text.contains('\n') && !text.contains('\r'), "multi-line error: {text:?}");
    assert!(!text.contains('\u{1b}'), "escape in error: {text:?}");
}

macro_rules! round_trip {
    ($ty:ty, $text:expr) => {
        match <$ty>::parse($text) {
            Ok(value) => {
                let shown = value.to_string();
                let again = <$ty>::parse(&shown).expect("accepted value does not parse back");
                assert_eq!(again.to_string(), shown);
            }
            Err(err) => one_line(err),
        }
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let text = text.as_ref();
    match which % 10 {
        0 => round_trip!(UserName, text),
        1 => round_trip!(IfName, text),
        2 => match Ipv4::parse(text) {
            Ok(addr) => {
                assert_eq!(addr.to_string(), addr.addr().to_string());
                assert_eq!(Ipv4::parse(&addr.to_string()).expect("reparse").addr(), addr.addr());
            }
            Err(err) => one_line(err),
        },
        3 => match Netmask::parse(text) {
            Ok(mask) => {
                let again = Netmask::parse(&mask.to_string()).expect("reparse");
                assert_eq!(again.prefix(), mask.prefix());
                assert!(mask.prefix() <= 32);
                let a = std::net::Ipv4Addr::from(u32::from_be_bytes([rest.len() as u8, 1, 2, 3]));
                assert!(mask.same_subnet(a, mask.network(a)));
                assert!(mask.same_subnet(a, mask.broadcast(a)));
            }
            Err(err) => one_line(err),
        },
        4 => match Rate::parse(text) {
            Ok(rate) => {
                assert!((Rate::MIN_BYTES_PER_SECOND..=Rate::MAX_BYTES_PER_SECOND).contains(&rate.bytes_per_second()));
                assert_eq!(Rate::parse(rate.as_str()).expect("reparse"), rate);
            }
            Err(err) => one_line(err),
        },
        5 => round_trip!(Label, text),
        6 => round_trip!(DirPath, text),
        7 => round_trip!(BackupName, text),
        8 => {
            let shown = printable(text);
            assert!(shown.bytes().all(|b| (0x20..0x7f).contains(&b)), "{shown:?}");
        }
        _ => {
            if let Some(name) = sensorctl::backup::parse_backup_name(text) {
                let _ = format!("{name:?}");
            }
        }
    }
});
