//! Help that is everywhere and the same: `sensorctl help [CATEGORY|COMMAND]`, `-h`/`--help` on
//! every category and command, the restricted shell's `help` and `?`, and "did you mean" for a
//! mistyped word — one set of texts for the command line and the shell.
//!
//! Pure; needs no privileges.
#![forbid(unsafe_code)]

use super::{Command, COMMANDS};

/// The words that may follow `prefix` (empty: the top level), each with its one-line summary,
/// among the commands `visible` lets through: the next word of every longer command path, a
/// command's own summary where the path ends there, else "N commands".
pub fn next_words(prefix: &[&str], visible: &dyn Fn(&Command) -> bool) -> Vec<(&'static str, String)> {
    let mut words: Vec<(&'static str, String)> = Vec::new();
    for cmd in COMMANDS.iter().filter(|cmd| visible(cmd)) {
        if cmd.path.len() <= prefix.len() || cmd.path[..prefix.len()] != *prefix {
            continue;
        }
        let word = cmd.path[prefix.len()];
        let ends_here = cmd.path.len() == prefix.len() + 1;
        match words.iter_mut().find(|(w, _)| *w == word) {
            Some((_, summary)) if ends_here => *summary = cmd.summary.to_string(),
            Some(_) => {}
            None if ends_here => words.push((word, cmd.summary.to_string())),
            None => words.push((word, String::new())),
        }
    }
    for (word, summary) in &mut words {
        if summary.is_empty() {
            let mut path = prefix.to_vec();
            path.push(word);
            let count = COMMANDS.iter().filter(|c| visible(c) && c.path.len() > path.len() && c.path[..path.len()] == *path).count();
            *summary = format!("{count} {}", if count == 1 { "command" } else { "commands" });
        }
    }
    words
}

/// A command's options, from its own help text: each name (`--seconds`, or `-c` beside
/// `--count`) with its first line of description. `--help` is left out.
pub fn options(cmd: &Command) -> Vec<(String, String)> {
    let mut name = vec!["sensorctl"];
    name.extend_from_slice(cmd.path);
    let Err(early) = (cmd.parse)(&name, &["--help"]) else { return Vec::new() };
    let mut found = Vec::new();
    let mut in_options = false;
    for line in early.output.lines() {
        if line.starts_with("Options:") || line.starts_with("options:") {
            in_options = true;
            continue;
        }
        let trimmed = line.trim_start();
        if !in_options || !trimmed.starts_with('-') {
            continue;
        }
        let (names, description) = trimmed.split_once("  ").unwrap_or((trimmed, ""));
        for option in names.split(',').map(str::trim).filter(|n| n.starts_with('-')) {
            let option = option.split_whitespace().next().unwrap_or(option);
            if option != "--help" && option != "-h" {
                found.push((option.to_string(), description.trim().to_string()));
            }
        }
    }
    found
}

/// The lines listing `words` with their summaries, aligned.
pub fn listing(title: &str, words: &[(&str, String)]) -> Vec<String> {
    let width = words.iter().map(|(w, _)| w.len()).max().unwrap_or(0).max(12);
    let mut lines = vec![title.to_string()];
    lines.extend(words.iter().map(|(word, summary)| format!("  {word:<width$}  {summary}")));
    lines
}

/// The closest of `candidates` to `word` (at most a third of its letters apart, and two at
/// most): what an operator who mistyped it most likely meant.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 2);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The message for a word that names nothing after `prefix`.
pub fn unknown(word: &str, candidates: &[&str]) -> String {
    let shown = crate::validate::printable(word);
    match did_you_mean(word, candidates.iter().copied()) {
        Some(meant) => format!("unknown command '{shown}'; did you mean '{meant}'?"),
        None => format!("unknown command '{shown}' (see sensorctl help)"),
    }
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_word_gets_its_closest_neighbour_and_nonsense_gets_none() {
        assert_eq!(edit_distance("versoin", "version"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(did_you_mean("versoin", ["version", "date", "sanity"]), Some("version"));
        assert_eq!(did_you_mean("systm", ["system", "network"]), Some("system"));
        assert_eq!(did_you_mean("xyzzy", ["system", "network"]), None);
        assert_eq!(did_you_mean("re", ["reboot"]), None, "a short word is not stretched far");
        assert_eq!(unknown("versoin", &["version"]), "unknown command 'versoin'; did you mean 'version'?");
    }

    #[test]
    fn next_words_list_categories_and_commands_once_with_summaries() {
        let all = |_: &Command| true;
        let top = next_words(&[], &all);
        let system = top.iter().find(|(w, _)| *w == "system").unwrap();
        assert!(system.1.ends_with("commands"), "{system:?}");
        assert_eq!(top.iter().filter(|(w, _)| *w == "system").count(), 1);
        let backup = next_words(&["system", "backup"], &all);
        let words: Vec<&str> = backup.iter().map(|(w, _)| *w).collect();
        assert!(words.contains(&"create") && words.contains(&"list") && words.contains(&"space"), "{words:?}");
        assert!(next_words(&["system", "version"], &all).is_empty());
    }
}
