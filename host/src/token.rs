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

    /// Removes the token from `text` wherever it occurs and however it is spelled (percent-
    /// encoded, `Debug`- or JSON-escaped; only a token shorter than six characters must stand on
    /// word boundaries, so a one-letter token does not mangle `PUT`), and any other credential
    /// [`crate::redact::Redactor`] recognises (URL userinfo, `token=`/`signature=` values,
    /// `Authorization` headers): for messages built from server or transport text, which might
    /// echo it back.
    pub fn redact(&self, text: &str) -> String {
        crate::redact::Redactor::new()
            .token(Some(self))
            .redact(text)
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
