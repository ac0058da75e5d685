//! Redaction: the one place that removes credentials from text before it reaches anyone.
//!
//! Everything the library and the CLI show (errors, `Debug`, `transport inspect`, log lines,
//! panic messages, text a plugin or a server sent back) goes through [`Redactor::redact`] or
//! [`redact`]. Two kinds of secret are removed:
//!
//! - **known secrets** (the token, a proxy password from the config): every occurrence that
//!   stands on word boundaries, so a one-letter token `T` hides `Bearer T` but leaves `PUT`
//!   alone (a plain substring replace turned `PUT` into `PU***`);
//! - **secrets recognised by their place**, whoever they belong to: the userinfo of a URL
//!   (`http://user:pass@proxy` → `http://***@proxy`), the values of `token=`, `signature=`,
//!   `access_token=` and `password=` parameters, the values of `Authorization` and
//!   `Proxy-Authorization` headers, and a `Bearer` credential.
//!
//! Redaction only ever replaces a secret by [`MASK`]; text without secrets comes back
//! unchanged, and redacting twice changes nothing more.

use std::fmt;

use apify_plugin_api::redact_userinfo;

use crate::token::Token;

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Query parameters whose value is a credential (names compared case-insensitively).
const SECRET_PARAMS: [&str; 4] = ["token", "signature", "access_token", "password"];

/// Removes credentials from text: the known secrets it was given (the token, passwords from
/// the configuration) and every credential recognised by its place (URL userinfo, `token=` and
/// `signature=` values, `Authorization` headers, `Bearer` credentials).
///
/// ```
/// let r = apify_host::Redactor::new().secret("T");
/// assert_eq!(r.redact("PUT /v2/x with token T"), "PUT /v2/x with token ***");
/// assert_eq!(
///     r.redact("GET http://u:pw@proxy:3128/v2/r?signature=abc&x=1"),
///     "GET http://***@proxy:3128/v2/r?signature=***&x=1"
/// );
/// ```
#[derive(Clone, Default)]
pub struct Redactor {
    /// Known secrets, longest first, so that a secret containing another is masked whole.
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    // The secrets themselves never: only how many there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor that knows no secret yet: it still removes every credential recognised by
    /// its place.
    pub fn new() -> Self {
        Redactor::default()
    }

    /// The same redactor, also masking `secret` (see [`Redactor::add_secret`]).
    pub fn secret(mut self, secret: impl AsRef<str>) -> Self {
        self.add_secret(secret);
        self
    }

    /// Also masks `secret` wherever it stands on word boundaries, and its percent-encoded and
    /// percent-decoded spellings (a secret may be quoted inside a URL). A secret without a
    /// letter or digit is ignored: it would match punctuation everywhere (and the mask).
    pub fn add_secret(&mut self, secret: impl AsRef<str>) {
        let secret = secret.as_ref().trim();
        if !secret.chars().any(char::is_alphanumeric) {
            return;
        }
        let encoded =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let decoded = percent_encoding::percent_decode_str(secret)
            .decode_utf8_lossy()
            .into_owned();
        for s in [secret.to_string(), encoded, decoded] {
            if s.chars().any(char::is_alphanumeric) && !self.secrets.contains(&s) {
                self.secrets.push(s);
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// The same redactor, also masking the token, if any.
    pub fn token(mut self, token: Option<&Token>) -> Self {
        if let Some(t) = token {
            self.add_secret(t.expose());
        }
        self
    }

    /// Adds every secret `other` knows.
    pub fn merge(&mut self, other: &Redactor) {
        for s in &other.secrets {
            self.add_secret(s);
        }
    }

    /// Whether this redactor knows any secret of its own (beyond the recognised places).
    pub fn has_secrets(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// `text` without any credential.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            if let Some(replaced) = replace_on_boundaries(&out, s) {
                out = replaced;
            }
        }
        redact_places(&out)
    }
}

/// `text` without the credentials recognised by their place (URL userinfo, `token=` and
/// `signature=` values, `Authorization` and `Proxy-Authorization` values, `Bearer`
/// credentials). To also mask known secrets such as the token, use a [`Redactor`].
pub fn redact(text: &str) -> String {
    redact_places(text)
}

/// Whether `c` continues a word: a secret only matches where it is not part of a longer word.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every occurrence of `secret` in `text` that stands on word boundaries (as a regex `\b`
/// would: checked only on the sides where the secret itself starts or ends with a word
/// character), replaced by [`MASK`]; `None` when there is none.
fn replace_on_boundaries(text: &str, secret: &str) -> Option<String> {
    let first_is_word = secret.chars().next().is_some_and(is_word);
    let last_is_word = secret.chars().next_back().is_some_and(is_word);
    let mut out = String::new();
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = text[from..].find(secret) {
        let start = from + i;
        let end = start + secret.len();
        let starts_word = !first_is_word || !text[..start].chars().next_back().is_some_and(is_word);
        let ends_word = !last_is_word || !text[end..].chars().next().is_some_and(is_word);
        if starts_word && ends_word {
            out.push_str(&text[copied..start]);
            out.push_str(MASK);
            copied = end;
            from = end;
        } else {
            // Next char boundary after `start`: occurrences may overlap.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Applies every place-based rule.
fn redact_places(text: &str) -> String {
    let text = redact_userinfo(text);
    let text = redact_params(&text);
    let text = redact_headers(&text);
    redact_bearer(&text)
}

/// Where a value found in free text ends: a delimiter of URLs, quoted strings, lists and
/// markup, or whitespace.
fn ends_value(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '&' | '#' | '"' | '\'' | ';' | '<' | '>' | ')' | ']' | '}' | ',' | '`'
        )
}

/// `?token=abc&signature=xyz` → `?token=***&signature=***`, names case-insensitive, in a URL
/// or in free text (`token=abc`), never inside a longer name (`csrftoken=`).
fn redact_params(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !SECRET_PARAMS.iter().any(|p| lower.contains(p)) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        let found = SECRET_PARAMS.iter().find_map(|name| {
            let rest = &lower[i..];
            (rest.starts_with(name) && rest[name.len()..].starts_with('=')).then_some(name.len())
        });
        let at_name_start = !text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| is_word(c) || c == '-' || c == '.');
        match found {
            Some(len) if at_name_start => {
                let value_start = i + len + 1;
                let value_end = text[value_start..]
                    .find(ends_value)
                    .map_or(text.len(), |e| value_start + e);
                let value = &text[value_start..value_end];
                if !value.is_empty() && value != MASK {
                    out.push_str(&text[copied..value_start]);
                    out.push_str(MASK);
                    copied = value_end;
                }
                i = value_end.max(value_start);
            }
            _ => i += text[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The value of an `Authorization` or `Proxy-Authorization` header, in any of the ways it is
/// printed: `Authorization: Bearer abc`, `"authorization": "Basic abc"`, `authorization=abc`.
/// A scheme word is kept (`Bearer ***`); the credential goes.
fn redact_headers(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("authorization") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = lower[from..].find("authorization") {
        let name_start = from + i;
        let mut pos = name_start + "authorization".len();
        from = pos;
        // `proxy-authorization` is caught through its `-`; `xauthorization` is not a header.
        if text[..name_start].chars().next_back().is_some_and(is_word)
            || text[pos..].chars().next().is_some_and(is_word)
        {
            continue;
        }
        let bytes = text.as_bytes();
        let skip = |pos: &mut usize, set: &[u8]| {
            while *pos < bytes.len() && set.contains(&bytes[*pos]) {
                *pos += 1;
            }
        };
        skip(&mut pos, b"\"'");
        skip(&mut pos, b" \t");
        if pos >= bytes.len() || !matches!(bytes[pos], b':' | b'=') {
            continue; // prose ("the Authorization header"), not a header and its value
        }
        pos += 1;
        skip(&mut pos, b" \t");
        let quote = match bytes.get(pos) {
            Some(&q @ (b'"' | b'\'')) => {
                pos += 1;
                Some(q as char)
            }
            _ => None,
        };
        let value_start = pos;
        let value_end = match quote {
            Some(q) => text[value_start..]
                .find([q, '\n', '\r'])
                .map_or(text.len(), |e| value_start + e),
            None => text[value_start..]
                .find(['\n', '\r'])
                .map_or(text.len(), |e| value_start + e),
        };
        let value = &text[value_start..value_end];
        let (keep, secret_end) = header_credential(value, quote.is_some());
        let secret = &value[keep..secret_end];
        // `Sensitive` is how `http::HeaderValue` prints a value it already hides.
        if !secret.is_empty() && secret != MASK && secret != "Sensitive" {
            out.push_str(&text[copied..value_start + keep]);
            out.push_str(MASK);
            copied = value_start + secret_end;
        }
        from = value_start + secret_end;
    }
    out.push_str(&text[copied..]);
    out
}

/// Splits a header value into the part to keep (a scheme word and its space) and the end of
/// the credential: `Bearer abc` → keep `Bearer `, mask `abc`. A quoted value is masked to its
/// closing quote; an unquoted one to the end of the credential word.
fn header_credential(value: &str, quoted: bool) -> (usize, usize) {
    const SCHEMES: [&str; 8] = [
        "basic",
        "bearer",
        "digest",
        "token",
        "negotiate",
        "ntlm",
        "apikey",
        "hoba",
    ];
    let scheme_len = value
        .find(' ')
        .filter(|&n| SCHEMES.iter().any(|s| value[..n].eq_ignore_ascii_case(s)))
        .map_or(0, |n| n + 1);
    let rest = &value[scheme_len..];
    let rest = rest.trim_start();
    let keep = value.len() - rest.len();
    if keep > 0 && rest.is_empty() {
        // Only a scheme-looking word: that word is the credential.
        return (0, value.trim_end().len());
    }
    let end = if quoted {
        value.trim_end().len()
    } else {
        keep + rest.find(ends_value).unwrap_or(rest.len())
    };
    (keep, end.max(keep))
}

/// `Bearer abc` anywhere → `Bearer ***`.
fn redact_bearer(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("bearer") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(i) = lower[from..].find("bearer") {
        let start = from + i;
        let mut pos = start + "bearer".len();
        from = pos;
        if text[..start].chars().next_back().is_some_and(is_word) {
            continue;
        }
        let spaces = text[pos..].len() - text[pos..].trim_start_matches([' ', '\t']).len();
        if spaces == 0 {
            continue;
        }
        pos += spaces;
        let end = text[pos..].find(ends_value).map_or(text.len(), |e| pos + e);
        let credential = &text[pos..end];
        if !credential.is_empty() && credential != MASK {
            out.push_str(&text[copied..pos]);
            out.push_str(MASK);
            copied = end;
        }
        from = end.max(pos);
    }
    out.push_str(&text[copied..]);
    out
}

/// A config-file line and the parser's message about it, as an error may show them: the key
/// but never the value (a misspelled key may sit next to a token: `tokne = "…"`), and the
/// message without that value either (the parser may quote it: `invalid type: integer 123`).
#[cfg(feature = "config")]
pub(crate) fn config_line(line: &str, message: &str) -> (String, String) {
    let line = line.trim();
    let (shown, value) = match line.split_once('=') {
        Some((key, value)) => (format!("{} = …", key.trim()), Some(value.trim())),
        // A table header holds no value; any other line without `=` might be a pasted secret.
        None if line.starts_with('[') && line.ends_with(']') => (line.to_string(), None),
        None if line.is_empty() => (String::new(), None),
        None => ("<line hidden>".to_string(), Some(line)),
    };
    let mut redactor = Redactor::new();
    if let Some(v) = value {
        redactor.add_secret(v);
        // The value as the parser saw it: without its quotes.
        let unquoted = v.trim_matches(|c| c == '"' || c == '\'');
        redactor.add_secret(unquoted);
    }
    (redact(&shown), redactor.redact(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_on_word_boundaries_only() {
        let r = Redactor::new().secret("T");
        assert_eq!(r.redact("PUT /v2/x"), "PUT /v2/x");
        assert_eq!(r.redact("T"), "***");
        assert_eq!(
            r.redact("token T, (T) \"T\" T."),
            "token ***, (***) \"***\" ***."
        );
        let r = Redactor::new().secret("s3cr3t-T0KEN");
        assert_eq!(
            r.redact("Bearer s3cr3t-T0KEN; xs3cr3t-T0KEN"),
            "Bearer ***; xs3cr3t-T0KEN"
        );
        // Percent-encoded in a URL.
        let r = Redactor::new().secret("a b+c");
        assert_eq!(r.redact("path/a%20b%2Bc/x"), "path/***/x");
    }

    #[test]
    fn url_userinfo() {
        assert_eq!(
            redact("proxy http://user:secretpw@127.0.0.1:3128 refused"),
            "proxy http://***@127.0.0.1:3128 refused"
        );
        assert_eq!(
            redact("error sending request for url (https://tok@h/x?y=1)"),
            "error sending request for url (https://***@h/x?y=1)"
        );
        assert_eq!(redact("http://u:p@ss@h/"), "http://***@h/");
        assert_eq!(
            redact("mail a@b, see http://h/a@b"),
            "mail a@b, see http://h/a@b"
        );
        assert_eq!(redact("Some(\"http://u:p@h\")"), "Some(\"http://***@h\")");
    }

    #[test]
    fn params() {
        assert_eq!(
            redact("GET http://x/v2?token=other&limit=1&Signature=S1G#f"),
            "GET http://x/v2?token=***&limit=1&Signature=***#f"
        );
        assert_eq!(redact("a&TOKEN=abc"), "a&TOKEN=***");
        assert_eq!(redact("csrftoken=abc x-token=1"), "csrftoken=abc x-token=1");
        assert_eq!(redact("token="), "token=");
        assert_eq!(redact("token=abc)"), "token=***)");
    }

    #[test]
    fn headers_and_bearer() {
        assert_eq!(
            redact("Authorization: Bearer abc\r\nAccept: */*"),
            "Authorization: Bearer ***\r\nAccept: */*"
        );
        assert_eq!(
            redact(r#"{"proxy-authorization": "Basic dXNlcjpwdw==", "accept": "x"}"#),
            r#"{"proxy-authorization": "Basic ***", "accept": "x"}"#
        );
        assert_eq!(
            redact("authorization=abc path=/x"),
            "authorization=*** path=/x"
        );
        assert_eq!(
            redact("check the Authorization header"),
            "check the Authorization header"
        );
        assert_eq!(redact("Unauthorized: no"), "Unauthorized: no");
        assert_eq!(redact("sent bearer xyz."), "sent bearer ***");
        assert_eq!(
            redact("{\"authorization\": Sensitive}"),
            "{\"authorization\": Sensitive}"
        );
    }

    #[test]
    fn idempotent_and_unchanged_without_secrets() {
        let r = Redactor::new().secret("tok");
        let once = r.redact("Authorization: Bearer tok http://u:p@h?token=tok signature=x tok");
        assert_eq!(r.redact(&once), once);
        for s in [
            "",
            "PUT /v2/x",
            "plain text, nothing here: 1 = 2",
            "é ü 中文",
        ] {
            assert_eq!(r.redact(s), s);
        }
    }

    #[cfg(feature = "config")]
    #[test]
    fn config_lines_never_show_values() {
        let (line, msg) = config_line(r#"tokne = "s3cret""#, "unknown field `tokne`");
        assert_eq!(line, "tokne = …");
        assert_eq!(msg, "unknown field `tokne`");
        let (line, msg) = config_line("token = 12345", "invalid type: integer `12345`");
        assert_eq!(line, "token = …");
        assert_eq!(msg, "invalid type: integer `***`");
        assert_eq!(config_line("[http]", "m").0, "[http]");
        assert_eq!(config_line("s3cret", "m").0, "<line hidden>");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text that cannot form a recognised place (no `=`, `:`, `@`, and no words `bearer` or
    /// `authorization` can be spelled with these letters).
    fn plain() -> impl Strategy<Value = String> {
        "[a-z0-9 ,./()\\-\n]{0,40}"
    }

    /// Does `text` still hold `secret` on word boundaries?
    fn holds(text: &str, secret: &str) -> bool {
        replace_on_boundaries(text, secret).is_some()
    }

    proptest! {
        #[test]
        fn a_token_never_survives_wherever_it_is_embedded(
            token in "[A-Za-z0-9][A-Za-z0-9_]{0,23}",
            before in plain(),
            after in plain(),
            sep_before in "[ \"'(/=:,\n]",
            sep_after in "[ \"')/&,.\n]",
        ) {
            let r = Redactor::new().secret(&token);
            let text = format!("{before}{sep_before}{token}{sep_after}{after}");
            let out = r.redact(&text);
            prop_assert!(!holds(&out, &token), "{text:?} -> {out:?}");
            prop_assert!(out.contains(MASK));
        }

        #[test]
        fn a_token_in_a_url_or_header_never_survives(
            token in "[A-Za-z0-9][A-Za-z0-9_.~-]{0,23}",
            path in "[a-z0-9/]{0,20}",
        ) {
            let r = Redactor::new().secret(&token);
            for text in [
                format!("GET http://h/{path}?token={token}&x=1"),
                format!("Authorization: Bearer {token}"),
                format!("http://user:{token}@proxy:3128/{path}"),
            ] {
                let out = r.redact(&text);
                prop_assert!(!holds(&out, &token), "{text:?} -> {out:?}");
            }
        }

        #[test]
        fn text_without_secrets_is_unchanged(text in plain(), token in "[A-Z]{1,8}") {
            // Upper-case tokens cannot occur in lower-case text.
            let r = Redactor::new().secret(&token);
            prop_assert_eq!(r.redact(&text), text);
        }

        #[test]
        fn any_text_redacts_without_panicking_and_idempotently(
            text in any::<String>(),
            token in any::<String>(),
        ) {
            let r = Redactor::new().secret(&token);
            let once = r.redact(&text);
            prop_assert_eq!(r.redact(&once), once);
        }
    }
}
