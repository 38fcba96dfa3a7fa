//! What every action runs against: the root prefix, the caller and their role, and (loaded only
//! when an action needs them) the config and the board.
//!
//! Loading is lazy so that `date` or `system version` still work on a recovery console whose
//! config file is damaged; an action that needs the config gets the config's error.
//!
//! Reads `<root>/etc/passwd`, the config and the board file; needs no privileges.
#![forbid(unsafe_code)]

use crate::board::{Board, DEFAULT_BOARD};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::paths::{RootDir, PASSWD_FILE};
use crate::role::{Caller, Role};
use std::cell::OnceCell;

/// The environment of one command.
pub struct Context {
    /// Every file path resolves under this.
    pub root: RootDir,
    /// Who runs the command, and as which role.
    pub caller: Caller,
    /// Cancels the work of this command (Ctrl-C, or a caller of the daemon that went away).
    pub cancel: crate::cancel::Cancel,
    board_spec: Option<String>,
    config: OnceCell<Config>,
    board: OnceCell<Board>,
}

/// The gid a caller without a primary group gets for [`Context::open_as_caller`] (Debian's
/// `nogroup`, the kernel's overflow gid).
const NOGROUP: u32 = 65_534;

impl Context {
    /// Runs `open` with the caller's file-system permissions: when this process serves another
    /// user (the daemon, root, for a caller's request), the opening thread takes the caller's
    /// uid and primary gid for its permission checks, so a path names only what the caller could
    /// open itself. In-process (the caller is this process's user) it simply runs.
    pub fn open_as_caller<T>(&self, open: impl FnOnce() -> T) -> T {
        let serving_another = crate::sys::ids::real_uid() == 0 && self.caller.uid != 0;
        if serving_another {
            // A uid without a passwd entry has no role, so never gets here; nogroup otherwise.
            crate::sys::ids::with_fs_ids(self.caller.uid, self.caller.gid.unwrap_or(NOGROUP), open)
        } else {
            open()
        }
    }

    /// Establishes the caller from the kernel's real uid and the passwd file under `root`.
    ///
    /// `board_spec` is `--board` (else the config's board, else the embedded default);
    /// `role` is `--role`, which may only lower privilege.
    pub fn establish(root: RootDir, board_spec: Option<String>, role: Option<Role>) -> Result<Context> {
        let uid = crate::sys::ids::real_uid();
        Context::for_uid(root, board_spec, role, uid)
    }

    /// [`Context::establish`] for a given uid (tests, and the daemon for its peers).
    pub fn for_uid(root: RootDir, board_spec: Option<String>, role: Option<Role>, uid: u32) -> Result<Context> {
        let mut ctx = Context {
            caller: Caller::identify(0, None, &[]),
            cancel: crate::cancel::Cancel::new(),
            root,
            board_spec,
            config: OnceCell::new(),
            board: OnceCell::new(),
        };
        let passwd_path = ctx.root.resolve(PASSWD_FILE);
        let passwd = match std::fs::read_to_string(&passwd_path) {
            Ok(text) => Some(text),
            // Root must keep working on an image whose passwd is gone; others cannot be named.
            Err(_) if uid == 0 => None,
            Err(err) => return Err(Error::io("read", &passwd_path, err)),
        };
        ctx.caller = if uid == 0 {
            Caller::identify(0, passwd.as_deref(), &[])
        } else {
            Caller::identify(uid, passwd.as_deref(), &ctx.board()?.roles)
        };
        if let Some(wanted) = role {
            ctx.caller = ctx.caller.clone().act_as(wanted)?;
        }
        Ok(ctx)
    }

    /// The same caller, root and board choice, with the config and board read afresh: for a
    /// long-lived session (the restricted shell) whose commands may change the config.
    pub fn refreshed(&self) -> Context {
        Context {
            root: self.root.clone(),
            caller: self.caller.clone(),
            cancel: self.cancel.clone(),
            board_spec: self.board_spec.clone(),
            config: OnceCell::new(),
            board: OnceCell::new(),
        }
    }

    /// The same context with `cancel` as its cancellation token.
    pub fn with_cancel(mut self, cancel: crate::cancel::Cancel) -> Context {
        self.cancel = cancel;
        self
    }

    /// The board as it was asked for (`--board`), if it was: the daemon hands it on to the
    /// contexts of its requests.
    pub fn board_spec(&self) -> Option<&str> {
        self.board_spec.as_deref()
    }

    /// The config (defaults when there is no file).
    pub fn config(&self) -> Result<&Config> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let loaded = Config::load(&self.root)?;
        Ok(self.config.get_or_init(|| loaded))
    }

    /// The board: `--board`, else the config's, else the embedded default.
    pub fn board(&self) -> Result<&Board> {
        if let Some(board) = self.board.get() {
            return Ok(board);
        }
        let spec = match &self.board_spec {
            Some(spec) => spec.clone(),
            None => self.config()?.board.clone().unwrap_or_else(|| DEFAULT_BOARD.to_string()),
        };
        let loaded = Board::load(&spec, &self.root)?;
        Ok(self.board.get_or_init(|| loaded))
    }
}
