//! What Actor runs and builds share (their status), and what starting a run shares between
//! Actors and tasks: the input, the start options with their ad-hoc webhooks, and the
//! encoding of those webhooks the API expects.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{options::options_setters, wait::is_terminal_status};
use crate::{pipeline::ApiRequest, Error};

/// The status of an Actor run or build. A status this client does not know yet is kept as
/// [`ActorJobStatus::Unknown`], so a newer API never breaks an older client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ActorJobStatus {
    /// Started, waiting for resources.
    Ready,
    /// Running.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Being stopped because it ran out of time.
    TimingOut,
    /// Stopped because it ran out of time.
    TimedOut,
    /// Being aborted.
    Aborting,
    /// Aborted.
    Aborted,
    /// A status this client does not know, as the API spelled it.
    Unknown(String),
}

impl ActorJobStatus {
    /// The API's spelling (`SUCCEEDED`, `TIMED-OUT`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            ActorJobStatus::Ready => "READY",
            ActorJobStatus::Running => "RUNNING",
            ActorJobStatus::Succeeded => "SUCCEEDED",
            ActorJobStatus::Failed => "FAILED",
            ActorJobStatus::TimingOut => "TIMING-OUT",
            ActorJobStatus::TimedOut => "TIMED-OUT",
            ActorJobStatus::Aborting => "ABORTING",
            ActorJobStatus::Aborted => "ABORTED",
            ActorJobStatus::Unknown(s) => s,
        }
    }

    /// Whether the job will never change its status again.
    pub fn is_terminal(&self) -> bool {
        is_terminal_status(self.as_str())
    }
}

impl From<&str> for ActorJobStatus {
    fn from(s: &str) -> Self {
        match s {
            "READY" => ActorJobStatus::Ready,
            "RUNNING" => ActorJobStatus::Running,
            "SUCCEEDED" => ActorJobStatus::Succeeded,
            "FAILED" => ActorJobStatus::Failed,
            "TIMING-OUT" => ActorJobStatus::TimingOut,
            "TIMED-OUT" => ActorJobStatus::TimedOut,
            "ABORTING" => ActorJobStatus::Aborting,
            "ABORTED" => ActorJobStatus::Aborted,
            other => ActorJobStatus::Unknown(other.to_string()),
        }
    }
}

impl std::fmt::Display for ActorJobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ActorJobStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ActorJobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(ActorJobStatus::from(s.as_ref()))
    }
}

/// The input of a run (or of a task, an input validation, a metamorph).
#[derive(Debug, Clone, PartialEq)]
pub enum RunInput {
    /// A JSON value, sent as `application/json; charset=utf-8`.
    Json(serde_json::Value),
    /// Bytes sent as they are, with their content type.
    Raw {
        /// The `Content-Type` to send.
        content_type: String,
        /// The body.
        body: Bytes,
    },
}

impl RunInput {
    /// Any serializable value as JSON input.
    pub fn json(value: &(impl Serialize + ?Sized)) -> Result<Self, Error> {
        serde_json::to_value(value)
            .map(RunInput::Json)
            .map_err(|e| {
                Error::invalid_input(format!("the run input cannot be encoded: {e}")).with_source(e)
            })
    }

    /// Raw bytes with their content type (e.g. `text/plain`, `application/octet-stream`).
    pub fn raw(content_type: impl Into<String>, body: impl Into<Bytes>) -> Self {
        RunInput::Raw {
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// `req` with this input as its body.
    pub(crate) fn attach(&self, req: ApiRequest) -> Result<ApiRequest, Error> {
        match self {
            RunInput::Json(v) => req.json(v),
            RunInput::Raw { content_type, body } => Ok(req.body(content_type, body.clone())),
        }
    }
}

/// What [`ActorClient::call`](crate::clients::ActorClient::call) and its siblings take as input, behind
/// a reference: a [`RunInput`] as it is, any other [`Serialize`] value (a `serde_json::Value`,
/// your own struct...) as JSON. So `Some(&json!({..}))`, `Some(&value)`, `Some(&input)` and
/// `None` all fit an `Option<&(dyn ToRunInput + Sync)>`.
pub trait ToRunInput {
    /// The input to send.
    fn to_run_input(&self) -> Result<RunInput, Error>;
}

impl ToRunInput for RunInput {
    fn to_run_input(&self) -> Result<RunInput, Error> {
        Ok(self.clone())
    }
}

impl<T: Serialize> ToRunInput for T {
    fn to_run_input(&self) -> Result<RunInput, Error> {
        RunInput::json(self)
    }
}

/// `input` as a [`RunInput`], once, before any request.
pub(crate) fn to_run_input(
    input: Option<&(dyn ToRunInput + Sync)>,
) -> Result<Option<RunInput>, Error> {
    input.map(ToRunInput::to_run_input).transpose()
}

impl From<serde_json::Value> for RunInput {
    fn from(v: serde_json::Value) -> Self {
        RunInput::Json(v)
    }
}

/// An ad-hoc webhook of one run: called when the run reaches one of `event_types`. The fields
/// are those of the API's `WebhookRepresentation`; absent ones are not sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AdHocWebhook {
    /// Events that trigger it, e.g. `ACTOR.RUN.SUCCEEDED`, `ACTOR.RUN.FAILED`.
    pub event_types: Vec<String>,
    /// The URL the webhook calls.
    pub request_url: String,
    /// The template of the JSON payload (`{{resource}}` and the like are interpolated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_template: Option<String>,
    /// The template of the request headers, a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers_template: Option<String>,
    /// Also interpolate `{{...}}` inside string values of the templates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub should_interpolate_strings: Option<bool>,
    /// A key that keeps a retried start from creating the webhook twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Ignore TLS errors of the webhook's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore_ssl_errors: Option<bool>,
    /// Do not retry a failed webhook call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_not_retry: Option<bool>,
}

impl AdHocWebhook {
    /// A webhook that calls `request_url` on each of `event_types`.
    pub fn new(
        event_types: impl IntoIterator<Item = impl Into<String>>,
        request_url: impl Into<String>,
    ) -> Self {
        AdHocWebhook {
            event_types: event_types.into_iter().map(Into::into).collect(),
            request_url: request_url.into(),
            ..Default::default()
        }
    }
}

/// The `webhooks` query parameter: base64 of the JSON list, written byte for byte as the
/// Python client's `encode_webhooks_to_base64` writes it (`json.dumps` with its `", "` and
/// `": "` separators and `\uXXXX` for every non-ASCII character), so both clients send the same
/// string. `None` for no webhooks, so the parameter is left out.
pub(crate) fn encode_webhooks(webhooks: &[AdHocWebhook]) -> Result<Option<String>, Error> {
    if webhooks.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonJsonFormatter);
    webhooks.serialize(&mut ser).map_err(|e| {
        Error::invalid_input(format!("the webhooks cannot be encoded: {e}")).with_source(e)
    })?;
    Ok(Some(base64::engine::general_purpose::STANDARD.encode(out)))
}

/// `serialize_with` for the `webhooks` field of the start options.
fn webhooks_param<S: Serializer>(webhooks: &[AdHocWebhook], s: S) -> Result<S::Ok, S::Error> {
    match encode_webhooks(webhooks).map_err(serde::ser::Error::custom)? {
        Some(b64) => s.serialize_str(&b64),
        None => s.serialize_none(),
    }
}

/// `serialize_with` for a duration sent in whole seconds (`timeout` of a run).
pub(crate) fn duration_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(d.as_secs()),
        None => s.serialize_none(),
    }
}

/// The formatting of Python's `json.dumps` defaults.
struct PythonJsonFormatter;

impl serde_json::ser::Formatter for PythonJsonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        // `ensure_ascii`: everything outside space..`~` as `\uXXXX` (UTF-16 units).
        for c in fragment.chars() {
            if (' '..='~').contains(&c) {
                w.write_all(&[c as u8])?;
            } else {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    write!(w, "\\u{u:04x}")?;
                }
            }
        }
        Ok(())
    }
}

/// How to start a run of an Actor or a task: the query parameters of `POST …/runs`. Unset
/// fields take the Actor's (or task's) defaults.
///
/// ```no_run
/// # async fn demo(client: apify_host::ApifyClient) -> Result<(), apify_host::Error> {
/// use std::time::Duration;
///
/// use apify_host::{models::AdHocWebhook, options::StartOptions};
/// use serde_json::json;
///
/// let opts = StartOptions::new()
///     .build("beta")
///     .memory_mbytes(1024)
///     .run_timeout(Duration::from_secs(300))
///     .webhook(AdHocWebhook::new(["ACTOR.RUN.SUCCEEDED"], "https://example.com/hook"));
/// let run = client.actor("apify/hello-world").start(Some(&json!({ "q": 1 })), &opts).await?;
/// println!("started {}", run.id);
/// client.task("my-task").start(None, &StartOptions::new().wait_for_finish(60)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StartOptions {
    /// The build to run: a tag (`latest`) or a number (`0.1.2`).
    pub build: Option<String>,
    /// At most this many results (pay-per-result Actors charge no more).
    pub max_items: Option<u64>,
    /// A limit of the total charge in USD (pay-per-event Actors).
    pub max_total_charge_usd: Option<f64>,
    /// Restart the run when it exits with a non-zero status.
    pub restart_on_error: Option<bool>,
    /// Memory of the run, in megabytes.
    #[serde(rename = "memory")]
    pub memory_mbytes: Option<u64>,
    /// The run's timeout (sent in whole seconds).
    #[serde(rename = "timeout", serialize_with = "duration_secs")]
    pub run_timeout: Option<Duration>,
    /// Override the Actor's permission level for this run (`LIMITED_PERMISSIONS`,
    /// `FULL_PERMISSIONS`); Actors only.
    pub force_permission_level: Option<String>,
    /// Seconds (at most 60) the API holds the answer while the run is not finished.
    pub wait_for_finish: Option<u64>,
    /// Ad-hoc webhooks of this run.
    #[serde(serialize_with = "webhooks_param")]
    pub webhooks: Vec<AdHocWebhook>,
}

options_setters! {
    StartOptions {
        /// the build to run: a tag (`latest`) or a number (`0.1.2`).
        build: Option<String>,
        /// at most this many results (pay-per-result Actors charge no more).
        max_items: Option<u64>,
        /// a limit of the total charge in USD (pay-per-event Actors).
        max_total_charge_usd: Option<f64>,
        /// restart the run when it exits with a non-zero status.
        restart_on_error: Option<bool>,
        /// memory of the run, in megabytes.
        memory_mbytes: Option<u64>,
        /// the run's timeout (sent in whole seconds).
        run_timeout: Option<Duration>,
        /// override the Actor's permission level for this run (`LIMITED_PERMISSIONS`,
        /// `FULL_PERMISSIONS`); Actors only.
        force_permission_level: Option<String>,
        /// seconds (at most 60) the API holds the answer while the run is not finished.
        wait_for_finish: Option<u64>,
        /// the ad-hoc webhooks of this run (replacing any set before; see
        /// [`StartOptions::webhook`] to add one).
        webhooks: Vec<AdHocWebhook>,
    }
}

impl StartOptions {
    /// Adds an ad-hoc webhook to [`StartOptions::webhooks`].
    pub fn webhook(mut self, webhook: AdHocWebhook) -> Self {
        self.webhooks.push(webhook);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::base::query::to_params;

    /// Made with the Python client 3.x (`pip install apify-client`):
    /// ```python
    /// from apify_client._utils.encoding import encode_webhooks_to_base64 as e
    /// print(e([{'event_types': ['ACTOR.RUN.SUCCEEDED', 'ACTOR.RUN.FAILED'],
    ///           'request_url': 'https://example.com/hook',
    ///           'payload_template': '{"runId": {{resource.id}}}',
    ///           'headers_template': '{"X-A": "b"}'}]))
    /// ```
    const PYTHON_WEBHOOKS_B64: &str = "W3siZXZlbnRUeXBlcyI6IFsiQUNUT1IuUlVOLlNVQ0NFRURFRCIsICJBQ1RPUi5SVU4uRkFJTEVEIl0sICJyZXF1ZXN0VXJsIjogImh0dHBzOi8vZXhhbXBsZS5jb20vaG9vayIsICJwYXlsb2FkVGVtcGxhdGUiOiAie1wicnVuSWRcIjoge3tyZXNvdXJjZS5pZH19fSIsICJoZWFkZXJzVGVtcGxhdGUiOiAie1wiWC1BXCI6IFwiYlwifSJ9XQ==";

    fn python_vector_webhook() -> AdHocWebhook {
        AdHocWebhook {
            payload_template: Some(r#"{"runId": {{resource.id}}}"#.into()),
            headers_template: Some(r#"{"X-A": "b"}"#.into()),
            ..AdHocWebhook::new(
                ["ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"],
                "https://example.com/hook",
            )
        }
    }

    #[test]
    fn webhooks_encode_as_the_python_client_does() {
        let got = encode_webhooks(&[python_vector_webhook()]).unwrap();
        assert_eq!(got.as_deref(), Some(PYTHON_WEBHOOKS_B64));
        assert_eq!(encode_webhooks(&[]).unwrap(), None);
        // `ensure_ascii`: non-ASCII as UTF-16 escapes, astral characters as surrogate pairs.
        let hook = AdHocWebhook::new(["X"], "https://h/é😀\u{7f}");
        let b64 = encode_webhooks(&[hook]).unwrap().unwrap();
        let json = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"[{"eventTypes": ["X"], "requestUrl": "https://h/\u00e9\ud83d\ude00\u007f"}]"#
        );
    }

    #[test]
    fn start_options_become_the_api_parameters() {
        let opts = StartOptions::new()
            .build("beta")
            .max_items(10)
            .max_total_charge_usd(2.5)
            .restart_on_error(true)
            .memory_mbytes(1024)
            .run_timeout(Duration::from_secs(300))
            .wait_for_finish(60)
            .webhook(python_vector_webhook());
        let params: Vec<(String, Option<String>)> = to_params(&opts)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.encode()))
            .collect();
        let want = [
            ("build", "beta"),
            ("maxItems", "10"),
            ("maxTotalChargeUsd", "2.5"),
            ("restartOnError", "true"),
            ("memory", "1024"),
            ("timeout", "300"),
            ("waitForFinish", "60"),
            ("webhooks", PYTHON_WEBHOOKS_B64),
        ];
        let want: Vec<(String, Option<String>)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect();
        assert_eq!(params, want);
        assert!(to_params(&StartOptions::default()).unwrap().is_empty());
    }

    #[test]
    fn status_serde_both_ways_with_unknown_values() {
        for (s, status) in [
            ("READY", ActorJobStatus::Ready),
            ("RUNNING", ActorJobStatus::Running),
            ("SUCCEEDED", ActorJobStatus::Succeeded),
            ("FAILED", ActorJobStatus::Failed),
            ("TIMING-OUT", ActorJobStatus::TimingOut),
            ("TIMED-OUT", ActorJobStatus::TimedOut),
            ("ABORTING", ActorJobStatus::Aborting),
            ("ABORTED", ActorJobStatus::Aborted),
            ("PAUSED", ActorJobStatus::Unknown("PAUSED".into())),
        ] {
            let json = format!("\"{s}\"");
            assert_eq!(
                serde_json::from_str::<ActorJobStatus>(&json).unwrap(),
                status
            );
            assert_eq!(serde_json::to_string(&status).unwrap(), json);
        }
        let terminal: Vec<_> = ["SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"]
            .map(ActorJobStatus::from)
            .to_vec();
        assert!(terminal.iter().all(ActorJobStatus::is_terminal));
        for s in ["READY", "RUNNING", "TIMING-OUT", "ABORTING", "PAUSED"] {
            assert!(!ActorJobStatus::from(s).is_terminal(), "{s}");
        }
    }
}
