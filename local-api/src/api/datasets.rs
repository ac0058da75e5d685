//! Dataset items and statistics (`/v2/datasets/{id}/items`, `/statistics`).

use std::convert::Infallible;
use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::json;

use crate::db::dataset::{Dataset, NewItems};
use crate::db::items::{CsvTable, Entries, Format, ItemFilter};
use crate::db::storage::{Stats, Storage};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::web::body::JsonPayload;
use crate::web::extract::Found;
use crate::web::response::{data_response, json_bytes_response};

/// What the API reports in `X-Apify-Pagination-Limit` when no `limit` was asked for.
pub const NO_LIMIT: u64 = 999_999_999_999;

/// Items rendered per chunk of a streamed answer (and per read-lock hold).
const BATCH: usize = 1000;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v2/datasets/{id}/items", get(get_items).post(post_items))
        .route("/v2/datasets/{id}/statistics", get(statistics))
}

/// The part of the dataset one request reads, fixed when the request starts: items appended
/// meanwhile are not included, like a snapshot.
#[derive(Clone)]
struct Window {
    /// Physical positions covered.
    range: Range<usize>,
    /// Newest first.
    desc: bool,
}

impl Window {
    /// Number of batches of [`BATCH`] items.
    fn batches(&self) -> usize {
        self.range.len().div_ceil(BATCH)
    }

    /// The physical positions of batch `k`, in the order they are output.
    fn batch(&self, k: usize) -> Range<usize> {
        let Range { start, end } = self.range.clone();
        if self.desc {
            let hi = end.saturating_sub(k * BATCH).max(start);
            hi.saturating_sub(BATCH).max(start)..hi
        } else {
            let lo = (start + k * BATCH).min(end);
            lo..(lo + BATCH).min(end)
        }
    }
}

/// Everything needed to render items, shareable with a streaming body.
struct Render {
    dataset: Arc<Dataset>,
    window: Window,
    filter: ItemFilter,
    format: Format,
    bom: bool,
}

impl Render {
    /// Renders batch `k` (with the array's opening/closing where due) into `out`.
    fn batch(&self, k: usize, first: &mut bool, out: &mut Vec<u8>) {
        if k == 0 {
            if self.bom {
                out.extend_from_slice("\u{feff}".as_bytes());
            }
            if self.format == Format::Json {
                out.push(b'[');
            }
        }
        let format = self.format;
        self.dataset
            .for_each_in(self.window.batch(k), self.window.desc, |item| {
                let mark = out.len();
                if format == Format::Json && !*first {
                    out.push(b',');
                }
                if self.filter.apply(item, out) {
                    if format == Format::Jsonl {
                        out.push(b'\n');
                    }
                    *first = false;
                } else {
                    out.truncate(mark);
                }
            });
        if k + 1 >= self.window.batches() && self.format == Format::Json {
            out.push(b']');
        }
    }

    /// Renders everything into one buffer.
    fn all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut first = true;
        for k in 0..self.window.batches().max(1) {
            self.batch(k, &mut first, &mut out);
        }
        out
    }

    /// Renders a CSV table (built in memory: the header needs every item's columns first).
    fn csv(&self, delimiter: u8, skip_header: bool) -> Vec<u8> {
        let mut table = CsvTable::new(delimiter);
        for k in 0..self.window.batches() {
            self.dataset
                .for_each_in(self.window.batch(k), self.window.desc, |item| {
                    if let Some(entries) =
                        self.filter.transform(item).or_else(|| Entries::parse(item))
                    {
                        if !(self.filter.skip_empty && entries.0.is_empty()) {
                            table.add(&entries);
                        }
                    }
                });
        }
        let mut out = Vec::new();
        if self.bom {
            out.extend_from_slice("\u{feff}".as_bytes());
        }
        table.write(skip_header, &mut out);
        out
    }
}

async fn get_items(
    Found {
        storage: dataset,
        params: p,
        ..
    }: Found<Dataset>,
    method: Method,
) -> ApiResult<Response> {
    let format = Format::from_params(&p)?;
    let filter = ItemFilter::from_params(&p);
    let offset = p.number("offset")?.unwrap_or(0);
    let limit = p.number("limit")?;
    let desc = p.flag_or("desc", false);
    let delimiter = match p.get("delimiter") {
        Some(d) if d.len() == 1 => d.as_bytes()[0],
        Some(d) if !d.is_empty() => {
            return Err(crate::error::ApiError::invalid_input(
                "The \"delimiter\" parameter must be a single character",
            ))
        }
        _ => b',',
    };
    let bom = p.flag("bom").unwrap_or(format == Format::Csv);

    let total = dataset.item_count();
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(total);
    let end = limit.map_or(total, |l| {
        start
            .saturating_add(usize::try_from(l).unwrap_or(usize::MAX))
            .min(total)
    });
    // Offsets count from the newest item when `desc`.
    let range = if desc {
        total - end..total - start
    } else {
        start..end
    };
    Stats::bump(&dataset.meta().stats.read);
    dataset.meta().touch();

    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let mut pagination = |name: &'static str, value: String| {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("numbers are valid header values"),
        );
    };
    pagination("x-apify-pagination-offset", offset.to_string());
    pagination(
        "x-apify-pagination-limit",
        limit.unwrap_or(NO_LIMIT).to_string(),
    );
    // Like the API, the count is of the window read, before empty items are skipped.
    pagination("x-apify-pagination-count", (end - start).to_string());
    pagination("x-apify-pagination-total", total.to_string());
    pagination("x-apify-pagination-desc", desc.to_string());
    if p.flag_or("attachment", false) {
        let name = dataset
            .meta()
            .name()
            .unwrap_or_else(|| dataset.meta().id.clone());
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"dataset_{name}.{}\"",
            format.extension()
        )) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    if method == Method::HEAD {
        return Ok((StatusCode::OK, headers).into_response());
    }

    let render = Render {
        dataset,
        window: Window { range, desc },
        filter,
        format,
        bom,
    };
    let body = match format {
        Format::Csv => {
            let skip_header = p.flag_or("skipHeaderRow", false);
            Body::from(render.csv(delimiter, skip_header))
        }
        _ if render.window.batches() <= 2 => Body::from(render.all()),
        // Large answers are rendered batch by batch as the client reads them, so memory stays
        // flat and the items lock is never held for long.
        _ => Body::from_stream(futures_util::stream::unfold(
            (render, 0usize, true),
            |(render, k, mut first)| async move {
                if k >= render.window.batches() {
                    return None;
                }
                let mut out = Vec::with_capacity(64 * 1024);
                render.batch(k, &mut first, &mut out);
                Some((Ok::<Bytes, Infallible>(out.into()), (render, k + 1, first)))
            },
        )),
    };
    Ok((StatusCode::OK, headers, body).into_response())
}

/// `POST /v2/datasets/{id}/items`: a JSON object or an array of objects; 201.
async fn post_items(
    Found {
        state,
        storage: dataset,
        ..
    }: Found<Dataset>,
    JsonPayload(body): JsonPayload,
) -> ApiResult<Response> {
    let items = NewItems::from_body(&body)?;
    dataset.append(items);
    let mut response = json_bytes_response(StatusCode::CREATED, Bytes::from_static(b"{}"));
    let location = format!(
        "{}/v2/datasets/{}/items",
        state.identity.base_url,
        dataset.meta().id
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// `GET /v2/datasets/{id}/statistics`: no field statistics are computed locally.
async fn statistics(Found { storage, .. }: Found<Dataset>) -> Response {
    storage.meta().touch();
    data_response(StatusCode::OK, &json!({ "fieldStatistics": null }))
}
