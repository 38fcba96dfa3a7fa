//! sensorctl: the management CLI and privileged daemon of an OT network-sensor appliance.
//!
//! The flow of every command: `cli` (argv or a shell line → typed [`action::Action`]) →
//! `action::run` (policy check, then the executor) → domain modules → `sys` (the only place that
//! talks to the kernel, and the only place `unsafe` is allowed).
#![deny(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod action;
pub mod archive;
pub mod audit;
pub mod backup;
pub mod blink;
pub mod board;
pub mod bpf;
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
pub mod login;
pub mod netconf;
pub mod netlist;
pub mod netload;
pub mod ntp;
pub mod password;
pub mod paths;
pub mod ping;
pub mod power;
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

#[cfg(test)]
pub(crate) mod testutil;
