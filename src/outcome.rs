//! How an action ends and how it speaks: its [`Status`], one output line ([`emit`]), and the
//! audit log's `result=` for an outcome.
//!
//! Every domain module prints through this and returns a [`Status`], so none of them needs the
//! executor (which sits above them). Needs no privileges.
#![forbid(unsafe_code)]

use crate::error::{Error, Result};
use std::io::Write;

/// How a command that ran to the end came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Exit 0.
    Ok,
    /// Exit 1: the command ran and found a problem, which it already reported.
    Problem,
}

/// Writes one line of a command's output.
pub fn emit(out: &mut dyn Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").map_err(|e| Error::io("write", "standard output", e))
}

/// The `result=` of an audit entry for how an action ended.
pub fn audit_result(result: &Result<Status>) -> String {
    match result {
        Ok(Status::Ok) => "ok".to_string(),
        Ok(Status::Problem) => "problem".to_string(),
        Err(Error::Denied { .. }) => "denied".to_string(),
        Err(err) => format!("failed: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_results_name_the_outcome() {
        assert_eq!(audit_result(&Ok(Status::Ok)), "ok");
        assert_eq!(audit_result(&Ok(Status::Problem)), "problem");
        assert_eq!(audit_result(&Err(Error::Denied { role: "support".into() })), "denied");
        assert_eq!(audit_result(&Err(Error::Usage("bad".into()))), "failed: bad");
    }
}
