//! The restricted shell's line check (src/prompt.rs) and word splitter (src/shell.rs): every byte a login
//! shell user types reaches these two.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sensorctl::prompt::check_line;
use sensorctl::shell::split_words;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = check_line(data) else { return };
    assert!(!line.chars().any(|c| c.is_control() && c != '\t'));
    if let Ok(words) = split_words(line) {
        // Words never hold a blank that was not quoted, nor are they empty unless quoted.
        let quoted = line.contains(['\'', '"']);
        for word in &words {
            assert!(quoted || (!word.is_empty() && !word.contains([' ', '\t'])), "{line:?} -> {words:?}");
        }
        // Splitting never makes text up: the words' bytes all come from the line.
        let total: usize = words.iter().map(String::len).sum();
        assert!(total <= line.len());
    }
});
