//! Redaction: the one place that removes credentials from text before it reaches anyone.
//!
//! Everything the library and the CLI show (errors, `Debug`, `transport inspect`, log lines,
//! panic messages, text a plugin or a server sent back) goes through [`Redactor::redact`] or
//! [`redact`]. Two kinds of secret are removed:
//!
//! - **known secrets** (the token, a proxy password from the config): every occurrence,
//!   whatever precedes or follows it (`%3D<token>`, `\n<token>` as `Debug` prints a newline,
//!   `Bearer%20<token>`, `x<token>`), and every spelling of it the library may print (percent-
//!   encoded, `Debug`- or JSON-escaped, or a mix). Only a secret shorter than six characters
//!   must stand on word boundaries (an escape such as `%3D` or `\n` counts as one), so a
//!   one-letter token `T` hides `Bearer T` but leaves `PUT` alone;
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
/// let r = apify_host::redact::Redactor::new().secret("T");
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

    /// Also masks `secret` in any spelling (percent-encoded, `Debug`- or JSON-escaped, or a mix:
    /// see [`Redactor::redact`]), and its percent-decoded form (a secret may be configured
    /// inside a URL). Surrounding whitespace is dropped. A secret without a letter or digit is
    /// ignored: it would match punctuation everywhere (and the mask).
    pub fn add_secret(&mut self, secret: impl AsRef<str>) {
        let secret = secret.as_ref().trim();
        let decoded = percent_encoding::percent_decode_str(secret)
            .decode_utf8_lossy()
            .into_owned();
        self.insert(secret.to_string());
        self.insert(decoded);
    }

    /// Adds one spelling, keeping the list longest first.
    fn insert(&mut self, secret: String) {
        if secret.chars().any(char::is_alphanumeric) && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
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
            self.insert(s.clone());
        }
    }

    /// Whether this redactor knows any secret of its own (beyond the recognised places).
    pub fn has_secrets(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// `text` without any credential: every known secret wherever it occurs, whatever precedes
    /// or follows it, written as itself or in any spelling the library may print (each byte
    /// percent-encoded, `%3D` or `%3d`, even several times; the `\n`, `\"`, `\\`, `\u{1b}`,
    /// `\u001b`, `\x1b` escapes of `Debug` and JSON, escaped again up to four levels deep; `+`
    /// for a space), and the credentials recognised by their place. Only the secret is replaced.
    /// A secret shorter than six characters, which could be part of a word by chance, is masked
    /// only where it is not part of a longer word (an escape that ends in a letter or digit,
    /// `%3D` or `\n`, does not count as part of a word).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for _ in 0..MAX_ROUNDS {
            let mut changed = false;
            for s in &self.secrets {
                if let Some(masked) = mask_secret(&out, s) {
                    out = masked;
                    changed = true;
                }
            }
            let placed = redact_places(&out);
            if placed != out {
                out = placed;
                changed = true;
            }
            if !changed || self.secrets.is_empty() {
                break;
            }
        }
        out
    }
}

/// `text` without the credentials recognised by their place (URL userinfo, `token=` and
/// `signature=` values, `Authorization` and `Proxy-Authorization` values, `Bearer`
/// credentials). To also mask known secrets such as the token, use a [`Redactor`].
pub fn redact(text: &str) -> String {
    redact_places(text)
}

/// Whether `c` continues a word: a short secret only matches where it is not part of a longer
/// word.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Secrets of at least this many characters are masked wherever they occur, even inside a
/// longer word (`x<token>`, `%3D<token>`, `\n<token>`): text that happens to contain them by
/// chance is too unlikely to matter, and a word-boundary rule would miss them after every
/// escape that ends in a letter or digit. Shorter ones (a one-letter test token) only match on
/// word boundaries, so that `T` does not turn `PUT` into `PU***`.
const MIN_ANYWHERE: usize = 6;

/// How many rounds of masking [`Redactor::redact`] runs at most: a round that masked something
/// is followed by another, in case a mask completed another secret (one containing `*`, next
/// to a mask of its own or of a place rule). Each masking round removes a letter or digit, so
/// it ends; real text never needs more than two.
const MAX_ROUNDS: usize = 8;

/// The longest run of backslashes, and of `25`s after a `%`, a spelling may start with: enough
/// for a character escaped four times over (`\"` escaped again is `\\\"`, then 7, then 15
/// backslashes) or percent-encoded again and again (`%252525...`); real text nests two or three
/// deep. The bound keeps redaction linear in text made of backslashes.
const MAX_ESCAPE_DEPTH: usize = 16;

/// Every spelling of `secret` in `text` (see [`spellings_end`]) replaced by [`MASK`]; `None`
/// when there is none. A secret of [`MIN_ANYWHERE`] characters or more matches anywhere; a
/// shorter one only on word boundaries (as a regex `\b` would, on the sides where the secret
/// itself starts or ends with a word character), where an escape that ends in a word character
/// (`%3D`, `\n`, `\t`, `\x7f`, `\u00e9`) counts as a boundary.
fn mask_secret(text: &str, secret: &str) -> Option<String> {
    let first = secret.chars().next()?;
    let last = secret.chars().next_back()?;
    let anywhere = secret.chars().count() >= MIN_ANYWHERE;
    let bytes = text.as_bytes();
    let first_byte = secret.as_bytes()[0];
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // A spelling starts with the secret's own first byte or with an escape (`+` is a space).
        if b == first_byte || matches!(b, b'%' | b'\\' | b'+') {
            let starts_word = anywhere || !is_word(first) || boundary_before(&text[..i]);
            let end = starts_word
                .then(|| spellings_end(bytes, i, secret))
                .into_iter()
                .flatten()
                .rev()
                .find(|&e| {
                    text.is_char_boundary(e)
                        && (anywhere || !is_word(last) || !text[e..].starts_with(is_word))
                });
            if let Some(end) = end {
                out.push_str(&text[copied..i]);
                out.push_str(MASK);
                copied = end;
                i = end;
                continue;
            }
        }
        // Next char boundary: occurrences may overlap.
        i += text[i..].chars().next().map_or(1, char::len_utf8);
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// Whether a secret starting after `before` starts a word: nothing before it, a character that
/// is not part of a word, or an escape that ends in one (`%3D`, `\n`, `\x0b`, `\u00e9`).
fn boundary_before(before: &str) -> bool {
    if !before.chars().next_back().is_some_and(is_word) {
        return true;
    }
    let b = before.as_bytes();
    let n = b.len();
    let hex_tail = |len: usize| n >= len && b[n - len..].iter().all(u8::is_ascii_hexdigit);
    (n >= 3 && b[n - 3] == b'%' && hex_tail(2))
        || (n >= 2
            && b[n - 2] == b'\\'
            && matches!(b[n - 1], b'n' | b'r' | b't' | b'0' | b'b' | b'f'))
        || (1..=2).any(|d| n >= d + 2 && &b[n - d - 2..n - d] == b"\\x" && hex_tail(d))
        || (n >= 6 && &b[n - 6..n - 4] == b"\\u" && hex_tail(4))
}

/// Where a spelling of `secret` that starts at `start` of `text` can end (ascending, empty when
/// none does). A spelling writes each character of the secret as itself or in any of the ways
/// the library, its transports and their `Debug` output may print it, mixed freely:
///
/// - each UTF-8 byte percent-encoded (`%3d` or `%3D`, or encoded again: `%253D`), or as the
///   `\x3d` of `Debug` for bytes and header values, and a space as the `+` of a form;
/// - the escapes of Rust's `Debug` and of JSON: `\n`, `\r`, `\t`, `\0`, `\b`, `\f`, `\/`, `\"`,
///   `\'`, `\\`, `\u{1b}`, `\u001b` (with surrogate pairs beyond the BMP), each escaped again
///   up to four levels deep (`\\n`, `\\\"`: `Debug` of a message that quotes a `Debug`
///   string; see [`MAX_ESCAPE_DEPTH`]).
fn spellings_end(text: &[u8], start: usize, secret: &str) -> Vec<usize> {
    let mut ends = vec![start];
    let mut next = Vec::new();
    for c in secret.chars() {
        next.clear();
        for &p in &ends {
            char_ends(text, p, c, &mut next);
        }
        if next.is_empty() {
            return next;
        }
        next.sort_unstable();
        next.dedup();
        std::mem::swap(&mut ends, &mut next);
    }
    ends
}

/// Adds to `out` where a spelling of `c` that starts at `p` can end.
fn char_ends(text: &[u8], p: usize, c: char, out: &mut Vec<usize>) {
    // Byte by byte.
    let mut buf = [0u8; 4];
    let mut at = vec![p];
    for &b in c.encode_utf8(&mut buf).as_bytes() {
        let mut next = Vec::new();
        for &q in &at {
            byte_ends(text, q, b, &mut next);
        }
        at = next;
    }
    out.extend(at);
    // As an escape: a run of backslashes (one per level of escaping), then what it escapes.
    let run = backslashes(text, p);
    let q = p + run;
    match c {
        '\\' => out.extend((1..=run).map(|k| p + k)),
        '"' | '\'' if text.get(q) == Some(&(c as u8)) => out.push(q + 1),
        _ => {}
    }
    if run == 0 {
        return;
    }
    let letter = match c {
        '\n' => Some(b'n'),
        '\r' => Some(b'r'),
        '\t' => Some(b't'),
        '\0' => Some(b'0'),
        '\u{8}' => Some(b'b'),
        '\u{c}' => Some(b'f'),
        '/' => Some(b'/'),
        _ => None,
    };
    if letter.is_some() && text.get(q) == letter.as_ref() {
        out.push(q + 1);
    }
    if text.get(q) != Some(&b'u') {
        return;
    }
    // `\u{1b}` (Rust).
    if text.get(q + 1) == Some(&b'{') {
        let digits = text[q + 2..]
            .iter()
            .take(7)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if (1..=6).contains(&digits)
            && text.get(q + 2 + digits) == Some(&b'}')
            && hex_value(&text[q + 2..q + 2 + digits]) == Some(c as u32)
        {
            out.push(q + 3 + digits);
        }
        return;
    }
    // `\u001b` (JSON), and a surrogate pair `\ud83d\ude00` beyond the BMP.
    let Some(unit) = text.get(q + 1..q + 5).and_then(hex_value) else {
        return;
    };
    let mut units = [0u16; 2];
    match c.encode_utf16(&mut units) {
        [one] if u32::from(*one) == unit => out.push(q + 5),
        [high, low] if u32::from(*high) == unit => {
            let r = q + 5 + backslashes(text, q + 5);
            if r > q + 5
                && text.get(r) == Some(&b'u')
                && text.get(r + 1..r + 5).and_then(hex_value) == Some(u32::from(*low))
            {
                out.push(r + 5);
            }
        }
        _ => {}
    }
}

/// Adds to `out` where a spelling of byte `b` that starts at `p` can end: itself, `%XX`
/// (possibly encoded again: `%25XX`, `%2525XX`), `\xX`/`\xXX`, and `+` for a space.
fn byte_ends(text: &[u8], p: usize, b: u8, out: &mut Vec<usize>) {
    let Some(&t) = text.get(p) else {
        return;
    };
    if t == b || (b == b' ' && t == b'+') {
        out.push(p + 1);
    }
    if t == b'%' {
        let mut q = p + 1;
        for _ in 0..MAX_ESCAPE_DEPTH {
            if text.get(q..q + 2).and_then(hex_value) == Some(u32::from(b)) {
                out.push(q + 2);
            }
            if text.get(q..q + 2) != Some(&b"25"[..]) {
                break;
            }
            q += 2;
        }
    }
    let q = p + backslashes(text, p);
    if q > p && text.get(q) == Some(&b'x') {
        for digits in 1..=2 {
            if text.get(q + 1..q + 1 + digits).and_then(hex_value) == Some(u32::from(b)) {
                out.push(q + 1 + digits);
            }
        }
    }
}

/// How many backslashes start at `p`, up to [`MAX_ESCAPE_DEPTH`].
fn backslashes(text: &[u8], p: usize) -> usize {
    text.get(p..).map_or(0, |t| {
        t.iter()
            .take(MAX_ESCAPE_DEPTH)
            .take_while(|&&b| b == b'\\')
            .count()
    })
}

/// The value of hex digits (either case), `None` if any is not one.
fn hex_value(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |v, &d| Some(v * 16 + char::from(d).to_digit(16)?))
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

    const TOKEN: &str = "apify_api_s3cr3tT0KEN42";

    #[test]
    fn short_secrets_on_word_boundaries_only() {
        let r = Redactor::new().secret("T");
        assert_eq!(r.redact("PUT /v2/x"), "PUT /v2/x");
        assert_eq!(r.redact("T"), "***");
        assert_eq!(
            r.redact("token T, (T) \"T\" T."),
            "token ***, (***) \"***\" ***."
        );
        // An escape that ends in a letter or digit is not part of the next word.
        assert_eq!(
            r.redact(r#"a=%3DT "\nT\tT" Bearer%20T %2FT \x0bT \u00e9T"#),
            r#"a=%3D*** "\n***\t***" Bearer%20*** %2F*** \x0b*** \u00e9***"#
        );
        // Spelled with an escape, it is still inside `PUT`.
        assert_eq!(r.redact("PU%54 PU\\x54"), "PU%54 PU\\x54");
    }

    #[test]
    fn long_secrets_anywhere() {
        let r = Redactor::new().secret("s3cr3t-T0KEN");
        assert_eq!(
            r.redact("Bearer s3cr3t-T0KEN; xs3cr3t-T0KEN_y"),
            "Bearer ***; x***_y"
        );
        // Percent-encoded in a URL.
        let r = Redactor::new().secret("a b+c/d");
        assert_eq!(
            r.redact("path/a%20b%2Bc%2Fd/x?q=a+b%2bc%2fd"),
            "path/***/x?q=***"
        );
    }

    #[test]
    fn a_token_after_a_percent_escape() {
        let r = Redactor::new().secret(TOKEN);
        for escape in ["%3D", "%3d", "%20", "%2F", "%0A", "%25"] {
            assert_eq!(
                r.redact(&format!("GET /v2/x?q={escape}{TOKEN}{escape}&y=1")),
                format!("GET /v2/x?q={escape}***{escape}&y=1")
            );
        }
    }

    #[test]
    fn a_token_after_a_debug_escape() {
        let r = Redactor::new().secret(TOKEN);
        // As `Debug` prints a message with a newline before the token: `\` then `n`.
        let shown = format!(
            "{:?}",
            format!("failed:\n{TOKEN}\t{TOKEN}\"{TOKEN}\\{TOKEN}\u{1b}{TOKEN}")
        );
        assert!(shown.contains(&format!("\\n{TOKEN}")), "{shown}");
        assert_eq!(
            r.redact(&shown),
            r#""failed:\n***\t***\"***\\***\u{1b}***""#
        );
        // And `Debug` of that again.
        let twice = format!("{shown:?}");
        assert_eq!(
            r.redact(&twice),
            r#""\"failed:\\n***\\t***\\\"***\\\\***\\u{1b}***\"""#
        );
    }

    #[test]
    fn a_token_after_bearer_percent_20() {
        let r = Redactor::new().secret(TOKEN);
        assert_eq!(
            r.redact(&format!("proxy said: sent Bearer%20{TOKEN} to /v2")),
            "proxy said: sent Bearer%20*** to /v2"
        );
        assert_eq!(
            r.redact(&format!("GET /x?auth=Bearer+{TOKEN}&y")),
            "GET /x?auth=Bearer+***&y"
        );
    }

    #[test]
    fn every_spelling_of_a_secret_with_escaping_characters() {
        let pw = "p@ss \"w\\rd/é\u{1}😀";
        let r = Redactor::new().secret(pw);
        let json = serde_json::to_string(pw).unwrap();
        for spelled in [
            pw.to_string(),
            // Percent-encoded every way, or only in part (as `url` writes a userinfo).
            percent_encoding::utf8_percent_encode(pw, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
            "p%40ss%20%22w%5crd%2f%C3%A9%01%F0%9F%98%80".to_string(),
            "p%40ss+\"w\\rd/é\u{1}😀".to_string(),
            "p%2540ss%2520%2522w%255Crd%252F%25C3%25A9%2501%25F0%259F%2598%2580".to_string(),
            // `Debug` (once and twice), JSON, JSON with only ASCII, bytes' `Debug`.
            format!("{pw:?}"),
            format!("{:?}", format!("{pw:?}")),
            json.clone(),
            r#""p@ss \"w\\rd\/\u00e9\u0001\ud83d\ude00""#.to_string(),
            format!("{:?}", bytes::Bytes::from(pw)),
        ] {
            let out = r.redact(&format!("<{spelled}>"));
            assert!(
                !out.contains("ss") && !out.contains('w'),
                "{spelled} -> {out}"
            );
        }
        // JSON stays JSON: the whole escape is masked, never half of it.
        let masked = r.redact(&json);
        assert_eq!(masked, "\"***\"");
    }

    #[test]
    fn only_the_secret_is_masked() {
        let r = Redactor::new().secret(TOKEN);
        let text = format!("x{TOKEN}y \\n{TOKEN}\\n %3D{TOKEN}%3D {TOKEN}{TOKEN}");
        assert_eq!(r.redact(&text), "x***y \\n***\\n %3D***%3D ******");
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

    /// Does `text` still hold a spelling of `secret` (on word boundaries, if it is short)?
    fn holds(text: &str, secret: &str) -> bool {
        mask_secret(text, secret).is_some()
    }

    /// Secrets as they come: API tokens, proxy passwords of letters and digits, and passwords
    /// with any character (quotes, backslashes, `%`, spaces, control and non-ASCII characters),
    /// at least [`MIN_ANYWHERE`] characters long (shorter ones: see
    /// `short_secrets_never_survive_next_to_an_escape`).
    fn secret() -> impl Strategy<Value = String> {
        prop_oneof![
            "apify_api_[A-Za-z0-9]{36}",
            "[A-Za-z0-9][A-Za-z0-9_.~-]{5,30}",
            concat!(
                "[A-Za-z0-9][A-Za-z0-9 !\"#$%&'()*+,./:;<=>?@\\[\\\\\\]^_`{|}~",
                "é中😀\t\n\u{1}\u{1b}\u{7f}\u{301}-]{4,20}[A-Za-z0-9]",
            ),
            any::<String>().prop_filter("a secret to find", |s| {
                s.trim().chars().count() >= MIN_ANYWHERE && s.chars().any(char::is_alphanumeric)
            }),
        ]
        .prop_map(|s| s.trim().to_string())
    }

    /// What may stand right before or after a secret: escapes, `Bearer`, `token=`, punctuation,
    /// letters and digits.
    fn affix(pieces: &'static [&'static str]) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(pieces), 0..4).prop_map(|p| p.concat())
    }

    const PIECES: &[&str] = &[
        "%3D",
        "%3d",
        "%20",
        "%2F",
        "%25",
        "%",
        "\\n",
        "\\t",
        "\\\"",
        "\\\\",
        "\\u{1b}",
        "\\u00e9",
        "\\x0b",
        "Bearer ",
        "Bearer%20",
        "Bearer+",
        "token=",
        "=",
        "/",
        "\"",
        "\n",
        " ",
        "a",
        "Z",
        "x",
        "n",
        "_",
        "0",
        "7",
        "f",
    ];

    /// What may stand before a short secret without making it part of a word: escapes (also
    /// those that end in a letter or digit), punctuation, `Bearer `, `token=`. (A short secret
    /// right after a letter is part of a word, and left alone.)
    const ESCAPES: &[&str] = &[
        "%3D",
        "%20",
        "%2F",
        "\\n",
        "\\t",
        "\\r",
        "\\0",
        "\\\"",
        "\\\\",
        "\\u{1b}",
        "\\u00e9",
        "\\x0b",
        "Bearer ",
        "Bearer%20",
        "token=",
        "=",
        "/",
        "\"",
        "\n",
        " ",
        "(",
        ".",
    ];

    /// The escapes that may follow a short secret without making it part of a word.
    const ESCAPES_AFTER: &[&str] = &[
        "%3D", "%20", "%2F", "\\n", "\\t", "\\\"", "\\\\", "\\u{1b}", "\\x0b", "=", "/", "\"",
        "\n", " ", ")", ".", "&",
    ];

    /// Every way the library, a transport or their `Debug` may write `s`.
    fn spellings(s: &str) -> Vec<String> {
        use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
        let unquote = |q: String| q[q.find('"').unwrap() + 1..q.len() - 1].to_string();
        let percent = utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut url = url::Url::parse("http://user@proxy:3128/").unwrap();
        url.set_password(Some(s)).unwrap();
        let mut all = vec![
            s.to_string(),
            s.bytes()
                .map(|b| match b {
                    b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => char::from(b).to_string(),
                    _ => format!("%{b:02x}"),
                })
                .collect(),
            utf8_percent_encode(&percent, NON_ALPHANUMERIC).to_string(),
            url.password().unwrap().to_string(),
            url::form_urlencoded::byte_serialize(s.as_bytes()).collect(),
            unquote(format!("{s:?}")),
            unquote(format!("{:?}", format!("{s:?}"))),
            unquote(serde_json::to_string(s).unwrap()),
            unquote(format!("{:?}", bytes::Bytes::from(s.to_string()))),
            percent,
        ];
        if let Ok(v) = http::HeaderValue::from_str(s) {
            all.push(unquote(format!("{v:?}")));
        }
        all
    }

    /// `text` percent-decoded (as a reader of a URL would see it).
    fn decoded(text: &str) -> String {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    }

    /// Asserts that no spelling of `secret` is in `shown`, nor the secret in its decoding.
    fn assert_gone(shown: &str, secret: &str, text: &str) -> Result<(), TestCaseError> {
        for spelled in spellings(secret) {
            prop_assert!(
                !shown.contains(&spelled),
                "{spelled:?} in {shown:?} (from {text:?})"
            );
        }
        prop_assert!(
            !decoded(shown).contains(secret),
            "{secret:?} in the decoding of {shown:?} (from {text:?})"
        );
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_secret_never_survives_whatever_surrounds_it(
            secret in secret(),
            which in any::<proptest::sample::Index>(),
            before in affix(PIECES),
            after in affix(PIECES),
        ) {
            let r = Redactor::new().secret(&secret);
            let all = spellings(&secret);
            let text = format!("{before}{}{after}", which.get(&all));
            assert_gone(&r.redact(&text), &secret, &text)?;
        }

        #[test]
        fn errors_never_show_a_secret_whatever_surrounds_it(
            secret in secret(),
            which in any::<proptest::sample::Index>(),
            before in affix(PIECES),
            after in affix(PIECES),
        ) {
            use crate::error::{ApiError, TransportFailure};
            let token = Token::new(&secret);
            let all = spellings(&secret);
            let text = format!("{before}{}{after}", which.get(&all));
            let body = serde_json::json!({
                "error": {"type": "x", "message": text, "data": {"sent": text}}
            });
            let api = ApiError::from_body(
                400,
                body.to_string().as_bytes(),
                1,
                http::Method::GET,
                "/v2/x".into(),
            );
            let transport = TransportFailure {
                kind: crate::transport::TransportErrorKind::OTHER,
                message: text.clone(),
                attempt: 1,
                method: http::Method::GET,
                path: "/v2/x".into(),
                transport: "builtin".into(),
                retryable: false,
            };
            for e in [
                crate::Error::from(api.redacted(Some(&token))),
                crate::Error::from(transport.redacted(Some(&token))),
            ] {
                for shown in [e.to_string(), format!("{e:?}"), format!("{e:#?}")] {
                    assert_gone(&shown, &secret, &text)?;
                }
            }
        }

        #[test]
        fn only_the_secret_is_masked(
            secret in "[A-Za-z0-9][A-Za-z0-9_.~-]{4,30}[A-Za-z0-9]",
            before in affix(PIECES),
            after in affix(PIECES),
        ) {
            // Whatever the rest of the text turns into, it does the same around the mask.
            let r = Redactor::new().secret(&secret);
            prop_assert_eq!(
                r.redact(&format!("{before}{secret}{after}")),
                r.redact(&format!("{before}{MASK}{after}"))
            );
        }

        #[test]
        fn short_secrets_never_survive_next_to_an_escape(
            // Letters and digits none of the escapes holds.
            secret in "[G-Z4-8][G-Z4-8_]{0,4}",
            before in affix(ESCAPES),
            after in affix(ESCAPES_AFTER),
        ) {
            let r = Redactor::new().secret(&secret);
            let text = format!("{before}{secret}{after}");
            let out = r.redact(&text);
            prop_assert!(!out.contains(&secret), "{text:?} -> {out:?}");
            prop_assert!(!decoded(&out).contains(&secret), "{text:?} -> {out:?}");
        }

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
