//! sensorctl: the management CLI and privileged daemon of an OT network-sensor appliance.
//!
//! The flow of every command: `cli` (argv or a shell line → typed [`action::Action`]) →
//! `action::run` (policy check, then the executor) → domain modules → `sys` (the only place that
//! talks to the kernel, and the only place `unsafe` is allowed).
#![deny(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod action;
pub mod archive;
pub mod backup;
pub mod blink;
pub mod board;
pub mod cli;
pub mod config;
pub mod context;
pub mod error;
pub mod health;
pub mod info;
pub mod install;
pub mod paths;
pub mod power;
pub mod role;
pub mod shell;
pub mod store;
pub mod sys;
pub mod time;
pub mod validate;

#[cfg(test)]
pub(crate) mod testutil;
