//! Display names people cannot fake.
//!
//! A name is what other people read on the leaderboard, so two names must
//! never look the same, and a name must not hide or reorder text. The rule,
//! applied when a user is added:
//!
//! 1. The name is trimmed and put in Unicode normalisation form NFKC (so
//!    full-width `ａｌｉｃｅ` is `alice`, a no-break space a space).
//! 2. It is 1 to 64 characters, each printable ASCII or a character UTS #39's
//!    General Security Profile allows in identifiers: no control, format or
//!    other default-ignorable characters (zero-width spaces and joiners,
//!    bidi controls such as U+202E), no unassigned or private-use code points.
//! 3. It is written in one script (UTS #39 "single script", with Common and
//!    Inherited characters allowed beside any script and Han with kana):
//!    `pаypal` with a Cyrillic `а` is refused.
//! 4. Its confusable skeleton (UTS #39, of the lower-cased name) differs from
//!    every existing user's: `a1ice`, `ALICE` or an all-Cyrillic `аlісе` is
//!    refused once `alice` exists.
//!
//! Pages show names inside `<bdi>`, so even an allowed right-to-left name
//! cannot reorder the text around it.

use unicode_normalization::UnicodeNormalization;
use unicode_security::{GeneralSecurityProfile, MixedScript};

/// The longest name, in characters.
pub const MAX_CHARS: usize = 64;

/// The name as stored, or why it is refused.
pub fn normalise(name: &str) -> Result<String, String> {
    let name: String = name.trim().nfkc().collect();
    let name = name.trim().to_string();
    let count = name.chars().count();
    if count == 0 || count > MAX_CHARS {
        return Err(format!("a user name is 1 to {MAX_CHARS} characters"));
    }
    if let Some(c) = name.chars().find(|&c| !(c == ' ' || c.is_ascii_graphic() || c.identifier_allowed())) {
        return Err(format!(
            "a user name may not contain U+{:04X} (invisible, control, bidi or otherwise unsafe characters are refused)",
            c as u32
        ));
    }
    if !name.as_str().is_single_script() {
        return Err("a user name is written in one script (mixing scripts lets one name imitate another)".into());
    }
    Ok(name)
}

/// What a name looks like: two names with the same skeleton are confusable.
pub fn skeleton(name: &str) -> String {
    unicode_security::skeleton(&name.to_lowercase()).collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_invisible_bidi_and_mixed_script_names_refused() {
        assert_eq!(normalise("  ａｌｉｃｅ ").unwrap(), "alice");
        assert_eq!(normalise("<script>alert(1)</script>").unwrap(), "<script>alert(1)</script>");
        assert_eq!(normalise("Жанна").unwrap(), "Жанна");
        assert_eq!(normalise("山田たろう").unwrap(), "山田たろう");
        for bad in ["alice\u{200b}", "ali\u{202e}ecila", "a\u{2066}b", "\u{feff}x", "x\u{e000}", "bob\u{7}", ""] {
            assert!(normalise(bad).is_err(), "{bad:?} was accepted");
        }
        // A Cyrillic а (U+0430) among Latin letters.
        assert!(normalise("p\u{430}ypal").unwrap_err().contains("one script"));
        assert!(normalise(&"x".repeat(65)).is_err());
    }

    #[test]
    fn confusable_names_share_a_skeleton() {
        let alice = skeleton("alice");
        for twin in ["ALICE", "a1ice", "\u{430}l\u{456}c\u{435}", "alıce"] {
            assert_eq!(skeleton(twin), alice, "{twin:?}");
        }
        assert_ne!(skeleton("alicia"), alice);
        // A whole-script confusable: all Cyrillic, so one script, yet `scope`.
        let cyrillic = "\u{455}\u{441}\u{43e}\u{440}\u{435}";
        assert_eq!(normalise(cyrillic).unwrap(), cyrillic);
        assert_eq!(skeleton(cyrillic), skeleton("scope"));
    }
}
