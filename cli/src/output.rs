//! Data on stdout: JSON, JSON lines or a table; streamed bodies to stdout or a file, with a
//! progress bar on stderr when stderr is a terminal.

use std::{
    future::Future,
    io::{IsTerminal, Seek, Write},
    path::{Path, PathBuf},
};

use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde_json::Value;

use super::CliError;
use apify_host::clients::StreamedBody;

/// How data is printed on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Pretty-printed JSON: the object, or the whole page of a list.
    Json,
    /// One compact JSON value per line: the object, or each item of a list.
    Jsonl,
    /// Aligned columns for people.
    Table,
}

/// A table column: its header and the item field it shows.
pub type Column = (&'static str, &'static str);

/// Prints command results to stdout in the chosen format.
pub struct Printer {
    format: OutputFormat,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Printer {
    /// A printer to stdout.
    pub fn new(format: OutputFormat) -> Self {
        Printer {
            format,
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    fn w(&mut self, text: &str) -> Result<(), CliError> {
        self.out
            .write_all(text.as_bytes())
            .map_err(|e| CliError::write("stdout", e))
    }

    /// Plain text, as is.
    pub fn text(&mut self, text: &str) -> Result<(), CliError> {
        self.w(text)?;
        self.flush()
    }

    /// Flushes stdout.
    pub fn flush(&mut self) -> Result<(), CliError> {
        self.out.flush().map_err(|e| CliError::write("stdout", e))
    }

    /// One object: JSON, one JSON line, or `field  value` rows (`fields` first, then the rest
    /// of the top-level fields).
    pub fn object<T: Serialize>(&mut self, value: &T, fields: &[&str]) -> Result<(), CliError> {
        let v = to_value(value)?;
        match self.format {
            OutputFormat::Json => self.w(&format!("{}\n", pretty(&v))),
            OutputFormat::Jsonl => self.w(&format!("{v}\n")),
            OutputFormat::Table => {
                let rows = object_rows(&v, fields);
                let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, val) in rows {
                    self.w(&format!("{k:<width$}  {val}\n"))?;
                }
                Ok(())
            }
        }?;
        self.flush()
    }

    /// A page of a list: the whole page as JSON, each item as a JSON line, or a table of
    /// `columns` with a `total` footer.
    pub fn page<T: Serialize>(
        &mut self,
        page: &T,
        items: &[Value],
        columns: &[Column],
        footer: Option<String>,
    ) -> Result<(), CliError> {
        match self.format {
            OutputFormat::Json => self.w(&format!("{}\n", pretty(&to_value(page)?)))?,
            OutputFormat::Jsonl => {
                for item in items {
                    self.w(&format!("{item}\n"))?;
                }
            }
            OutputFormat::Table => {
                self.table(items, columns)?;
                if let Some(f) = footer {
                    self.w(&format!("{f}\n"))?;
                }
            }
        }
        self.flush()
    }

    /// A list that arrives page by page. JSON is written as one array as items arrive, JSON
    /// lines one by one; a table needs every row for the column widths, so it collects them.
    pub async fn stream_list<T: Serialize, E: Into<CliError>>(
        &mut self,
        mut items: impl Stream<Item = Result<T, E>> + Unpin,
        columns: &[Column],
    ) -> Result<u64, CliError> {
        let mut n = 0u64;
        let mut rows = Vec::new();
        if self.format == OutputFormat::Json {
            self.w("[")?;
        }
        while let Some(item) = items.next().await {
            let v = to_value(&item.map_err(Into::into)?)?;
            match self.format {
                OutputFormat::Json => {
                    let sep = if n == 0 { "\n" } else { ",\n" };
                    let text = indent(&pretty(&v));
                    self.w(&format!("{sep}{text}"))?;
                }
                OutputFormat::Jsonl => self.w(&format!("{v}\n"))?,
                OutputFormat::Table => rows.push(v),
            }
            n += 1;
        }
        match self.format {
            OutputFormat::Json => self.w(if n == 0 { "]\n" } else { "\n]\n" })?,
            OutputFormat::Jsonl => {}
            OutputFormat::Table => self.table(&rows, columns)?,
        }
        self.flush()?;
        Ok(n)
    }

    fn table(&mut self, items: &[Value], columns: &[Column]) -> Result<(), CliError> {
        let cells: Vec<Vec<String>> = items
            .iter()
            .map(|item| columns.iter().map(|(_, f)| cell(item.get(*f))).collect())
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, (h, _))| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([h.len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |values: Vec<&str>| -> String {
            let mut s = String::new();
            for (i, v) in values.iter().enumerate() {
                if i + 1 == values.len() {
                    s.push_str(v);
                } else {
                    let pad = widths[i].saturating_sub(v.chars().count());
                    s.push_str(v);
                    s.push_str(&" ".repeat(pad + 2));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let header = line(columns.iter().map(|(h, _)| *h).collect());
        self.w(&header)?;
        for row in &cells {
            let text = line(row.iter().map(String::as_str).collect());
            self.w(&text)?;
        }
        Ok(())
    }
}

/// Items as JSON values, for [`Printer::page`].
pub fn json_items<T: Serialize>(items: &[T]) -> Vec<Value> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
        .collect()
}

fn to_value<T: Serialize>(v: &T) -> Result<Value, CliError> {
    serde_json::to_value(v).map_err(|e| CliError::failure(format!("cannot format the result: {e}")))
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A table cell: strings bare, `-` for absent/null, other values as compact JSON, on one line,
/// cut at 80 characters so one long value cannot stretch a whole column.
fn cell(v: Option<&Value>) -> String {
    let s = field(v);
    if s.chars().count() > 80 {
        s.chars().take(79).collect::<String>() + "…"
    } else {
        s
    }
}

/// A value on one line: strings bare, `-` for absent/null, other values as compact JSON.
fn field(v: Option<&Value>) -> String {
    let s = match v {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    s.replace(['\n', '\r', '\t'], " ")
}

/// `(field, value)` rows of an object: `first` in order, then the other fields.
fn object_rows(v: &Value, first: &[&str]) -> Vec<(String, String)> {
    let Some(map) = v.as_object() else {
        return vec![("value".to_string(), field(Some(v)))];
    };
    let mut rows: Vec<(String, String)> = first
        .iter()
        .filter(|k| map.contains_key(**k))
        .map(|k| (k.to_string(), field(map.get(*k))))
        .collect();
    rows.extend(
        map.iter()
            .filter(|(k, _)| !first.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), field(Some(v)))),
    );
    rows
}

/// Where a streamed body goes.
enum Sink {
    Stdout(std::io::BufWriter<std::io::Stdout>),
    /// A temporary file in the target's folder, renamed over the target once the body is
    /// complete, so an interrupted download never leaves a truncated file under the final
    /// name. Created by `tempfile` with `O_CREAT | O_EXCL`, mode 0600 and a random name: a
    /// file or symlink planted at a predictable name can be neither followed nor overwritten.
    /// Dropping it (on any error) deletes it.
    File {
        file: std::io::BufWriter<tempfile::NamedTempFile>,
        target: PathBuf,
    },
}

impl Sink {
    fn open(out: Option<&Path>) -> Result<Self, CliError> {
        const BUF: usize = 256 * 1024;
        let Some(target) = out else {
            return Ok(Sink::Stdout(std::io::BufWriter::with_capacity(
                BUF,
                std::io::stdout(),
            )));
        };
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target.file_name().ok_or_else(|| {
            CliError::usage(format!("--out {} is not a file name", target.display()))
        })?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", name.to_string_lossy()))
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| {
                CliError::usage(format!(
                    "cannot create a temporary file in {} for --out: {e}",
                    dir.display()
                ))
            })?;
        Ok(Sink::File {
            file: std::io::BufWriter::with_capacity(BUF, tmp),
            target: target.to_path_buf(),
        })
    }

    fn what(&self) -> String {
        match self {
            Sink::Stdout(_) => "stdout".to_string(),
            Sink::File { target, .. } => target.display().to_string(),
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(s) => s,
            Sink::File { file, .. } => file,
        }
    }

    /// Empties a file sink to write the body again from its start; stdout cannot be rewound.
    fn rewind(&mut self) -> Result<bool, CliError> {
        let Sink::File { file, target } = self else {
            return Ok(false);
        };
        let what = target.display().to_string();
        file.flush().map_err(|e| CliError::write(&what, e))?;
        let f = file.get_mut().as_file_mut();
        f.set_len(0)
            .and_then(|()| f.seek(std::io::SeekFrom::Start(0)).map(|_| ()))
            .map_err(|e| CliError::write(&what, e))?;
        Ok(true)
    }

    /// Flushes; a file is synced and renamed over its target.
    fn finish(self) -> Result<(), CliError> {
        let what = self.what();
        match self {
            Sink::Stdout(mut s) => s.flush().map_err(|e| CliError::write(&what, e)),
            Sink::File { file, target } => {
                let tmp = file
                    .into_inner()
                    .map_err(|e| CliError::write(&what, e.into_error()))?;
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| CliError::write(&what, e))?;
                // rename(2): atomic, and it replaces a symlink at the target rather than
                // following it.
                tmp.persist(&target).map_err(|e| {
                    CliError::failure(format!(
                        "cannot move the download into {}: {}",
                        target.display(),
                        e.error
                    ))
                })?;
                Ok(())
            }
        }
    }
}

/// How a copy of one body ended early.
enum CopyError {
    /// The body broke (the library already resumed what it could).
    Body(apify_host::Error),
    /// The sink could not be written.
    Write(CliError),
}

/// How many times a download into a file restarts from the start when the server cannot
/// resume it: the file can be rewound, stdout cannot.
const FILE_RESTARTS: u32 = 2;

/// Writes `body` to stdout or `out` chunk by chunk (memory stays bounded by the chunk size),
/// with a progress bar on stderr when stderr is a terminal. Answers the byte count.
///
/// A body that breaks mid-way has already been resumed by the library where the server
/// supports ranges. If it still fails, a file is emptied and written again from a fresh
/// `reopen()` (at most [`FILE_RESTARTS`] times; `reopen` answers `None` when the call must
/// not be repeated); stdout cannot be rewound, so the error says how many bytes it got.
/// With `out`, the file appears complete or not at all: on an error or Ctrl-C (SIGINT,
/// SIGTERM) the temporary file is removed.
///
/// Writes are plain blocking writes: this runs on the thread that drives the command (the
/// runtime's workers keep the connections going), and a slow reader of stdout should slow
/// the download down rather than make it pile up in memory.
pub async fn write_body<F, Fut>(
    body: StreamedBody,
    out: Option<&Path>,
    reopen: F,
) -> Result<u64, CliError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<StreamedBody>, CliError>>,
{
    // Only a file download has something to clean up; stdout keeps the default Ctrl-C. The
    // handlers go in before the temporary file exists, so no signal can leave it behind.
    let signals = match out {
        Some(_) => Some(Signals::register()?),
        None => None,
    };
    let mut sink = Sink::open(out)?;
    let what = sink.what();
    let result = if let Some(mut signals) = signals {
        tokio::select! {
            r = copy_with_restarts(body, &mut sink, reopen) => r,
            signal = signals.recv() => Err(CliError::Interrupted(format!(
                "interrupted by {signal}: the partial download was removed and {what} was not \
                 written"
            ))),
        }
    } else {
        copy_with_restarts(body, &mut sink, reopen).await
    };
    // On an error the sink is dropped here, which deletes a temporary file.
    let written = result?;
    sink.finish()?;
    Ok(written)
}

/// SIGINT and SIGTERM, caught while a file download is in progress.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers (from here on the signals no longer kill the process).
    fn register() -> Result<Self, CliError> {
        use tokio::signal::unix::{signal, SignalKind};
        let failed = |e| CliError::failure(format!("cannot handle Ctrl-C: {e}"));
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(failed)?,
            term: signal(SignalKind::terminate()).map_err(failed)?,
        })
    }

    /// Resolves at the first SIGINT or SIGTERM with the signal's name.
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "Ctrl-C (SIGINT)",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}

async fn copy_with_restarts<F, Fut>(
    mut body: StreamedBody,
    sink: &mut Sink,
    mut reopen: F,
) -> Result<u64, CliError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<StreamedBody>, CliError>>,
{
    let what = sink.what();
    let mut restarts = 0;
    loop {
        let bar = progress_bar(body.content_length());
        let copied = copy(&mut body, sink, &bar).await;
        bar.finish_and_clear();
        let (written, e) = match copied {
            Ok(n) => return Ok(n),
            Err((_, CopyError::Write(e))) => return Err(e),
            Err((n, CopyError::Body(e))) => (n, e),
        };
        let transient = e.transport_failure().is_some_and(|f| f.is_transient());
        if transient && restarts < FILE_RESTARTS && sink.rewind()? {
            if let Some(fresh) = reopen().await? {
                restarts += 1;
                tracing::info!(
                    written,
                    restarts,
                    "download broke; writing it again from the start"
                );
                body = fresh;
                continue;
            }
        }
        return Err(match CliError::from(e) {
            CliError::Transport(m) => CliError::Transport(format!(
                "{m} ({written} bytes had been written to {what} before the break)"
            )),
            CliError::Failure(m) => CliError::Failure(format!(
                "{m} ({written} bytes had been written to {what} before the break)"
            )),
            other => other,
        });
    }
}

/// Copies `body` into `sink`; on failure, answers how many bytes were written before it.
async fn copy(
    body: &mut StreamedBody,
    sink: &mut Sink,
    bar: &indicatif::ProgressBar,
) -> Result<u64, (u64, CopyError)> {
    let what = sink.what();
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| (written, CopyError::Body(e)))?;
        sink.writer()
            .write_all(&chunk)
            .map_err(|e| (written, CopyError::Write(CliError::write(&what, e))))?;
        written += chunk.len() as u64;
        bar.set_position(written);
    }
    Ok(written)
}

/// A byte progress bar on stderr, hidden unless stderr is a terminal (so logs and pipes stay
/// clean).
fn progress_bar(len: Option<u64>) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match len {
        Some(n) => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner().with_style(
            indicatif::ProgressStyle::with_template("{spinner} {bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar
}

/// Prints a confirmation to stderr (data stays alone on stdout).
pub(crate) fn note(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_are_one_line() {
        assert_eq!(cell(Some(&json!("a\nb"))), "a b");
        assert_eq!(cell(Some(&json!(null))), "-");
        assert_eq!(cell(None), "-");
        assert_eq!(cell(Some(&json!(3))), "3");
    }

    #[test]
    fn object_rows_put_named_fields_first() {
        let rows = object_rows(&json!({"b": 1, "id": "x"}), &["id"]);
        assert_eq!(rows[0], ("id".to_string(), "x".to_string()));
    }
}
