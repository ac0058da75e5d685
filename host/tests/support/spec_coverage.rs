//! The harness of the spec-coverage test: runs a table of `(label, operation)` against Prism
//! through the recording transport of `cli/tests/cli/support/prism.rs`, and maps every request
//! sent to the spec operation (method + path template) it exercises.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use futures_util::future::BoxFuture;
use serde_json::Value;

use apify_host::{pipeline::HttpSettings, ApifyClient, Error};

use crate::prism::{self, Exchange, Log, Recorder, Verdict};

/// One library method called once with realistic arguments; the client is a cheap clone.
pub type Op = fn(ApifyClient) -> BoxFuture<'static, Result<(), Error>>;

/// A table row: `op!(|c| { c.schedules().list(&Default::default()).await?; })`.
macro_rules! op {
    (|$c:ident| $body:block) => {{
        let f: Op = |$c: apify_host::ApifyClient| {
            Box::pin(async move {
                $body;
                #[allow(unreachable_code)]
                Ok(())
            })
        };
        f
    }};
}

/// One operation of the spec.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpecOp {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path template, e.g. `/v2/datasets/{datasetId}`.
    pub template: String,
    /// The spec's `operationId`.
    pub id: String,
    /// Marked `deprecated: true`.
    pub deprecated: bool,
}

/// Every operation of the spec.
pub fn spec_operations(spec: &Value) -> Vec<SpecOp> {
    let mut out = Vec::new();
    for (template, item) in spec["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            if !matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
            ) {
                continue;
            }
            out.push(SpecOp {
                method: method.to_ascii_uppercase(),
                template: template.clone(),
                id: op["operationId"].as_str().unwrap_or("?").to_string(),
                deprecated: op["deprecated"].as_bool().unwrap_or(false),
            });
        }
    }
    out.sort();
    out
}

/// The spec operation a request exercises: among the templates that match its method and
/// path, the most specific (most literal segments: `/requests/batch` over
/// `/requests/{requestId}`, `/users/me` over `/users/{userId}`).
pub fn operation_of<'a>(ops: &'a [SpecOp], method: &str, path: &str) -> Option<&'a SpecOp> {
    let got: Vec<&str> = path.split('/').collect();
    ops.iter()
        .filter(|o| o.method == method)
        .filter_map(|o| {
            let want: Vec<&str> = o.template.split('/').collect();
            let fits = got.len() == want.len()
                && got.iter().zip(&want).all(|(g, w)| {
                    if w.starts_with('{') {
                        !g.is_empty()
                    } else {
                        g == w
                    }
                });
            fits.then(|| (want.iter().filter(|w| !w.starts_with('{')).count(), o))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, o)| o)
}

/// What one table row did.
pub struct RowResult {
    /// The row's label.
    pub label: &'static str,
    /// The requests it sent, with Prism's verdicts.
    pub exchanges: Vec<Exchange>,
    /// The client's result.
    pub result: Result<(), Error>,
}

/// Runs every row once, in order, against Prism at `base_url`.
pub async fn run_table(
    base_url: &str,
    token: &str,
    table: &[(&'static str, Op)],
) -> Vec<RowResult> {
    let log: Log = Arc::default();
    let client = ApifyClient::builder()
        .api_url(base_url)
        .token(token)
        // Prism does not decode gzip request bodies; and a rejection must surface at once.
        .settings(
            HttpSettings::default()
                .compress_requests(false)
                .max_retries(0)
                .min_delay_between_retries(Duration::from_millis(10)),
        )
        .transport(Arc::new(Recorder::new(log.clone())))
        .build()
        .expect("client");
    let mut out = Vec::new();
    for (label, op) in table {
        prism::take(&log);
        let result = op(client.clone()).await;
        out.push(RowResult {
            label,
            exchanges: prism::take(&log),
            result,
        });
    }
    out
}

/// The coverage and the problems of a run.
pub struct Coverage {
    /// Spec operation (method, template) → the labels of the rows that exercised it.
    pub hit: BTreeMap<(String, String), BTreeSet<&'static str>>,
    /// Every problem: rejected requests, requests outside the spec, rows that sent nothing
    /// or failed for a reason other than Prism's example responses.
    pub problems: Vec<String>,
    /// Rows whose client-side decoding of Prism's example failed (tolerated, listed).
    pub decode_errors: Vec<String>,
    /// Violations Prism reports below the `Error` severity (listed, not failed).
    pub warnings: Vec<String>,
    /// The rows of known spec gaps, with Prism's rejection (listed, not failed).
    pub spec_gaps: Vec<String>,
}

/// A row whose request the spec rejects though the API accepts it and the Python client sends
/// it the same way: `(label, why)`. Listed instead of failed; a listed row the spec accepts
/// again fails, so the list stays true.
pub type SpecGap = (&'static str, &'static str);

/// Judges the rows against the spec operations; the rows of `gaps` must be rejected, and
/// count for no operation.
pub fn judge(ops: &[SpecOp], rows: &[RowResult], gaps: &[SpecGap]) -> Coverage {
    let mut cov = Coverage {
        hit: BTreeMap::new(),
        problems: Vec::new(),
        decode_errors: Vec::new(),
        warnings: Vec::new(),
        spec_gaps: Vec::new(),
    };
    for row in rows {
        let gap = gaps.iter().find(|(label, _)| *label == row.label);
        let mut problems = Vec::new();
        if row.exchanges.is_empty() {
            problems.push(format!("{}: sent no request", row.label));
        }
        let mut mocked = false;
        for e in &row.exchanges {
            for w in &e.warnings {
                cov.warnings
                    .push(format!("{}: {} {}: {w}", row.label, e.method, e.target));
            }
            match &e.verdict {
                Verdict::Rejected(v) => problems.push(format!(
                    "{}: Prism REJECTED {} {} (status {}): {v}",
                    row.label, e.method, e.target, e.status
                )),
                Verdict::NoResponse(m) => problems.push(format!(
                    "{}: no response to {} {}: {m}",
                    row.label, e.method, e.target
                )),
                Verdict::MockLimitation(_) => mocked = true,
                Verdict::Accepted => {}
            }
            match operation_of(ops, &e.method, e.path()) {
                Some(op) if gap.is_none() => {
                    cov.hit
                        .entry((op.method.clone(), op.template.clone()))
                        .or_default()
                        .insert(row.label);
                }
                Some(_) => {}
                None => problems.push(format!(
                    "{}: {} {} is not an operation of the spec",
                    row.label, e.method, e.target
                )),
            }
        }
        match &row.result {
            Ok(()) => {}
            Err(e) if e.is_decode() => cov.decode_errors.push(format!("{}: {e}", row.label)),
            Err(e)
                if e.is_api()
                    && (mocked || row.exchanges.iter().any(|x| x.verdict.is_failure())) => {}
            Err(e) => problems.push(format!("{}: failed: {e}", row.label)),
        }
        match gap {
            None => cov.problems.extend(problems),
            Some((label, why)) if problems.is_empty() => cov.problems.push(format!(
                "{label}: listed as a spec gap ({why}), but the spec accepts it now: remove it from the list"
            )),
            Some((label, why)) => cov
                .spec_gaps
                .push(format!(
                    "{label}: {why}\n      {}",
                    problems
                        .iter()
                        .map(|p| p.trim_start_matches(label).trim_start_matches(": "))
                        .collect::<Vec<_>>()
                        .join("; ")
                )),
        }
    }
    cov
}
