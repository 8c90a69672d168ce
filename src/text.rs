//! Text from outside made safe to show: the one sanitiser every value that came from someone
//! else passes before it reaches a terminal, a prompt or a page (player names and nicks, model
//! answers and rationales, hints, manifest fields of a replay, values quoted in errors).
//!
//! A terminal obeys the characters it is sent: an escape sequence can retitle or clear it, a
//! bidirectional override reorders what follows, and invisible characters (zero-width spaces,
//! soft hyphens, Unicode tag characters) carry text a person cannot see but a model reads. So:
//! - control characters (Unicode category Cc, escape sequences and line breaks) and line or
//!   paragraph separators (Zl, Zp) become spaces (line breaks are kept where the text is shown
//!   as lines), so what they hid becomes visible text;
//! - format characters (Cf: bidirectional controls, zero-width characters, soft hyphens, tag
//!   characters, ...) are removed: they are invisible by definition, and removing them cannot
//!   join or reorder anything a person sees;
//! - a value longer than its place allows is cut, and the cut is said (`… (cut from N bytes)`).
//!
//! Which character is which comes from the Unicode tables (`unicode-properties`), not from
//! hand-kept ranges.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// What a character is to this sanitiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Shown as it is.
    Plain,
    /// A line break (`\n`, `\r`, line and paragraph separators, next line).
    Break,
    /// Another control character or whitespace that moves the cursor (tab, escape, bell, ...).
    Control,
    /// Invisible: a format character (category Cf).
    Format,
}

fn kind(c: char) -> Kind {
    match c {
        '\n' | '\r' | '\u{85}' => Kind::Break,
        _ => match c.general_category() {
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => Kind::Break,
            GeneralCategory::Control => Kind::Control,
            GeneralCategory::Format => Kind::Format,
            _ if c.is_whitespace() && c != ' ' => Kind::Control,
            _ => Kind::Plain,
        },
    }
}

/// Whether `c` would not be shown as itself: a control, format (Unicode category Cf, which holds
/// every bidirectional control), line or paragraph separator character.
pub fn is_hidden(c: char) -> bool {
    kind(c) != Kind::Plain
}

/// `s` cleaned as described in the module docs: on one line (every break a space, runs of
/// spaces one, trimmed), or as lines (`\n` kept, `\r\n` one break). At most `max` characters
/// are kept; whether anything was cut is returned beside.
fn scrub(s: &str, as_lines: bool, max: usize) -> (String, bool) {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)).min(1 << 16));
    let mut kept = 0usize;
    let mut pending_space = false;
    let mut prev_cr = false;
    for c in s.chars() {
        let k = kind(c);
        let was_cr = std::mem::replace(&mut prev_cr, c == '\r');
        let shown = match k {
            Kind::Format => continue,
            Kind::Break if as_lines => {
                if c == '\n' && was_cr {
                    continue;
                }
                '\n'
            }
            Kind::Break | Kind::Control => ' ',
            Kind::Plain => c,
        };
        if !as_lines {
            if shown == ' ' {
                pending_space = kept > 0;
                continue;
            }
            if pending_space {
                if kept >= max {
                    return (out, true);
                }
                out.push(' ');
                kept += 1;
                pending_space = false;
            }
        }
        if kept >= max {
            return (out, true);
        }
        out.push(shown);
        kept += 1;
    }
    (out, false)
}

fn noted(mut text: String, cut: bool, s: &str) -> String {
    if cut {
        let head = text.trim_end().len();
        text.truncate(head);
        text.push_str(&format!("… (cut from {} bytes)", s.len()));
    }
    text
}

/// `s` as one line of at most `max` characters for a table cell, a log line or a message:
/// control characters and line breaks become single spaces, format characters go, and a cut is
/// said (`… (cut from N bytes)`).
pub fn line(s: &str, max: usize) -> String {
    let (text, cut) = scrub(s, false, max);
    noted(text, cut, s)
}

/// `s` as lines (line breaks kept) of at most `max` characters in all: for long text shown whole
/// (a model's answer, an error chain). Other control characters become spaces, format characters
/// go, and a cut is said.
pub fn lines(s: &str, max: usize) -> String {
    let (text, cut) = scrub(s, true, max);
    noted(text, cut, s)
}

/// `s` on one line, cut to at most `max` characters without a note, and whether it was cut: for
/// text that is stored or sent on (a hint), where the caller says so in its own way.
pub fn line_cut(s: &str, max: usize) -> (String, bool) {
    let (text, cut) = scrub(s, false, max);
    (text.trim_end().to_string(), cut)
}

/// `s` in single quotes as a value quoted in a message: one line of at most `max` characters,
/// the cut said.
pub fn quote(s: &str, max: usize) -> String {
    format!("'{}'", line(s, max))
}

/// A whole screen of output about to be printed (a table, a report, an error): every line break
/// kept, every other control and format character removed or made a space, nothing cut. The
/// last guard at the edge; values in it should already have passed [`line`] or [`lines`].
pub fn screen(s: &str) -> String {
    scrub(s, true, usize::MAX).0
}

/// A value of a closed set (a strategy, an effort level, ...) named in outside text: a config
/// value, a flag, a replay's field. Case and surrounding spaces are ignored, as every reader of
/// these names has accepted; anything else is refused quoting the value and naming the choices.
pub fn closed_name<T>(s: &str) -> Result<T, UnknownName>
where
    T: std::str::FromStr + strum::VariantNames,
{
    s.trim().parse().map_err(|_| UnknownName {
        given: quote(s, MAX_QUOTED_NAME_CHARS),
        choices: T::VARIANTS.join(", "),
    })
}

/// Characters of a refused name quoted in its error: names are a word or two.
const MAX_QUOTED_NAME_CHARS: usize = 40;

/// A name outside its closed set ([`closed_name`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given} is not one of {choices}")]
pub struct UnknownName {
    given: String,
    choices: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_controls_cannot_reach_the_terminal() {
        let nick = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{202E}evil\u{2066}";
        let shown = line(nick, 80);
        assert_eq!(shown, "]0;PWNED [2Jevil");
        assert!(!shown.chars().any(|c| c.is_control()));
        let shown = lines("a\r\nb\u{2028}c\u{1b}[31md\u{9b}e", 80);
        assert_eq!(shown, "a\nb\nc [31md e");
    }

    #[test]
    fn every_format_character_is_removed() {
        // Tag characters, soft hyphen, zero-width joiners, the BOM, bidi isolates and marks,
        // the Mongolian vowel separator, the interlinear annotation anchor: all category Cf.
        let mut s = String::from("Ky");
        for c in [
            '\u{AD}',
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{2067}',
            '\u{200F}',
            '\u{180E}',
            '\u{FFF9}',
            '\u{E0001}',
        ] {
            s.push(c);
        }
        s.extend((0xE0020..=0xE007F).filter_map(char::from_u32));
        s.push_str("rgyz");
        assert_eq!(line(&s, 80), "Kyrgyz");
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            if c.general_category() == GeneralCategory::Format {
                assert!(is_hidden(c), "{:X}", c as u32);
                assert_eq!(line(&format!("a{c}b"), 9), "ab", "{:X}", c as u32);
            }
        }
    }

    #[test]
    fn long_values_are_cut_with_a_note_and_plain_text_is_kept() {
        let long = "é".repeat(20_000);
        let shown = line(&long, 10);
        assert_eq!(shown, format!("{}… (cut from 40000 bytes)", "é".repeat(10)));
        assert_eq!(line("  Zürich,\t47°22′ N  ", 80), "Zürich, 47°22′ N");
        assert_eq!(line("東京 — ok", 80), "東京 — ok");
        assert_eq!(line_cut("abc def", 5), ("abc d".to_string(), true));
        assert_eq!(line_cut("abc", 5), ("abc".to_string(), false));
        assert_eq!(screen("┌─┐\n│x│\u{1b}\n"), "┌─┐\n│x│ \n");
    }
}
