//! Command input (items, record values, requests, `api --body`): an argument, `@file`, or `-`
//! for stdin. JSON input is parsed before anything is sent, so a typo never reaches the API.

use std::{
    io::{IsTerminal, Read},
    path::PathBuf,
    str::FromStr,
};

use bytes::Bytes;
use serde::Deserialize as _;
use serde_json::Value;

use super::CliError;

/// Where an input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputSource {
    /// The argument's text itself.
    Inline(String),
    /// `@path`: the file's content.
    File(PathBuf),
    /// `-`: standard input.
    Stdin,
}

impl FromStr for InputSource {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(if s == "-" {
            InputSource::Stdin
        } else if let Some(path) = s.strip_prefix('@') {
            InputSource::File(PathBuf::from(path))
        } else {
            InputSource::Inline(s.to_string())
        })
    }
}

impl std::fmt::Display for InputSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputSource::Inline(_) => f.write_str("the command-line argument"),
            InputSource::File(p) => write!(f, "the file {}", p.display()),
            InputSource::Stdin => f.write_str("standard input"),
        }
    }
}

/// Input that was read, with where it came from.
#[derive(Debug, Clone)]
pub struct Input {
    /// The bytes as given.
    pub bytes: Bytes,
    /// Where they came from.
    pub source: InputSource,
}

/// Parsed JSON input, with the original bytes (sent as given, not re-serialized).
#[derive(Debug, Clone)]
pub struct JsonInput {
    /// The parsed value.
    pub value: Value,
    /// The bytes as given.
    pub bytes: Bytes,
    /// Where they came from.
    pub source: InputSource,
}

impl InputSource {
    /// Reads the whole input.
    pub fn read(&self) -> Result<Input, CliError> {
        let bytes = match self {
            InputSource::Inline(s) => Bytes::from(s.clone()),
            InputSource::File(p) => Bytes::from(std::fs::read(p).map_err(|e| {
                CliError::usage(format!("cannot read the input file {}: {e}", p.display()))
            })?),
            InputSource::Stdin => {
                if std::io::stdin().is_terminal() {
                    eprintln!("reading from standard input (end with Ctrl-D)...");
                }
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| CliError::usage(format!("cannot read standard input: {e}")))?;
                Bytes::from(buf)
            }
        };
        Ok(Input {
            bytes,
            source: self.clone(),
        })
    }

    /// Reads and parses the input as JSON; the error names the source and the position.
    pub fn read_json(&self) -> Result<JsonInput, CliError> {
        self.read()?.into_json()
    }
}

impl Input {
    /// Parses the bytes as JSON; the error names the source and the line and column.
    pub fn into_json(self) -> Result<JsonInput, CliError> {
        let text = self
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&self.bytes);
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(CliError::usage(format!(
                "{} is empty; expected JSON",
                self.source
            )));
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(value) => Ok(JsonInput {
                value,
                bytes: self.bytes,
                source: self.source,
            }),
            Err(e) => Err(CliError::usage(format!(
                "{} is not valid JSON: {e} (nothing was sent)",
                self.source
            ))),
        }
    }
}

/// Requires a JSON object or an array of objects (the shape of dataset items and of request
/// queue requests); `what` names the items in the message.
pub fn require_objects(input: &JsonInput, what: &str) -> Result<usize, CliError> {
    match &input.value {
        Value::Object(_) => Ok(1),
        Value::Array(items) => {
            if let Some(i) = items.iter().position(|v| !v.is_object()) {
                return Err(CliError::usage(format!(
                    "{}: element {i} of the array is not a JSON object; expected {what} as \
                     objects (nothing was sent)",
                    input.source
                )));
            }
            Ok(items.len())
        }
        other => Err(CliError::usage(format!(
            "{} holds a JSON {}; expected {what}: an object or an array of objects (nothing was sent)",
            input.source,
            json_kind(other)
        ))),
    }
}

/// `string`, `number`, ... for messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks that the file at `path` holds one valid JSON document, reading it as a stream (a
/// multi-GiB file costs a buffer, not its size); the error names the file, line and column.
pub fn check_json_file(path: &std::path::Path) -> Result<(), CliError> {
    let file = std::fs::File::open(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the input file {}: {e}",
            path.display()
        ))
    })?;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut de = serde_json::Deserializer::from_reader(&mut reader);
    serde::de::IgnoredAny::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| {
            CliError::usage(format!(
                "the file {} is not valid JSON: {e} (nothing was sent)",
                path.display()
            ))
        })
}

/// Whether `source` is JSON Lines: a `.jsonl` or `.ndjson` file (or `forced`, for `--jsonl`).
pub fn is_jsonl(source: &InputSource, forced: bool) -> bool {
    forced
        || matches!(source, InputSource::File(p)
            if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson")))
}

/// Checks every line of a JSON Lines file (blank lines aside) is one JSON object, reading it
/// as a stream; answers the number of items. The error names the file and the line.
pub fn check_jsonl_file(path: &std::path::Path) -> Result<u64, CliError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the input file {}: {e}",
            path.display()
        ))
    })?;
    let mut items = 0;
    for (i, line) in std::io::BufReader::with_capacity(256 * 1024, file)
        .split(b'\n')
        .enumerate()
    {
        let line = line.map_err(|e| {
            CliError::usage(format!(
                "cannot read the input file {}: {e}",
                path.display()
            ))
        })?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |why: String| {
            CliError::usage(format!(
                "line {} of {} {why}; expected one JSON object per line (nothing was sent)",
                i + 1,
                path.display()
            ))
        };
        match serde_json::from_slice::<Value>(&line) {
            Ok(Value::Object(_)) => items += 1,
            Ok(other) => return Err(bad(format!("holds a JSON {}", json_kind(&other)))),
            Err(e) => return Err(bad(format!("is not valid JSON ({e})"))),
        }
    }
    Ok(items)
}

/// The non-blank lines of a JSON Lines source (a file, or standard input), as a stream of
/// chunks for `push_items_stream`, read as they are sent.
pub fn jsonl_lines(
    source: &InputSource,
) -> Result<futures_util::stream::BoxStream<'static, std::io::Result<Bytes>>, CliError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncBufReadExt;
    let reader: Box<dyn tokio::io::AsyncRead + Send + Unpin> = match source {
        InputSource::File(p) => {
            Box::new(tokio::fs::File::from_std(std::fs::File::open(p).map_err(
                |e| CliError::usage(format!("cannot read the input file {}: {e}", p.display())),
            )?))
        }
        InputSource::Stdin => Box::new(tokio::io::stdin()),
        InputSource::Inline(s) => Box::new(std::io::Cursor::new(s.clone().into_bytes())),
    };
    let lines = tokio::io::BufReader::with_capacity(256 * 1024, reader).split(b'\n');
    Ok(futures_util::stream::unfold(lines, |mut lines| async move {
        loop {
            return match lines.next_segment().await {
                Ok(Some(line)) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(Some(line)) => Some((Ok(Bytes::from(line)), lines)),
                Ok(None) => None,
                Err(e) => Some((Err(e), lines)),
            };
        }
    })
    .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert_eq!("-".parse::<InputSource>().unwrap(), InputSource::Stdin);
        assert_eq!(
            "@a.json".parse::<InputSource>().unwrap(),
            InputSource::File("a.json".into())
        );
        assert_eq!(
            "{}".parse::<InputSource>().unwrap(),
            InputSource::Inline("{}".into())
        );
    }

    #[test]
    fn json_errors_name_source_and_position() {
        let e = InputSource::Inline("[1,\n 2,,]".into())
            .read_json()
            .unwrap_err();
        let CliError::Usage(m) = e else { panic!() };
        assert!(
            m.contains("the command-line argument is not valid JSON"),
            "{m}"
        );
        assert!(m.contains("line 2 column"), "{m}");
    }
}
