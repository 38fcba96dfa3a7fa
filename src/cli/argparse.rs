//! The reference CLI's Python argparse interface, for the commands that keep it
//! (`cyberx-xsense-capture-filter`): its usage line, its `-h` text, and its rules and error
//! messages — `-x VALUE`, `--long VALUE` or `--long=VALUE`, unique prefixes of long options,
//! the last of repeated options wins, `--` ends the options, `-h` prints the help at once,
//! `PROG: error: …` for everything wrong.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use crate::validate::printable;

/// One option of a command.
pub struct Opt {
    /// The short form (`-i`, or argparse's several-letter `-etp`).
    pub short: &'static str,
    /// The long form (`--include`).
    pub long: &'static str,
    /// The value's name in the usage (`INCLUDE`), or `None` for a switch.
    pub metavar: Option<&'static str>,
    /// Whether it must be given.
    pub required: bool,
    /// Its line of help.
    pub help: &'static str,
}

/// What was given, by long name; a switch's value is empty.
pub struct Parsed<'a> {
    values: Vec<(&'static str, &'a str)>,
}

impl<'a> Parsed<'a> {
    /// The value of `long` (the last one given).
    pub fn value(&self, long: &str) -> Option<&'a str> {
        self.values.iter().rev().find(|(name, _)| *name == long).map(|(_, value)| *value)
    }

    /// Whether the switch `long` was given.
    pub fn switch(&self, long: &str) -> bool {
        self.values.iter().any(|(name, _)| *name == long)
    }
}

/// argparse's usage line for `prog` and `options`.
pub fn usage(prog: &str, options: &[Opt]) -> String {
    let mut parts = vec!["[-h]".to_string()];
    for opt in options {
        let text = match opt.metavar {
            Some(metavar) => format!("{} {metavar}", opt.short),
            None => opt.short.to_string(),
        };
        parts.push(if opt.required { text } else { format!("[{text}]") });
    }
    // One line, as the reference prints `cyberx-xsense-limit-interface`'s (88 columns): an
    // error is then the usage and one `error:` line, however many options the command has.
    format!("usage: {prog} {}", parts.join(" "))
}

/// The `-h` text: usage, a blank line, the options with their help.
pub fn help(prog: &str, options: &[Opt]) -> String {
    let mut text = format!(
        "{}\n\noptional arguments:\n  -h, --help            show this help message and exit\n",
        usage(prog, options)
    );
    for opt in options {
        let names = match opt.metavar {
            Some(metavar) => format!("{} {metavar}, {} {metavar}", opt.short, opt.long),
            None => format!("{}, {}", opt.short, opt.long),
        };
        if names.len() <= 20 {
            text.push_str(&format!("  {names:<22}{}\n", opt.help));
        } else {
            text.push_str(&format!("  {names}\n                        {}\n", opt.help));
        }
    }
    text
}

/// Parses `args` against `options` as argparse would; the error is argh's shape carrying
/// argparse's two lines (usage and `PROG: error: …`), or the help (exit 0).
pub fn parse<'a>(prog: &str, options: &'static [Opt], args: &[&'a str]) -> Result<Parsed<'a>, argh::EarlyExit> {
    let error = |message: String| argh::EarlyExit {
        output: format!("{}\n{prog}: error: {message}\n", usage(prog, options)),
        status: Err(()),
    };
    let find = |word: &str| -> Result<Option<&'static Opt>, argh::EarlyExit> {
        if let Some(opt) = options.iter().find(|o| o.short == word || o.long == word) {
            return Ok(Some(opt));
        }
        if word.starts_with("--") && word.len() > 2 {
            let matches: Vec<&'static Opt> = options.iter().filter(|o| o.long.starts_with(word)).collect();
            return match matches.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                many => Err(error(format!(
                    "ambiguous option: {} could match {}",
                    printable(word),
                    many.iter().map(|o| o.long).collect::<Vec<_>>().join(", ")
                ))),
            };
        }
        Ok(None)
    };
    let shown = |opt: &Opt| format!("{}/{}", opt.short, opt.long);
    let mut values: Vec<(&'static str, &'a str)> = Vec::new();
    let mut extras: Vec<&str> = Vec::new();
    let mut at = 0;
    while let Some(&arg) = args.get(at) {
        at += 1;
        if arg == "--" {
            extras.extend_from_slice(&args[at..]);
            break;
        }
        if arg == "-h" || (arg.starts_with("--h") && "--help".starts_with(arg)) {
            return Err(argh::EarlyExit { output: help(prog, options), status: Ok(()) });
        }
        if !arg.starts_with('-') || arg == "-" {
            extras.push(arg);
            continue;
        }
        let (word, explicit) = match arg.split_once('=') {
            Some((word, value)) if word.starts_with("--") => (word, Some(value)),
            _ => (arg, None),
        };
        let Some(opt) = find(word)? else {
            extras.push(arg);
            continue;
        };
        match (opt.metavar, explicit) {
            (None, Some(value)) => {
                return Err(error(format!("argument {}: ignored explicit argument '{}'", shown(opt), printable(value))))
            }
            (None, None) => values.push((opt.long, "")),
            (Some(_), Some(value)) => values.push((opt.long, value)),
            (Some(_), None) => match args.get(at) {
                Some(&next) if next != "--" && (!next.starts_with('-') || next == "-") => {
                    at += 1;
                    values.push((opt.long, next));
                }
                _ => return Err(error(format!("argument {}: expected one argument", shown(opt)))),
            },
        }
    }
    let missing: Vec<String> =
        options.iter().filter(|o| o.required && !values.iter().any(|(n, _)| *n == o.long)).map(shown).collect();
    if !missing.is_empty() {
        return Err(error(format!("the following arguments are required: {}", missing.join(", "))));
    }
    if !extras.is_empty() {
        return Err(error(format!("unrecognized arguments: {}", printable(&extras.join(" ")))));
    }
    Ok(Parsed { values })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[Opt] = &[
        Opt { short: "-i", long: "--include", metavar: Some("INCLUDE"), required: false, help: "include file" },
        Opt {
            short: "-etp",
            long: "--exclude-tcp-port",
            metavar: Some("EXCLUDE_TCP_PORT"),
            required: false,
            help: "ports",
        },
        Opt { short: "-p", long: "--program", metavar: Some("PROGRAM"), required: true, help: "program" },
        Opt { short: "-S", long: "--from-shell", metavar: None, required: false, help: "from the shell" },
    ];

    fn error(args: &[&str]) -> String {
        let Err(early) = parse("prog", OPTIONS, args) else { panic!("{args:?} parsed") };
        assert!(early.status.is_err());
        early.output.lines().nth(1).unwrap_or_default().to_string()
    }

    #[test]
    fn values_come_in_every_form_argparse_takes() {
        let parsed =
            parse("prog", OPTIONS, &["-p", "all", "--include=a", "-etp", "502", "--from", "--prog", "horizon"])
                .unwrap();
        assert_eq!(parsed.value("--program"), Some("horizon"), "the last one wins");
        assert_eq!(parsed.value("--include"), Some("a"));
        assert_eq!(parsed.value("--exclude-tcp-port"), Some("502"));
        assert!(parsed.switch("--from-shell"));
        assert!(!parse("prog", OPTIONS, &["-p", "all"]).unwrap().switch("--from-shell"));
    }

    #[test]
    fn errors_are_argparses() {
        assert_eq!(error(&[]), "prog: error: the following arguments are required: -p/--program");
        assert_eq!(error(&["-p"]), "prog: error: argument -p/--program: expected one argument");
        assert_eq!(error(&["-p", "all", "x"]), "prog: error: unrecognized arguments: x");
        assert_eq!(error(&["-p", "all", "-S=1"]), "prog: error: unrecognized arguments: -S=1");
        assert_eq!(
            error(&["-p", "all", "--from-shell=1"]),
            "prog: error: argument -S/--from-shell: ignored explicit argument '1'"
        );
        assert_eq!(error(&["-p", "all", "--x"]), "prog: error: unrecognized arguments: --x");
        let Err(help) = parse("prog", OPTIONS, &["-p", "all", "-h"]) else { panic!() };
        assert!(help.status.is_ok() && help.output.starts_with("usage: prog [-h] [-i INCLUDE]"), "{}", help.output);
    }
}
