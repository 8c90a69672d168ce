//! What the user asks to play on geoguessr.com, read once at the edge: a link or a bare token
//! becomes a [`Target`] holding a [`Token`], a type that can only hold what the site writes as
//! a token. Every token that reaches a URL path went through [`Token::parse`], whether it came
//! from the command line, a session's `geoguessr.json` or a game state, so none can be a dot
//! segment, carry a slash or a query, or fill a message with a megabyte of text.

use super::{SiteError, FAIR_PLAY};
use serde::{Deserialize, Serialize};

/// Longest token accepted: the site's game tokens have 16 characters and challenge tokens
/// about as many; map ids are 24 hex digits or a short slug.
const MAX_TOKEN_CHARS: usize = 64;
/// Characters of a refused value quoted in an error (the rest is counted, not shown).
const MAX_QUOTED_CHARS: usize = 24;

/// A game token, challenge token or map id of the site: 1 to 64 ASCII letters, digits, `-` or
/// `_`. One path segment, always.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Checks `value` as the site writes tokens; the error quotes at most a few characters of it.
    pub fn parse(value: &str) -> Result<Token, SiteError> {
        let ok = !value.is_empty()
            && value.len() <= MAX_TOKEN_CHARS
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(Token(value.to_string()))
        } else {
            Err(SiteError::Config(format!(
                "{} is not a GeoGuessr token (1 to {MAX_TOKEN_CHARS} letters, digits, '-' or '_')",
                quoted(value)
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Token, D::Error> {
        let s = String::deserialize(d)?;
        Token::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `value` for an error message: escaped (no control character reaches a terminal) and cut,
/// with the length of what was cut.
pub(crate) fn quoted(value: &str) -> String {
    crate::text::quote(value, MAX_QUOTED_CHARS)
}

/// What a geoguessr.com URL or token asks to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/challenge/{token}`.
    Challenge(Token),
    /// `/game/{token}`: continue a classic game of this account.
    Game(Token),
}

/// Path words of modes played against people.
const REFUSED_PATHS: &[&str] = &[
    "duels",
    "duel",
    "team-duels",
    "battle-royale",
    "battleroyale",
    "party",
    "lobby",
    "competitive",
    "ranked",
    "multiplayer",
    "matchmaking",
    "live-challenge",
    "bullseye",
    "quiz",
    "tournaments",
];

/// Reads a challenge or game link (or a bare challenge token). Multiplayer links are refused
/// with [`FAIR_PLAY`].
pub fn parse_target(input: &str) -> Result<Target, SiteError> {
    let s = input.trim();
    let refused = || SiteError::Refused(format!("{}: {FAIR_PLAY}", quoted(s)));
    if !s.contains('/') {
        return Token::parse(s).map(Target::Challenge);
    }
    let url = url::Url::parse(s)
        .map_err(|e| SiteError::Config(format!("{}: not a geoguessr.com link ({e})", quoted(s))))?;
    if url
        .host_str()
        .is_some_and(|h| h.starts_with("game-server."))
    {
        return Err(refused());
    }
    let parts: Vec<&str> = url
        .path_segments()
        .map(|p| p.filter(|x| !x.is_empty()).collect())
        .unwrap_or_default();
    if parts
        .iter()
        .any(|p| REFUSED_PATHS.contains(&p.to_ascii_lowercase().as_str()))
    {
        return Err(refused());
    }
    // Localised links carry a language first (`/de/challenge/...`).
    match parts.iter().position(|p| *p == "challenge" || *p == "game") {
        Some(i) if i + 1 < parts.len() => {
            let token = Token::parse(parts[i + 1])?;
            Ok(if parts[i] == "challenge" {
                Target::Challenge(token)
            } else {
                Target::Game(token)
            })
        }
        _ => Err(SiteError::Config(format!(
            "{}: expected a challenge link (https://www.geoguessr.com/challenge/TOKEN) or a game link (/game/TOKEN)",
            quoted(s)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Token {
        Token::parse(s).unwrap()
    }

    #[test]
    fn challenges_and_games_are_read_and_multiplayer_refused() {
        assert_eq!(
            parse_target("https://www.geoguessr.com/challenge/AbCd1234").unwrap(),
            Target::Challenge(t("AbCd1234"))
        );
        assert_eq!(
            parse_target("https://www.geoguessr.com/de/challenge/AbCd1234?x=1").unwrap(),
            Target::Challenge(t("AbCd1234"))
        );
        assert_eq!(
            parse_target("AbCd1234").unwrap(),
            Target::Challenge(t("AbCd1234"))
        );
        assert_eq!(
            parse_target("http://127.0.0.1:8/game/XB9wycuZvDrhl7cB").unwrap(),
            Target::Game(t("XB9wycuZvDrhl7cB"))
        );
        for bad in [
            "https://www.geoguessr.com/duels/1234-abcd",
            "https://www.geoguessr.com/team-duels/x",
            "https://www.geoguessr.com/battle-royale/x",
            "https://www.geoguessr.com/party/x",
            "https://www.geoguessr.com/competitive",
            "https://game-server.geoguessr.com/api/duels/x",
        ] {
            let e = parse_target(bad).unwrap_err();
            assert!(matches!(e, SiteError::Refused(_)), "{bad}: {e}");
            assert!(e.to_string().contains("cheating"));
        }
        assert!(parse_target("https://www.geoguessr.com/maps/world").is_err());
        assert!(parse_target("a b").is_err());
    }

    /// Issue 25 item 10: what a tampered session could hold is refused, and never echoed whole.
    #[test]
    fn tokens_are_one_short_path_segment_and_errors_stay_short() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a?b=1",
            "a%2e",
            "é",
            "a b",
            "a\u{1b}[2J",
        ] {
            assert!(Token::parse(bad).is_err(), "{bad:?}");
        }
        let huge = "A".repeat(100_000);
        let e = Token::parse(&huge).unwrap_err().to_string();
        assert!(e.len() < 200, "{} characters", e.len());
        assert!(e.contains("(cut from 100000 bytes)"), "{e}");
        let e = parse_target(&format!("https://www.geoguessr.com/x/{huge}"))
            .unwrap_err()
            .to_string();
        assert!(e.len() < 300, "{} characters", e.len());
        let e = Token::parse("a\u{1b}[2J").unwrap_err().to_string();
        assert!(!e.contains('\u{1b}'), "{e}");
        let ok: Token = serde_json::from_str("\"XB9wycuZvDrhl7cB\"").unwrap();
        assert_eq!(ok.as_str(), "XB9wycuZvDrhl7cB");
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"XB9wycuZvDrhl7cB\"");
        assert!(serde_json::from_str::<Token>("\"..\"").is_err());
    }
}
