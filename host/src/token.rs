//! The API token, which must never reach output, logs, errors or `Debug`.

use std::fmt;

/// An API token. `Debug` and `Display` print `***`; only the pipeline reads the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token; surrounding whitespace (e.g. from a file) is trimmed.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into().trim().to_string())
    }

    /// A token from `text`, trimmed, or `None` when nothing is left.
    pub(crate) fn non_empty(text: String) -> Option<Self> {
        let t = Token::new(text);
        (!t.0.is_empty()).then_some(t)
    }

    /// The secret value, for the `Authorization` header only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Removes every occurrence of the token from `text` (for messages built from server or
    /// transport text, which might echo it back).
    pub fn redact(&self, text: &str) -> String {
        if self.0.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.0, "***")
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
