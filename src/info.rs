//! `system version` and `date`: what runs here and what time the kernel says it is.
//!
//! Needs no privileges.
#![forbid(unsafe_code)]

use crate::outcome::{emit, Status};
use crate::context::Context;
use crate::error::Result;
use crate::time::Utc;
use nanoserde::SerJson;
use std::io::Write;

#[derive(SerJson)]
struct VersionReport {
    version: String,
    board: String,
    build_date: String,
    target: String,
}

/// `system version`: `Version: 22.2.5.9-r-2121448` in the reference; ours is semver-hash, or
/// after an upgrade the committed slot's version (see [`crate::upgrade::running_version`]).
pub fn version(ctx: &Context, json: bool, out: &mut dyn Write) -> Result<Status> {
    let text = if json {
        let build_epoch = env!("SENSORCTL_BUILD_EPOCH").parse::<i64>().unwrap_or(0);
        VersionReport {
            version: crate::upgrade::running_version(ctx),
            board: ctx.board()?.name.clone(),
            build_date: Utc::from_unix(build_epoch).iso8601(),
            target: env!("SENSORCTL_TARGET").to_string(),
        }
        .serialize_json()
    } else {
        format!("Version: {}", crate::upgrade::running_version(ctx))
    };
    emit(out, &text)?;
    Ok(Status::Ok)
}

#[derive(SerJson)]
struct DateReport {
    utc: String,
    unix: i64,
}

/// `date`: the kernel's realtime clock in UTC, as `Thu Sep 29 18:38:23 UTC 2022`.
pub fn date(json: bool, out: &mut dyn Write) -> Result<Status> {
    let (secs, _) = crate::sys::clock::realtime();
    let now = Utc::from_unix(secs);
    let text = if json {
        DateReport { utc: now.iso8601(), unix: secs }.serialize_json()
    } else {
        now.date_command_text()
    };
    emit(out, &text)?;
    Ok(Status::Ok)
}

