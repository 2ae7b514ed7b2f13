//! Reading a contest program's output: whitespace-separated tokens that know
//! their line, so a scorer's reason can name the first offending line and value.

use std::ops::RangeInclusive;
use std::str::FromStr;

/// One token and the 1-based line it is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub line: usize,
}

/// The tokens of a text, in order, with their line numbers.
pub struct Tokens<'a> {
    tokens: Vec<Token<'a>>,
    next: usize,
    last_line: usize,
}

impl<'a> Tokens<'a> {
    pub fn new(text: &'a str) -> Tokens<'a> {
        let mut tokens = Vec::new();
        let mut last_line = 0;
        for (i, line) in text.lines().enumerate() {
            last_line = i + 1;
            tokens.extend(line.split_whitespace().map(|text| Token { text, line: i + 1 }));
        }
        Tokens { tokens, next: 0, last_line }
    }

    /// Whether every token has been read.
    pub fn is_empty(&self) -> bool {
        self.next >= self.tokens.len()
    }

    /// The next token, if any.
    pub fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.next).copied()
    }

    /// The next token as a `T` in `range`; `what` names it in the error
    /// (`"the vertex count"`), which also says the line and the value.
    pub fn read<T>(&mut self, what: &str, range: RangeInclusive<T>) -> Result<(T, usize), String>
    where
        T: FromStr + PartialOrd + std::fmt::Display,
    {
        let Some(token) = self.tokens.get(self.next).copied() else {
            return Err(format!("line {}: the output ends where {what} was expected", self.last_line + 1));
        };
        self.next += 1;
        let value: T = token
            .text
            .parse()
            .map_err(|_| format!("line {}: {what} `{}` is not an integer", token.line, short(token.text)))?;
        if !range.contains(&value) {
            return Err(format!(
                "line {}: {what} {value} is outside [{}, {}]",
                token.line,
                range.start(),
                range.end()
            ));
        }
        Ok((value, token.line))
    }
}

/// At most 40 characters of a token, for error messages.
pub fn short(text: &str) -> String {
    if text.chars().count() <= 40 {
        text.to_string()
    } else {
        let head: String = text.chars().take(40).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_know_their_lines() {
        let mut t = Tokens::new("4\n1 2\n\n  3 x\n");
        assert_eq!(t.read::<u32>("m", 4..=10), Ok((4, 1)));
        assert_eq!(t.read::<u32>("x", 0..=9), Ok((1, 2)));
        assert_eq!(t.read::<u32>("y", 0..=1), Err("line 2: y 2 is outside [0, 1]".into()));
        assert_eq!(t.read::<u32>("x", 0..=9), Ok((3, 4)));
        assert_eq!(t.read::<u32>("y", 0..=9), Err("line 4: y `x` is not an integer".into()));
        assert_eq!(t.read::<u32>("z", 0..=9), Err("line 5: the output ends where z was expected".into()));
    }
}
