//! Query parameters of one request, decoded once, with the API's lenient accessors.

use crate::error::{ApiError, ApiResult};

/// Query parameters of one request, decoded once.
///
/// The API reads booleans as `true`/`1` (anything else is false) and numbers leniently, so the
/// handlers use these accessors instead of serde's strict `Query` extractor.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Decodes a raw query string (without the `?`).
    pub fn parse(query: Option<&str>) -> Self {
        match query {
            Some(q) if !q.is_empty() => Params(
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            ),
            _ => Params::default(),
        }
    }

    /// The last value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty string value.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// A boolean flag: `true` or `1` is true, any other value false, absent is `None`.
    pub fn flag(&self, name: &str) -> Option<bool> {
        self.get(name)
            .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// A boolean flag with a default for when it is absent.
    pub fn flag_or(&self, name: &str, default: bool) -> bool {
        self.flag(name).unwrap_or(default)
    }

    /// A non-negative integer; a fractional value is truncated, a negative or non-numeric one is
    /// a 400 `invalid-input`.
    pub fn number(&self, name: &str) -> ApiResult<Option<u64>> {
        let Some(raw) = self.string(name) else {
            return Ok(None);
        };
        if let Ok(n) = raw.parse::<u64>() {
            return Ok(Some(n));
        }
        match raw.parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Ok(Some(f as u64)),
            _ => Err(ApiError::invalid_input(format!(
                "Invalid value of the \"{name}\" parameter: it must be a non-negative number, got \"{raw}\""
            ))),
        }
    }

    /// These parameters with `defaults` added before them (a value given in the query wins).
    pub fn with_defaults(self, defaults: Vec<(String, String)>) -> Self {
        let mut all = defaults;
        all.extend(self.0);
        Params(all)
    }

    /// The parameters encoded again as a query string (`None` when there are none).
    pub fn raw_query(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            out.append_pair(k, v);
        }
        Some(out.finish())
    }

    /// A comma-separated list, with empty entries dropped.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.string(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}
