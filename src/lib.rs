//! sensorctl: the management CLI and privileged daemon of an OT network-sensor appliance.
//!
//! The flow of every command: `cli` (argv or a shell line → typed [`action::Action`]) →
//! `action::run` (policy check, questions, lock, then the act) → domain modules → core
//! (context, config, board, store, validate, outcome, prompt, cancel) → `sys` (the only place
//! that talks to the kernel, and the only place `unsafe` is allowed). The daemon sits beside
//! `cli`: it decodes requests into actions and hands them to the same executor.
#![deny(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod action;
pub mod archive;
pub mod audit;
pub mod backup;
pub mod blink;
pub mod board;
pub mod bpf;
pub mod cancel;
pub mod capture_filter;
pub mod certs;
pub mod cli;
pub mod config;
pub mod context;
pub mod daemon;
pub mod error;
pub mod health;
pub mod info;
pub mod install;
pub mod internet;
pub mod json;
pub mod limit;
pub mod localusers;
pub mod lineedit;
pub mod login;
pub mod netconf;
pub mod netlist;
pub mod netload;
pub mod outcome;
pub mod ntp;
pub mod password;
pub mod paths;
pub mod ping;
pub mod power;
pub mod product;
pub mod prompt;
pub mod role;
pub mod shacrypt;
pub mod shadow;
pub mod shell;
pub mod store;
pub mod supervisor;
pub mod sys;
pub mod time;
pub mod upgrade;
pub mod users;
pub mod validate;
pub mod wire;

#[cfg(test)]
pub(crate) mod testutil;
