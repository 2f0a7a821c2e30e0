//! Deciding whether a heartbeat reply means "nothing needs attention". The model is asked to
//! answer exactly `HEARTBEAT_OK`; small models wrap it in quotes, punctuation, markdown or a few
//! words, so the token is accepted with such decoration — but a real report that merely mentions
//! the token is delivered.

/// The token a heartbeat turn answers with when nothing needs the owner.
pub const HEARTBEAT_OK: &str = "HEARTBEAT_OK";

/// Most characters of other text tolerated around the token.
const MAX_DECORATION_CHARS: usize = 30;

/// Whether `reply` is the "nothing to report" answer.
pub fn is_heartbeat_ok(reply: &str) -> bool {
    let trimmed = reply.trim();
    let Some(at) = trimmed.find(HEARTBEAT_OK) else {
        return false;
    };
    let rest: String = format!("{}{}", &trimmed[..at], &trimmed[at + HEARTBEAT_OK.len()..]);
    let meaningful: String = rest.chars().filter(|c| c.is_alphanumeric()).collect();
    meaningful.chars().count() <= MAX_DECORATION_CHARS / 3
        && rest.chars().count() <= MAX_DECORATION_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_decorated_tokens_count_as_ok() {
        for reply in [
            "HEARTBEAT_OK",
            "  HEARTBEAT_OK\n",
            "**HEARTBEAT_OK**",
            "`HEARTBEAT_OK`.",
            "\"HEARTBEAT_OK\"",
            "HEARTBEAT_OK 👍",
            "Ok: HEARTBEAT_OK",
        ] {
            assert!(is_heartbeat_ok(reply), "{reply:?}");
        }
    }

    #[test]
    fn reports_are_not_ok_even_if_they_mention_the_token() {
        for reply in [
            "",
            "heartbeat_ok",
            "The server is down. HEARTBEAT_OK",
            "I watered the plants and ticked the task. HEARTBEAT_OK",
            "All good",
        ] {
            assert!(!is_heartbeat_ok(reply), "{reply:?}");
        }
    }
}
