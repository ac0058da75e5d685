//! Dataset item transforms (`fields`, `omit`, `skipHidden`, `skipEmpty`/`clean`) and output
//! formats (`json`, `jsonl`, `csv`), working on the stored JSON text.
//!
//! Objects are read as ordered `(key, raw value)` lists so that key order survives (the API
//! keeps the order items were written in) and values are copied, never re-serialized.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{ApiError, ApiResult};
use crate::params::Params;

/// Copies valid JSON text into `out` without insignificant whitespace.
pub fn minify_into(json: &[u8], out: &mut Vec<u8>) {
    out.reserve(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !b.is_ascii_whitespace() {
            if b == b'"' {
                in_string = true;
            }
            out.push(b);
        }
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON object's entries in document order.
pub struct Entries<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    entries.push((k.0, v));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Entries<'a> {
    /// Parses a stored item (always a valid JSON object).
    pub fn parse(item: &'a [u8]) -> Option<Self> {
        serde_json::from_slice(item).ok()
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, k.as_ref()).expect("writing to a Vec cannot fail");
            out.push(b':');
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
    }
}

/// Whether an item keeps at least one field once hidden (`#…`) fields are dropped; such items
/// count in `cleanItemCount`.
pub fn is_clean(item: &[u8]) -> bool {
    Entries::parse(item).is_some_and(|e| e.0.iter().any(|(k, _)| !k.starts_with('#')))
}

/// What to do to each item on the way out.
#[derive(Debug, Default, Clone)]
pub struct ItemFilter {
    /// Keep only these fields, in this order.
    pub fields: Option<Vec<String>>,
    /// Drop these fields.
    pub omit: Option<Vec<String>>,
    /// Drop fields whose name starts with `#`.
    pub skip_hidden: bool,
    /// Leave out items with no fields (after the other transforms).
    pub skip_empty: bool,
}

impl ItemFilter {
    /// Reads `fields`, `omit`, `clean`, `skipHidden` and `skipEmpty`.
    pub fn from_params(params: &Params) -> Self {
        let clean = params.flag_or("clean", false);
        Self {
            fields: params.list("fields"),
            omit: params.list("omit"),
            skip_hidden: clean || params.flag_or("skipHidden", false),
            skip_empty: clean || params.flag_or("skipEmpty", false),
        }
    }

    /// Whether items pass through untouched (then no parsing is needed).
    pub fn is_identity(&self) -> bool {
        self.fields.is_none() && self.omit.is_none() && !self.skip_hidden && !self.skip_empty
    }

    /// Writes the transformed item to `out`; returns false (and writes nothing) when it is
    /// skipped as empty.
    pub fn apply(&self, item: &[u8], out: &mut Vec<u8>) -> bool {
        if self.is_identity() {
            out.extend_from_slice(item);
            return true;
        }
        let Some(entries) = self.transform(item) else {
            out.extend_from_slice(item);
            return true;
        };
        if self.skip_empty && entries.0.is_empty() {
            return false;
        }
        entries.write(out);
        true
    }

    /// The item's entries after `fields`/`omit`/`skipHidden` (None if it does not parse).
    pub fn transform<'a>(&self, item: &'a [u8]) -> Option<Entries<'a>> {
        let Entries(mut entries) = Entries::parse(item)?;
        if let Some(fields) = &self.fields {
            // Output follows the order of `fields`, as the API documents.
            let mut picked = Vec::with_capacity(fields.len());
            for field in fields {
                if let Some(pos) = entries.iter().position(|(k, _)| k == field) {
                    picked.push(entries[pos].clone());
                }
            }
            entries = picked;
        }
        if let Some(omit) = &self.omit {
            entries.retain(|(k, _)| !omit.iter().any(|o| o == k));
        }
        if self.skip_hidden {
            entries.retain(|(k, _)| !k.starts_with('#'));
        }
        Some(Entries(entries))
    }
}

/// An output format of `GET /v2/datasets/{id}/items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// A CSV table, nested values flattened to `a/b` and `a/0` columns.
    Csv,
}

impl Format {
    /// Reads `format` (default `json`); the formats this server does not render are a 400.
    pub fn from_params(params: &Params) -> ApiResult<Self> {
        match params
            .string("format")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("json") => Ok(Format::Json),
            Some("jsonl") => Ok(Format::Jsonl),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(ApiError::invalid_input(format!(
                "Format \"{other}\" is not supported by the local API (supported: json, jsonl, csv)"
            ))),
        }
    }

    /// The response's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Jsonl => "application/jsonl; charset=utf-8",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    /// The file extension used in `Content-Disposition` for `attachment=1`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

/// Builds a CSV table from items: columns in order of first appearance, nested objects and
/// arrays flattened to `parent/child` columns (as the API does).
pub struct CsvTable {
    delimiter: u8,
    columns: Vec<String>,
    index: HashMap<String, usize>,
    rows: Vec<Vec<(usize, String)>>,
}

impl CsvTable {
    /// An empty table with the given one-byte delimiter.
    pub fn new(delimiter: u8) -> Self {
        Self {
            delimiter,
            columns: Vec::new(),
            index: HashMap::new(),
            rows: Vec::new(),
        }
    }

    /// Adds one (already transformed) item as a row.
    pub fn add(&mut self, entries: &Entries<'_>) {
        let mut cells = Vec::new();
        let mut prefix = String::new();
        for (k, v) in &entries.0 {
            prefix.clear();
            prefix.push_str(k);
            flatten(&mut prefix, v, &mut cells);
        }
        let row = cells
            .into_iter()
            .map(|(name, value)| {
                let next = self.columns.len();
                let col = *self.index.entry(name.clone()).or_insert(next);
                if col == next {
                    self.columns.push(name);
                }
                (col, value)
            })
            .collect();
        self.rows.push(row);
    }

    /// Writes the table, header row first unless `skip_header`.
    pub fn write(&self, skip_header: bool, out: &mut Vec<u8>) {
        if !skip_header {
            for (i, c) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(self.delimiter);
                }
                self.cell(c, out);
            }
            out.push(b'\n');
        }
        let mut line = vec![None; self.columns.len()];
        for row in &self.rows {
            line.iter_mut().for_each(|c| *c = None);
            for (col, value) in row {
                line[*col] = Some(value.as_str());
            }
            for (i, cell) in line.iter().enumerate() {
                if i > 0 {
                    out.push(self.delimiter);
                }
                self.cell(cell.unwrap_or(""), out);
            }
            out.push(b'\n');
        }
    }

    fn cell(&self, value: &str, out: &mut Vec<u8>) {
        let needs_quotes = value
            .bytes()
            .any(|b| b == self.delimiter || b == b'"' || b == b'\n' || b == b'\r');
        if needs_quotes {
            out.push(b'"');
            for b in value.bytes() {
                if b == b'"' {
                    out.push(b'"');
                }
                out.push(b);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(value.as_bytes());
        }
    }
}

fn flatten(prefix: &mut String, value: &RawValue, cells: &mut Vec<(String, String)>) {
    let text = value.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            if let Ok(Entries(entries)) = serde_json::from_str::<Entries>(text) {
                let len = prefix.len();
                for (k, v) in entries {
                    prefix.push('/');
                    prefix.push_str(&k);
                    flatten(prefix, v, cells);
                    prefix.truncate(len);
                }
            }
        }
        Some(b'[') => {
            if let Ok(list) = serde_json::from_str::<Vec<&RawValue>>(text) {
                let len = prefix.len();
                for (i, v) in list.into_iter().enumerate() {
                    prefix.push('/');
                    prefix.push_str(&i.to_string());
                    flatten(prefix, v, cells);
                    prefix.truncate(len);
                }
            }
        }
        Some(b'"') => {
            let s: String = serde_json::from_str(text).unwrap_or_default();
            cells.push((prefix.clone(), s));
        }
        Some(b'n') => cells.push((prefix.clone(), String::new())),
        _ => cells.push((prefix.clone(), text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings() {
        let mut out = Vec::new();
        minify_into(br#"{ "a b" : [1, 2], "c":"x \" y" }"#, &mut out);
        assert_eq!(out, br#"{"a b":[1,2],"c":"x \" y"}"#);
    }

    #[test]
    fn fields_order_and_hidden() {
        let f = ItemFilter {
            fields: Some(vec!["b".into(), "#h".into(), "a".into()]),
            skip_hidden: true,
            ..Default::default()
        };
        let mut out = Vec::new();
        assert!(f.apply(br##"{"a":1,"#h":2,"b":{"x":1}}"##, &mut out));
        assert_eq!(out, br#"{"b":{"x":1},"a":1}"#);
    }

    #[test]
    fn csv_flattens() {
        let mut t = CsvTable::new(b',');
        t.add(&Entries::parse(br#"{"a":1,"b":{"c":"x,y"},"d":[true,null]}"#).unwrap());
        t.add(&Entries::parse(br#"{"e":"q\"q"}"#).unwrap());
        let mut out = Vec::new();
        t.write(false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b/c,d/0,d/1,e\n1,\"x,y\",true,,\n,,,,\"q\"\"q\"\n"
        );
    }
}
