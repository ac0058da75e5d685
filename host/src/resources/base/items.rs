//! A JSON array parsed item by item as its body arrives: what `list_items` reads a page into.
//!
//! Parsing the whole body at the end holds the body and the items at once (200 MB of body
//! beside ~950 MB of `Value`s for a 424k-item page). Here each item is parsed as soon as its
//! last byte has arrived, and only the item that straddles two chunks is copied: the peak is
//! the items plus one chunk. The splitter only finds where each top-level item ends (strings,
//! escapes and nesting); serde_json parses and validates every item, and the splitter checks
//! what lies between them (commas, the brackets, nothing after the array).

use std::any::Any;

use serde::de::DeserializeOwned;

use crate::{pipeline::BodySink, Error};

/// Where the splitter is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the opening `[`.
    Before,
    /// Between `[` and `]`.
    Inside,
    /// After the closing `]`: only whitespace may follow.
    After,
}

/// The deepest nesting of an item the splitter follows (serde_json refuses deeper ones too).
const MAX_DEPTH: u32 = 128;

/// A straddling item's buffer larger than this is freed once the item is parsed, rather than
/// kept for the next one.
const KEEP_CARRY: usize = 1 << 20;

/// Parses a JSON array's items into a `Vec<T>` as chunks arrive.
pub(crate) struct ArrayItems<T> {
    items: Vec<T>,
    phase: Phase,
    /// Nesting inside the current item (0: at the array's own level).
    depth: u32,
    in_string: bool,
    /// The previous byte was a backslash inside a string (it may end a chunk).
    escaped: bool,
    /// The current item has begun (a byte other than whitespace since the last delimiter).
    started: bool,
    /// A comma was read since the last item: an item must follow.
    after_comma: bool,
    /// The bytes of the current item from earlier chunks.
    carry: Vec<u8>,
}

impl<T> ArrayItems<T> {
    pub(crate) fn new() -> Self {
        ArrayItems {
            items: Vec::new(),
            phase: Phase::Before,
            depth: 0,
            in_string: false,
            escaped: false,
            started: false,
            after_comma: false,
            carry: Vec::new(),
        }
    }

    /// The items parsed, once the body has ended.
    pub(crate) fn into_items(self) -> Vec<T> {
        self.items
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn not_json(why: impl std::fmt::Display) -> Error {
    Error::decode(format!(
        "the API answered with a body that is not the expected JSON array of items: {why}"
    ))
}

impl<T: DeserializeOwned> ArrayItems<T> {
    /// Parses the item that ends at `chunk[..end]` (its start is `start` in this chunk, or in
    /// `carry` when it began in an earlier one).
    fn item(&mut self, chunk: &[u8], start: Option<usize>, end: usize) -> Result<(), Error> {
        let parsed = match start {
            Some(start) => serde_json::from_slice(&chunk[start..end]),
            None => {
                self.carry.extend_from_slice(&chunk[..end]);
                let parsed = serde_json::from_slice(&self.carry);
                if self.carry.capacity() > KEEP_CARRY {
                    self.carry = Vec::new();
                } else {
                    self.carry.clear();
                }
                parsed
            }
        };
        let item = parsed.map_err(|e| not_json(format!("item {}: {e}", self.items.len())))?;
        self.items.push(item);
        self.started = false;
        Ok(())
    }

    /// The array's own level: a comma or the closing bracket ends the current item.
    fn delimiter(
        &mut self,
        chunk: &[u8],
        start: Option<usize>,
        at: usize,
        closing: bool,
    ) -> Result<(), Error> {
        if self.started {
            self.item(chunk, start, at)?;
        } else if self.after_comma {
            return Err(not_json(format!(
                "item {} is missing (a comma with no item after it)",
                self.items.len()
            )));
        } else if !closing {
            return Err(not_json(format!(
                "item {} is missing (a comma with no item before it)",
                self.items.len()
            )));
        }
        self.after_comma = !closing;
        if closing {
            self.phase = Phase::After;
        }
        Ok(())
    }
}

impl<T: DeserializeOwned + Send + 'static> BodySink for ArrayItems<T> {
    fn push(&mut self, chunk: &[u8]) -> Result<(), Error> {
        // Where the current item starts in this chunk; `None` while it lives in `carry`
        // (or has not started).
        let mut start = None;
        let mut i = 0;
        while i < chunk.len() {
            match self.phase {
                Phase::Before => {
                    match chunk[i] {
                        b if is_space(b) => {}
                        b'[' => self.phase = Phase::Inside,
                        b if b.is_ascii_graphic() => {
                            return Err(not_json(format!(
                                "it starts with {:?}, not `[`",
                                char::from(b)
                            )))
                        }
                        b => {
                            return Err(not_json(format!(
                                "it starts with the byte 0x{b:02x}, not `[`"
                            )))
                        }
                    }
                    i += 1;
                    continue;
                }
                Phase::After => {
                    if !is_space(chunk[i]) {
                        return Err(not_json("there is more after the array's closing `]`"));
                    }
                    i += 1;
                    continue;
                }
                Phase::Inside => {}
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // Most of an item is string contents: skip to the next quote or backslash.
                match memchr::memchr2(b'"', b'\\', &chunk[i..]) {
                    Some(n) => {
                        i += n;
                        if chunk[i] == b'"' {
                            self.in_string = false;
                        } else {
                            self.escaped = true;
                        }
                        i += 1;
                    }
                    None => i = chunk.len(),
                }
                continue;
            }
            let b = chunk[i];
            if self.depth == 0 {
                match b {
                    b',' | b']' => {
                        self.delimiter(chunk, start, i, b == b']')?;
                        start = None;
                        i += 1;
                        continue;
                    }
                    b if is_space(b) && !self.started => {
                        i += 1;
                        continue;
                    }
                    _ if !self.started => {
                        self.started = true;
                        start = Some(i);
                    }
                    _ => {}
                }
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(not_json(format!(
                            "item {} nests deeper than {MAX_DEPTH} levels",
                            self.items.len()
                        )));
                    }
                }
                // An unbalanced closer is left for serde_json to name, at the item's end.
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        if self.started {
            self.carry.extend_from_slice(&chunk[start.unwrap_or(0)..]);
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Error> {
        match self.phase {
            Phase::After => Ok(()),
            Phase::Before => Err(not_json("the body is empty")),
            Phase::Inside => Err(not_json(format!(
                "the body ended before the array's closing `]` ({} complete {})",
                self.items.len(),
                if self.items.len() == 1 {
                    "item"
                } else {
                    "items"
                }
            ))),
        }
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Feeds `body` in chunks cut at `cuts` and answers the items or the error's message.
    fn split(body: &[u8], cuts: &[usize]) -> Result<Vec<Value>, String> {
        let mut sink = ArrayItems::<Value>::new();
        let mut at = 0;
        for &cut in cuts.iter().chain(std::iter::once(&body.len())) {
            let cut = cut.clamp(at, body.len());
            sink.push(&body[at..cut]).map_err(|e| e.to_string())?;
            at = cut;
        }
        sink.finish().map_err(|e| e.to_string())?;
        Ok(sink.into_items())
    }

    #[test]
    fn items_are_parsed_wherever_the_chunks_are_cut() {
        let body = br#" [ {"a": "x,]}\"y", "b": [1, {"c": null}]}, 2, "s\\", [], {} , -1.5e3 ] "#;
        let whole: Vec<Value> = serde_json::from_slice(body).unwrap();
        for cut in 0..=body.len() {
            assert_eq!(split(body, &[cut]).unwrap(), whole, "cut at {cut}");
        }
        // One byte at a time.
        let cuts: Vec<usize> = (1..body.len()).collect();
        assert_eq!(split(body, &cuts).unwrap(), whole);
        assert_eq!(split(b"[]", &[1]).unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn what_is_not_an_array_of_items_is_named() {
        for (body, says) in [
            (&b"{\"a\": 1}"[..], "it starts with '{', not `[`"),
            (b"", "the body is empty"),
            (
                b"[1, 2",
                "ended before the array's closing `]` (1 complete item)",
            ),
            (b"\xef\xbb\xbf[1]", "it starts with the byte 0xef, not `[`"),
            (b"[1, 2] x", "there is more after the array's closing `]`"),
            (b"[1,,2]", "item 1 is missing"),
            (b"[1,]", "item 1 is missing (a comma with no item after it)"),
            (b"[,]", "item 0 is missing (a comma with no item before it)"),
            (b"[{\"a\" 1}]", "item 0:"),
            (b"[1 2]", "item 0: trailing characters"),
            (b"[{]}]", "item 0:"),
        ] {
            let e = split(body, &[]).unwrap_err();
            assert!(e.contains(says), "{:?}: {e}", String::from_utf8_lossy(body));
            assert!(e.contains("not the expected JSON array of items"), "{e}");
        }
        // Nesting is followed to serde_json's own limit, and no further (however long the
        // body): 128 levels parse, 129 are refused at the 129th bracket.
        let nested = |n: usize| format!("[{}{}]", "[".repeat(n), "]".repeat(n)).into_bytes();
        assert_eq!(split(&nested(127), &[]).unwrap().len(), 1);
        let e = split(&nested(200), &[]).unwrap_err();
        assert!(e.contains("item 0 nests deeper than 128 levels"), "{e}");
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[a-z\\\\\"\\[\\]{},: ]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\",\\]]{0,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any array of values, pretty or compact, cut anywhere, gives back the same items as
        /// parsing the whole body.
        #[test]
        fn chunking_never_changes_the_items(
            items in prop::collection::vec(json_value(), 0..6),
            pretty in any::<bool>(),
            cuts in prop::collection::vec(0usize..400, 0..6),
        ) {
            let body = if pretty {
                serde_json::to_vec_pretty(&items).unwrap()
            } else {
                serde_json::to_vec(&items).unwrap()
            };
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(split(&body, &cuts).unwrap(), items);
        }
    }
}
