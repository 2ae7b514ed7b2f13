//! Text helpers every layer that shows a program's output needs.

/// The last `n` characters of `s` (all of it when shorter), cut on a
/// character boundary: output tails in verdicts, prompts and error messages.
pub fn tail_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    if count <= n {
        return s;
    }
    let skip = s.char_indices().nth(count - n).map_or(s.len(), |(i, _)| i);
    &s[skip..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_characters_on_a_boundary() {
        assert_eq!(tail_chars("short", 10), "short");
        assert_eq!(tail_chars("abcdef", 3), "def");
        assert_eq!(tail_chars("ééééé", 2), "éé");
        assert_eq!(tail_chars("abc", 0), "");
    }
}
