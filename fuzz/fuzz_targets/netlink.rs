//! rtnetlink reply parsing (src/sys/netlink.rs, src/sys/route.rs): the datagram framing and
//! dump filter (`handle_datagram`, `Messages`, `Attributes`) and the link, address and route
//! parsers the dumps feed. (src/sys/tc.rs only builds requests; its acknowledgements go through
//! `handle_datagram` with no data type, case 3.) The first byte picks the dump; the rest is the
//! datagram, and the expected sequence number and port are taken from its first header so
//! that the filter lets messages through.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::sys::netlink::{handle_datagram, parse_address, parse_link, Attributes, Expect, Messages};
use sensorctl::sys::route::{address_request, parse_route, route_request, AddressV4, Route};

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    bytes.get(at..at + 4).map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, datagram)) = data.split_first() else { return };
    let reply_type = match which % 4 {
        0 => libc::RTM_NEWLINK,
        1 => libc::RTM_NEWADDR,
        2 => libc::RTM_NEWROUTE,
        _ => u16::MAX,
    };
    let expect = Expect { seq: u32_at(datagram, 8), port: u32_at(datagram, 12), reply_type };
    let mut interrupted = false;
    let _ = handle_datagram(datagram, expect, &mut interrupted, &mut |payload| {
        for attr in Attributes::new(payload) {
            if attr.is_err() {
                break;
            }
        }
        match reply_type {
            libc::RTM_NEWLINK => {
                let _ = parse_link(payload)?;
            }
            libc::RTM_NEWADDR => {
                let address = parse_address(payload)?;
                if let Some(v4) = AddressV4::from_dump(&address) {
                    let _ = v4.is_secondary();
                    let _ = address_request(&v4);
                }
            }
            libc::RTM_NEWROUTE => {
                let route = parse_route(payload)?;
                if !route.multipath {
                    // What we send back to delete a dumped route must name that same route.
                    // (Of the flags only RTNH_F_ONLINK is the sender's to set; route_request
                    // keeps just that one.)
                    let again = parse_route(&route_request(&route)).expect("our own route request must parse");
                    assert_eq!(again, Route { flags: route.flags & 4 /* RTNH_F_ONLINK */, ..route });
                }
            }
            _ => {}
        }
        Ok(())
    });
    for message in Messages::new(datagram).take(64) {
        if message.is_err() {
            break;
        }
    }
});
