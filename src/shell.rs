//! `shell`: the restricted login shell of the appliance users (the support user's login shell).
//!
//! It runs sensorctl commands and nothing else. A line is split into words on blanks, with
//! single and double quotes only: no variables, globs, pipes, redirections, `;`, backticks or
//! `$()` — those are plain characters in a word, so `date; reboot` is the command `date;` (which
//! does not exist). Lines with control characters or invalid UTF-8 are rejected whole, and a
//! line longer than [`MAX_LINE`] is discarded. Only the commands the caller's role may run are
//! shown and run; each goes through the same parse → authorize → act pipeline as argv.
//!
//! Typing a category alone (`system`) enters a `system>` sub-prompt where its commands are typed
//! without the category; `exit` or `..` leaves it, `logout` (or `exit` at the top) ends the
//! session, as do end of input and [the idle timeout](crate::config::Config::shell_idle_timeout).
//! Works on a tty and with a pipe on stdin (serial consoles, tests).
//!
//! Needs no privileges of its own; each command needs what it needs.
#![forbid(unsafe_code)]

use crate::action::exec::{self, NoStateLock, Place};
use crate::action::permits;
use crate::cli::{self, Lookup, NoAction, COMMANDS};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::outcome::Status;
use crate::prompt::{check_line, Input, Terminal, MAX_LINE};
use std::io::{self, Write};
use std::time::Duration;

/// Runs the interactive session on standard input until logout, end of input or idle timeout.
/// Ctrl-C (SIGINT, caught by the front end for this process) cancels the running command, or
/// drops the line being typed, and the session goes on.
pub fn run(ctx: &Context, idle_override_s: Option<u64>, out: &mut dyn Write) -> Result<Status> {
    let configured = match ctx.config() {
        Ok(config) => config.shell_idle_timeout(),
        Err(err) => {
            // A damaged config must not lock the operator out of the console that can fix it.
            log::warn!("{err}; using the default idle timeout");
            Duration::from_secs(crate::config::DEFAULT_SHELL_IDLE_TIMEOUT_S)
        }
    };
    let idle = idle_override_s.map_or(configured, |s| configured.min(Duration::from_secs(s)));
    let mut terminal = Terminal::stdin(idle)?;
    let mut session = Session { ctx, category: None, prompt_base: prompt_base(ctx) };
    // On a terminal that can take it, lines are edited; otherwise read as they come.
    let mut editor = crate::lineedit::usable(&terminal).then(crate::lineedit::Editor::default);
    loop {
        ctx.cancel.reset();
        let input = match editor.as_mut() {
            Some(editor) => {
                out.flush().map_err(|e| Error::io("write", "standard output", e))?;
                editor.read_line(&mut terminal, &session.prompt_text(), &Completion { session: &session })
            }
            None => {
                session.prompt(out)?;
                terminal.next_line()
            }
        };
        let line = match input.map_err(|e| Error::io("read", "standard input", e))? {
            Input::Line(bytes) => bytes,
            Input::Interrupted => {
                // Ctrl-C at the prompt: the line is dropped, a fresh prompt follows.
                writeln_out(out, "")?;
                continue;
            }
            Input::TooLong => {
                complain(&format!("line too long (limit {MAX_LINE} bytes); ignored"));
                continue;
            }
            Input::End => {
                writeln_out(out, "")?;
                return Ok(Status::Ok);
            }
            Input::Idle => {
                writeln_out(out, "")?;
                writeln_out(out, &format!("idle for {} seconds: logged out", idle.as_secs()))?;
                return Ok(Status::Ok);
            }
        };
        let words = match check_line(&line).and_then(split_words) {
            Ok(words) => words,
            Err(why) => {
                complain(&why);
                continue;
            }
        };
        if session.handle(&words, &mut terminal, out)? == Flow::Logout {
            return Ok(Status::Ok);
        }
    }
}

fn prompt_base(ctx: &Context) -> String {
    // The host name is the kernel's (sethostname takes any bytes): escaped as every system text is.
    format!("{}@{}:", ctx.caller.user_name(), crate::validate::system_text(crate::sys::uname::hostname().as_bytes()))
}

#[derive(Debug, PartialEq)]
enum Flow {
    Continue,
    Logout,
}

struct Session<'a> {
    ctx: &'a Context,
    category: Option<&'static str>,
    prompt_base: String,
}

impl Session<'_> {
    fn prompt_text(&self) -> String {
        match self.category {
            Some(category) => format!("{category}> "),
            None => format!("{} ", self.prompt_base),
        }
    }

    fn prompt(&self, out: &mut dyn Write) -> Result<()> {
        let text = self.prompt_text();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| Error::io("write", "standard output", e))
    }

    fn visible(&self, cmd: &cli::Command) -> bool {
        permits(self.ctx.caller.role, cmd.kind) && cmd.kind.in_shell()
    }

    fn visible_in(&self, category: &str) -> Vec<&'static cli::Command> {
        COMMANDS
            .iter()
            .filter(|cmd| cmd.path.len() > 1 && cmd.path[0] == category && self.visible(cmd))
            .collect()
    }

    fn handle(&mut self, words: &[String], terminal: &mut Terminal, out: &mut dyn Write) -> Result<Flow> {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        match (words.as_slice(), self.category) {
            ([], _) => return Ok(Flow::Continue),
            (["logout"], _) | (["exit"], None) => return Ok(Flow::Logout),
            (["exit" | ".."], Some(_)) => {
                self.category = None;
                return Ok(Flow::Continue);
            }
            ([".."], None) => return Ok(Flow::Continue),
            (["help"], category) => {
                self.help(category, out)?;
                return Ok(Flow::Continue);
            }
            (["help", topic], _) if cli::categories().any(|c| c == *topic) && !self.visible_in(topic).is_empty() => {
                let topic = cli::categories().find(|c| c == topic);
                self.help(topic, out)?;
                return Ok(Flow::Continue);
            }
            // Anything else is the command line's `sensorctl help WORDS`, for this caller.
            (["help", topic @ ..], _) => {
                let visible = |cmd: &cli::Command| self.visible(cmd);
                match cli::help_for(topic, &visible) {
                    Ok(lines) => lines.iter().try_for_each(|line| writeln_out(out, line))?,
                    Err(err) => {
                        cli::report("help", &err);
                    }
                }
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        // Inside a category its commands come first; full paths work everywhere.
        let mut candidates: Vec<Vec<&str>> = Vec::new();
        if let Some(category) = self.category {
            let mut full = vec![category];
            full.extend_from_slice(&words);
            candidates.push(full);
        }
        candidates.push(words.clone());
        for candidate in &candidates {
            match cli::lookup(candidate) {
                Lookup::Found(cmd, used) if self.visible(cmd) => {
                    self.execute(cmd, &candidate[used..], terminal, out)?;
                    return Ok(Flow::Continue);
                }
                // A command of the shell the role may not run goes the normal way all the same:
                // the policy check that refuses it also writes the audit line, which this
                // process (the support user's, not root) could not write itself.
                Lookup::Found(cmd, used) if cmd.kind.in_shell() => {
                    self.execute(cmd, &candidate[used..], terminal, out)?;
                    return Ok(Flow::Continue);
                }
                Lookup::Category(category) if candidate.len() == 1 && !self.visible_in(category).is_empty() => {
                    self.category = cli::categories().find(|c| *c == category);
                    return Ok(Flow::Continue);
                }
                // `system --help`, `system ntp -h`: the category's listing, as on the command line.
                Lookup::Category(_) => {
                    let depth = cli::category_depth(candidate);
                    if matches!(candidate.get(depth..), Some(&["--help" | "-h" | "help"])) {
                        let visible = |cmd: &cli::Command| self.visible(cmd);
                        if let Ok(lines) = cli::help_for(&candidate[..depth], &visible) {
                            lines.iter().try_for_each(|line| writeln_out(out, line))?;
                            return Ok(Flow::Continue);
                        }
                    }
                }
                _ => {}
            }
        }
        // Said as the command line says it, with the nearest command this caller may run.
        let visible = |cmd: &cli::Command| self.visible(cmd);
        let mut candidates: Vec<&str> = cli::help::next_words(&[], &visible).iter().map(|(w, _)| *w).collect();
        if let Some(category) = self.category {
            candidates.extend(cli::help::next_words(&[category], &visible).iter().map(|(w, _)| *w));
        }
        let word = if words.len() > 1 && cli::categories().any(|c| c == words[0]) { words[1] } else { words[0] };
        if word == words[0] {
            complain(&cli::help::unknown(&words.join(" "), &candidates));
        } else {
            let inner: Vec<&str> = cli::help::next_words(&words[..1], &visible).iter().map(|(w, _)| *w).collect();
            complain(&cli::help::unknown(word, &inner));
        }
        Ok(Flow::Continue)
    }

    fn execute(&self, cmd: &cli::Command, args: &[&str], terminal: &mut Terminal, out: &mut dyn Write) -> Result<()> {
        let name: Vec<&str> = cmd.path.to_vec();
        let command_name = name.join(" ");
        let action = match cli::parse_command(cmd, &name, args) {
            Ok(action) => action,
            Err(NoAction::Early(early)) => {
                let text = early.output.trim_end();
                if early.status.is_ok() {
                    // A command's help lists the commands below it too, as on the command line.
                    let visible = |cmd: &cli::Command| self.visible(cmd);
                    writeln_out(out, &cli::command_help(cmd, text, &visible))?;
                } else {
                    complain(&format!("{command_name}: {}", cli::one_line(text)));
                }
                return Ok(());
            }
            Err(NoAction::Error(err)) => {
                cli::report(&command_name, &err);
                return Ok(());
            }
        };
        // Each command sees the config as it is now, not as it was at login. It runs here for
        // root and in the daemon for everyone else; either way its questions are asked on this
        // terminal, and Ctrl-C cancels it.
        let ctx = self.ctx.refreshed();
        let result = if ctx.caller.uid == 0 {
            exec::run(&action, Place { ctx: &ctx, prompter: terminal, lock: &NoStateLock }, out)
        } else {
            crate::daemon::call(&ctx.root, &action, terminal, &ctx.cancel, out)
        };
        if let Err(err) = result {
            // A closed terminal ends the session; anything else is reported and the shell goes on.
            if let Error::Io { source, .. } = &err {
                if source.kind() == io::ErrorKind::BrokenPipe {
                    return Err(err);
                }
            }
            cli::report(&command_name, &err);
        }
        Ok(())
    }

    fn help(&self, category: Option<&str>, out: &mut dyn Write) -> Result<()> {
        let mut lines = Vec::new();
        match category {
            Some(category) => {
                // The command line's listing (`sensorctl help system`), then the shell's own.
                let visible = |cmd: &cli::Command| self.visible(cmd);
                lines.extend(cli::help::listing(&format!("{category} commands:"), &cli::help::next_words(&[category], &visible)));
                // The shell's own words, set apart from the command line's listing.
                lines.push(String::new());
                if self.category == Some(category) {
                    lines.push("  .., exit               leave this category".to_string());
                }
                lines.push("  help [category]        this list".to_string());
                lines.push("  logout                 end the session".to_string());
            }
            None => {
                lines.push("Commands:".to_string());
                for cmd in COMMANDS.iter().filter(|cmd| cmd.path.len() == 1 && self.visible(cmd)) {
                    lines.push(format!("  {:<22} {}", cmd.path[0], cmd.summary));
                }
                for category in cli::categories() {
                    let count = self.visible_in(category).len();
                    if count > 0 {
                        let noun = if count == 1 { "command" } else { "commands" };
                        lines.push(format!("  {category:<22} {count} {noun} (type '{category}' or 'help {category}')"));
                    }
                }
                lines.push("  help [category]        this list".to_string());
                lines.push("  exit, logout           end the session".to_string());
            }
        }
        for line in lines {
            writeln_out(out, &line)?;
        }
        Ok(())
    }
}

/// Tab and `?` in the shell: the commands this caller may run, their options, and the values
/// the system knows (interface names, appliance users, backups).
struct Completion<'a> {
    session: &'a Session<'a>,
}

impl crate::lineedit::Completer for Completion<'_> {
    fn candidates(&self, words: &[String], partial: &str) -> Vec<(String, String)> {
        let session = self.session;
        let visible = |cmd: &cli::Command| session.visible(cmd);
        let mut path: Vec<&str> = session.category.into_iter().collect();
        path.extend(words.iter().map(String::as_str));
        let mut found: Vec<(String, String)> = Vec::new();
        // The words so far may name a command; then its options and values come next.
        let command = match cli::lookup(&path) {
            cli::Lookup::Found(cmd, used) if visible(cmd) => Some((cmd, &path[used..])),
            _ => None,
        };
        match command {
            Some((cmd, args)) => {
                let previous = args.last().copied().unwrap_or("");
                found.extend(values(session.ctx, cmd.kind, previous));
                if !previous.starts_with('-') || values(session.ctx, cmd.kind, previous).is_empty() {
                    found.extend(cli::help::options(cmd));
                }
                // The commands under a command path that is also a category's (`system backup`).
                if args.is_empty() {
                    found.extend(cli::help::next_words(cmd.path, &visible).into_iter().map(|(w, d)| (w.to_string(), d)));
                }
            }
            None => {
                found.extend(cli::help::next_words(&path, &visible).into_iter().map(|(w, d)| (w.to_string(), d)));
                if words.is_empty() {
                    if session.category.is_none() {
                        // Inside a category its commands come first, but full paths work too.
                        found.extend(
                            [("help", "list the commands"), ("logout", "end the session"), ("exit", "end the session")]
                                .map(|(w, d)| (w.to_string(), d.to_string())),
                        );
                    } else {
                        found.extend([("..", "leave this category"), ("exit", "leave this category")].map(|(w, d)| (w.to_string(), d.to_string())));
                    }
                }
            }
        }
        found.retain(|(name, _)| name.starts_with(partial));
        found
    }
}

/// Values the system knows for the word after `previous` in a command of `kind`.
fn values(ctx: &Context, kind: crate::action::ActionKind, previous: &str) -> Vec<(String, String)> {
    use crate::action::ActionKind as A;
    let interfaces = || -> Vec<(String, String)> {
        let Ok(mut socket) = crate::sys::netlink::RouteSocket::open() else { return Vec::new() };
        let links = socket.links().unwrap_or_default();
        links.iter().map(|link| (crate::validate::system_text(&link.name), "interface".to_string())).collect()
    };
    match (kind, previous) {
        (A::NetworkBlink, p) if !p.starts_with('-') => interfaces(),
        (A::NetworkLoad | A::NetworkLimit | A::NetworkReconfigure, "--interface") => interfaces(),
        (A::NetworkReconfigure, "--erspan") => interfaces(),
        (A::PasswordReset, p) if !p.starts_with('-') => {
            let passwd = std::fs::read_to_string(ctx.root.resolve(crate::paths::PASSWD_FILE)).unwrap_or_default();
            let Ok(board) = ctx.board() else { return Vec::new() };
            passwd
                .lines()
                .filter_map(|line| line.split(':').next())
                .filter_map(|user| crate::validate::UserName::parse(user).ok())
                .filter(|user| {
                    matches!(crate::role::role_of(&board.roles, user), crate::role::Role::Support | crate::role::Role::Cyberx | crate::role::Role::CyberxHost)
                })
                .map(|user| (user.to_string(), "appliance user".to_string()))
                .collect()
        }
        // `system backup export NAME`: the name is the first word after the command.
        (A::BackupRestore, "-f" | "--file") | (A::BackupExport, "") => {
            let Ok(settings) = crate::backup::Settings::of(ctx) else { return Vec::new() };
            crate::backup::list_backups(&settings.dir)
                .unwrap_or_default()
                .iter()
                .filter_map(|backup| backup.path.file_name().map(|name| (name.to_string_lossy().into_owned(), "backup".to_string())))
                .collect()
        }
        _ => Vec::new(),
    }
}

fn writeln_out(out: &mut dyn Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").map_err(|e| Error::io("write", "standard output", e))
}

fn complain(message: &str) {
    let _ = writeln!(io::stderr(), "sensorctl: shell: {message}");
}

/// Splits a line into words on blanks; single and double quotes group, and are removed.
/// Nothing else is special.
pub fn split_words(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ' | '\t') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote; ignored".to_string());
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_blanks_with_quotes_and_nothing_else() {
        assert_eq!(split_words("  system   version ").unwrap(), ["system", "version"]);
        assert_eq!(split_words("a 'b c' \"d e\"").unwrap(), ["a", "b c", "d e"]);
        assert_eq!(split_words("x'y z'w").unwrap(), ["xy zw"]);
        assert_eq!(split_words("''").unwrap(), [""]);
        assert_eq!(split_words("date; reboot").unwrap(), ["date;", "reboot"]);
        assert_eq!(split_words("$(id) `id` $HOME * | > <").unwrap(), ["$(id)", "`id`", "$HOME", "*", "|", ">", "<"]);
        assert_eq!(split_words("a\\ b").unwrap(), ["a\\", "b"]);
        assert!(split_words("echo 'open").is_err());
        assert!(split_words("\"").is_err());
    }

}
