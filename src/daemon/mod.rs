//! `daemon` (also invoked as `sensord`): the privileged side of sensorctl. It serves a Unix
//! stream socket at `<root>/run/sensorctl/sensord.sock` so that callers who are not root — the
//! support user in the restricted shell above all — can have actions run for them, safely.
//!
//! Two layers guard it (sudo-rs and Bottlerocket's lesson): the socket's directory is 0750 and
//! the socket 0660, both owned by root and the board's socket group; and for every connection
//! the kernel's SO_PEERCRED uid is mapped to a role exactly as the CLI maps a caller
//! (uid → `<root>/etc/passwd` → the board's role map) and the policy is checked again by the
//! executor. Nothing the client says about itself is believed.
//!
//! - [`protocol`]: the wire format (the validated `Action` itself) and every limit;
//! - [`server`]: the socket, connections, requests, the state lock, the remote prompter;
//! - [`client`]: the caller's side;
//! - [`schedule`]: what the daemon does on its own (start-up recovery, NTP, backups);
//! - [`workers`]: the threads actions run on.
//!
//! The executor is smol's: connections are async tasks on an epoll reactor (an idle daemon
//! sleeps in the kernel); each action runs on a thread of its own, as the CLI would run it.
//! Read-only requests run on a request thread that waits, blocked, for the next one (at most
//! two wait): a woken thread runs at once, while a newly started one often waits a scheduler
//! tick on a busy appliance (measured p99 of `system version` over the socket: 1.4–4.3 ms
//! with a thread per request, 0.18–0.29 ms with reuse, one core busy with a fuzzer).
//!
//! Needs root: it runs every action a caller's role allows.
#![forbid(unsafe_code)]

pub mod client;
pub mod protocol;
pub mod schedule;
pub mod server;
pub mod workers;

pub use client::call;
pub use protocol::{gid_in, group_id, socket_path, Reply, Request};
pub use server::run;
