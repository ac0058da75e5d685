//! The API's models, written once: `Deserialize` reads the fields a model names (camelCase)
//! and keeps every other field of the object in its [`Extra`], in ONE pass over the JSON, and
//! the extra fields stay raw JSON text until somebody looks at them.
//!
//! Why: for the 1.3 KiB `GET /v2/users/me` body, `#[serde(flatten)] extra: Map` cost about
//! 12 µs per call (serde first copies the whole object into an intermediate tree, then builds a
//! `Value` for every nested field: `profile`, `plan`, `proxy`, ...), a quarter of the client's
//! CPU per call with the kernel's TCP work included (perf, transports bench). Read in one pass
//! with raw extras it is about 2 µs. Serialization keeps the derive (`flatten` costs nothing
//! there).
//!
//! Timestamps are `Option<DateTime<Utc>>`, read leniently (see [`ExtraBuilder::timestamp`]: a
//! value that is not an RFC 3339 time does not fail the model, it stays in `extra` as sent) and
//! written as the API writes them (see [`serialize_timestamp`]).

use std::{
    borrow::Cow,
    fmt,
    ops::{Deref, DerefMut},
    sync::OnceLock,
};

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::{ser::SerializeMap, Serialize, Serializer};
use serde_json::{value::RawValue, Map, Value};

/// The fields of a model that the model does not name, as the API sent them: a JSON object
/// that reads like a `serde_json::Map` (`extra["plan"]`, `extra.get("meta")`, `.keys()`,
/// iteration), parsed on first use. Most callers never look at them, so most never pay for
/// building them.
///
/// [`Extra::to_json`] gives the fields in the order the API sent them. Iterating goes in
/// `serde_json::Map`'s order: by key, or as sent if your program turns on serde_json's
/// `preserve_order` feature (this library does not turn it on for you).
#[derive(Default)]
pub struct Extra {
    /// The object's text (only fields the model does not name; checked by the JSON parser as
    /// it was read), or `None`.
    raw: Option<Box<str>>,
    /// The parsed object, built from `raw` on first access.
    map: OnceLock<Map<String, Value>>,
}

impl Extra {
    /// No extra fields.
    pub fn new() -> Self {
        Extra::default()
    }

    /// The extra fields as JSON text (`{}` when there are none): what the API sent, or what
    /// they became after a change through `&mut`.
    pub fn to_json(&self) -> String {
        match &self.raw {
            // Still the truth: a change through `&mut` drops it.
            Some(raw) => raw.to_string(),
            None => serde_json::to_string(&**self).unwrap_or_else(|_| "{}".into()),
        }
    }

    /// Builds from the text of a JSON object the deserializer has already checked.
    fn from_raw(raw: Box<str>) -> Self {
        Extra {
            raw: Some(raw),
            map: OnceLock::new(),
        }
    }
}

impl Deref for Extra {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| {
            // The text was checked by the JSON parser when the model was read, so it parses
            // again; an empty map (never a panic) if it somehow did not.
            self.raw
                .as_ref()
                .and_then(|raw| serde_json::from_str(raw).ok())
                .unwrap_or_default()
        })
    }
}

impl DerefMut for Extra {
    fn deref_mut(&mut self) -> &mut Map<String, Value> {
        let _ = Deref::deref(self);
        // From now on the map is the truth.
        self.raw = None;
        self.map.get_mut().expect("initialized just above")
    }
}

impl From<Map<String, Value>> for Extra {
    fn from(map: Map<String, Value>) -> Self {
        Extra {
            raw: None,
            map: OnceLock::from(map),
        }
    }
}

impl Clone for Extra {
    fn clone(&self) -> Self {
        Extra {
            raw: self.raw.clone(),
            map: self.map.clone(),
        }
    }
}

impl PartialEq for Extra {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for Extra {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // As a map, so that `#[serde(flatten)]` puts the fields beside the named ones. While
        // unchanged, from the text, in the order the API sent them (a `Map` would sort them
        // unless the program turned on serde_json's `preserve_order`).
        match &self.raw {
            Some(raw) => {
                let InOrder(entries) =
                    serde_json::from_str(raw).map_err(serde::ser::Error::custom)?;
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in &entries {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            None => (**self).serialize(serializer),
        }
    }
}

/// A JSON object's entries in the order of its text (a `Map` would sort them unless the
/// program turned on serde_json's `preserve_order`). Also how options become ordered query
/// parameters (`query::to_params`).
pub(crate) struct InOrder(pub(crate) Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for InOrder {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = InOrder;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<InOrder, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(InOrder(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

impl<'a> IntoIterator for &'a Extra {
    type Item = (&'a String, &'a Value);
    type IntoIter = serde_json::map::Iter<'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Collects the fields a model does not name into the text of one JSON object.
#[derive(Default)]
pub(crate) struct ExtraBuilder {
    text: Vec<u8>,
}

impl ExtraBuilder {
    /// Adds `key` (unescaped, as read) with its value's JSON text.
    pub(crate) fn push(&mut self, key: &str, value: &RawValue) {
        self.text
            .push(if self.text.is_empty() { b'{' } else { b',' });
        // Writing a `str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut self.text, key);
        self.text.push(b':');
        self.text.extend_from_slice(value.get().as_bytes());
    }

    /// The value of a timestamp field whose key is `key`: `null` is `None`, a string in RFC 3339
    /// is the time in UTC, and anything else (a string that is not such a time, a number, an
    /// object...) is `None` too but is kept under `key` with the extra fields, as sent, so the
    /// model still reads and the caller can still see it.
    pub(crate) fn timestamp(&mut self, key: &str, value: &RawValue) -> Option<DateTime<Utc>> {
        if value.get() == "null" {
            return None;
        }
        let time = parse_timestamp(value);
        if time.is_none() {
            self.push(key, value);
        }
        time
    }

    /// The collected object.
    pub(crate) fn finish(mut self) -> Extra {
        if self.text.is_empty() {
            return Extra::new();
        }
        self.text.push(b'}');
        // UTF-8 by construction (keys and values come from `str`s).
        match String::from_utf8(self.text) {
            Ok(text) => Extra::from_raw(text.into_boxed_str()),
            Err(_) => Extra::new(),
        }
    }
}

/// A timestamp as RFC 3339 text, in UTC (any offset is accepted), or `None`. Only years
/// 0000-9999 (after the shift to UTC) are taken, so that every time read is written back as
/// RFC 3339 and reads again.
fn parse_timestamp(raw: &RawValue) -> Option<DateTime<Utc>> {
    let text = raw.get();
    let s = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // The JSON parser has checked the text: without a backslash it is the string itself.
        Some(inner) if !inner.contains('\\') => Cow::Borrowed(inner),
        Some(_) => Cow::Owned(serde_json::from_str::<String>(text).ok()?),
        None => return None,
    };
    let time = DateTime::parse_from_rfc3339(&s).ok()?.with_timezone(&Utc);
    (0..=9999).contains(&time.year()).then_some(time)
}

/// A timestamp as the API writes it: RFC 3339 in UTC with milliseconds and `Z`
/// (`2024-01-02T03:04:05.678Z`). A time with a finer fraction (never from the API) keeps it
/// (six or nine digits), so nothing read is lost when it is written back.
fn format_timestamp(time: &DateTime<Utc>) -> String {
    let digits = match time.timestamp_subsec_nanos() % 1_000_000 {
        0 => SecondsFormat::Millis,
        n if n % 1_000 == 0 => SecondsFormat::Micros,
        _ => SecondsFormat::Nanos,
    };
    time.to_rfc3339_opts(digits, true)
}

/// `#[serde(serialize_with = "super::base::serialize_timestamp")]` of a model's timestamp
/// field: see [`format_timestamp`]; `None` is `null`.
pub(crate) fn serialize_timestamp<S: Serializer>(
    value: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(time) => serializer.serialize_str(&format_timestamp(time)),
        None => serializer.serialize_none(),
    }
}

/// Implements `serde::Deserialize` for a model, from its camelCase keys: each `required`
/// field must be present (else serde's "missing field" error), each `timestamps` one
/// (`Option<DateTime<Utc>>`) is read by [`ExtraBuilder::timestamp`] (a value that is not an
/// RFC 3339 time is `None` and stays in `extra`), each `optional` one keeps its `Default` when
/// absent or `null`, any other key goes into the model's [`Extra`], unparsed (`timestamps` and
/// `optional` may be left out when empty). The lists must name every field but `extra`: the
/// struct is built from them, so a field left out is a compile error, not a silent move into
/// `extra`. Timestamp fields also need
/// `#[serde(serialize_with = "super::base::serialize_timestamp")]`, to be written as the API
/// writes them.
macro_rules! deserialize_with_extra {
    ($($model:ident {
        $(required: $($req:ident),+ ;)?
        $(timestamps: $($ts:ident),+ ;)?
        $(optional: $($opt:ident),* $(,)?)?
    })*) => {$(
        impl<'de> serde::Deserialize<'de> for $model {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct ModelVisitor;
                impl<'de> serde::de::Visitor<'de> for ModelVisitor {
                    type Value = $model;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a ", stringify!($model), " object"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$model, A::Error> {
                        $($(let mut $req = None;)+)?
                        $($(let mut $ts = None;)+)?
                        $($(let mut $opt = None;)*)?
                        let mut extra = $crate::resources::base::ExtraBuilder::default();
                        while let Some(key) =
                            map.next_key_seed($crate::resources::base::KeySeed)?
                        {
                            $($(
                                if key == const_format::map_ascii_case!(
                                    const_format::Case::Camel,
                                    stringify!($req)
                                ) {
                                    $req = Some(map.next_value()?);
                                    continue;
                                }
                            )+)?
                            $($(
                                if key == const_format::map_ascii_case!(
                                    const_format::Case::Camel,
                                    stringify!($ts)
                                ) {
                                    let value: Box<serde_json::value::RawValue> =
                                        map.next_value()?;
                                    $ts = extra.timestamp(&key, &value);
                                    continue;
                                }
                            )+)?
                            $($(
                                if key == const_format::map_ascii_case!(
                                    const_format::Case::Camel,
                                    stringify!($opt)
                                ) {
                                    $opt = map.next_value()?;
                                    continue;
                                }
                            )*)?
                            let value: Box<serde_json::value::RawValue> = map.next_value()?;
                            extra.push(&key, &value);
                        }
                        Ok($model {
                            $($($req: $req.ok_or_else(|| {
                                <A::Error as serde::de::Error>::missing_field(
                                    const_format::map_ascii_case!(
                                        const_format::Case::Camel,
                                        stringify!($req)
                                    ),
                                )
                            })?,)+)?
                            $($($ts,)+)?
                            $($($opt: $opt.unwrap_or_default(),)*)?
                            extra: extra.finish(),
                        })
                    }
                }
                deserializer.deserialize_map(ModelVisitor)
            }
        }
    )*};
}
pub(crate) use deserialize_with_extra;

/// A map key, borrowed from the input when it has no escapes (no allocation for the keys a
/// model names).
pub(crate) struct KeySeed;

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeySeed {
    type Value = std::borrow::Cow<'de, str>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    use crate::models::{ActorJobStatus, RequestLockInfo, Run, Schedule, User};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + chrono::Duration::milliseconds(ms)
    }

    #[test]
    fn named_fields_are_typed_and_the_rest_is_kept_in_extra() {
        let body = json!({
            "id": "u1", "username": "ann", "email": null, "isPaying": true,
            "profile": {"name": "Ann"}, "plan": {"id": "FREE"}, "createdAt": "2024-01-01T00:00:00.000Z",
        });
        let user: User = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(user.id.as_deref(), Some("u1"));
        assert_eq!(user.username.as_deref(), Some("ann"));
        assert_eq!(user.email, None);
        assert_eq!(user.is_paying, Some(true));
        assert_eq!(
            user.created_at,
            Some(Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap())
        );
        // In `Map`'s order: by key, unless the program turns on serde_json's `preserve_order`
        // (this library does not, so a user's `Value`s stay as they chose).
        let mut extra: Vec<&str> = user.extra.keys().map(String::as_str).collect();
        extra.sort_unstable();
        assert_eq!(extra, ["plan", "profile"]);
        // Serializing gives the same object back (`email: null` included), and it reads again
        // into an equal model.
        assert_eq!(serde_json::to_value(&user).unwrap(), body);
        let again: User = serde_json::from_str(&serde_json::to_string(&user).unwrap()).unwrap();
        assert_eq!(again, user);
    }

    #[test]
    fn keys_with_escapes_match_their_field() {
        let user: User =
            serde_json::from_str(r#"{"i\u0064": "u1", "us\u0065rname": "x"}"#).unwrap();
        assert_eq!(user.id.as_deref(), Some("u1"));
        assert_eq!(user.username.as_deref(), Some("x"));
        assert!(user.extra.is_empty());
    }

    #[test]
    fn a_required_field_must_be_there_and_an_optional_null_is_its_default() {
        let err = serde_json::from_value::<Run>(json!({"id": "r1"})).unwrap_err();
        assert!(err.to_string().contains("missing field `status`"), "{err}");
        let run: Run = serde_json::from_value(json!({
            "id": "r1", "status": "RUNNING", "exitCode": null, "meta": {"origin": "API"},
        }))
        .unwrap();
        assert_eq!(run.status, ActorJobStatus::Running);
        assert_eq!(run.exit_code, None);
        assert_eq!(run.extra["meta"]["origin"], "API");
        // A wrong type in a named field is an error that names what was expected.
        let err = serde_json::from_value::<Run>(json!({"id": 5, "status": "READY"})).unwrap_err();
        assert!(
            err.to_string().contains("invalid type: integer `5`"),
            "{err}"
        );
        let err = serde_json::from_value::<Run>(json!(["r1"])).unwrap_err();
        assert!(err.to_string().contains("a Run object"), "{err}");
    }

    #[test]
    fn extra_fields_stay_text_until_read_and_changes_win() {
        // A key that needs escaping, nested values, unicode: all come back as sent.
        let text = r#"{"id":"u1","we\"ird":[1,{"a":null}],"name":"Zoë","n":1.5e3}"#;
        let mut user: User = serde_json::from_str(text).unwrap();
        assert_eq!(
            user.extra.to_json(),
            r#"{"we\"ird":[1,{"a":null}],"name":"Zoë","n":1.5e3}"#
        );
        assert_eq!(user.extra["we\"ird"][1], json!({"a": null}));
        assert_eq!(user.extra.len(), 3);
        let copy = user.clone();
        assert_eq!(copy, user);
        // A change through `&mut` is what is serialized from then on.
        user.extra.remove("name");
        user.extra.insert("added".into(), json!(true));
        assert_ne!(copy, user);
        let back = serde_json::to_value(&user).unwrap();
        assert_eq!(back["added"], true);
        assert!(back.get("name").is_none());
        assert_eq!(back["id"], "u1");
        // No extra fields: an empty map, `{}` as text.
        let bare: User = serde_json::from_str(r#"{"id":"u2"}"#).unwrap();
        assert!(bare.extra.is_empty());
        assert_eq!(bare.extra.to_json(), "{}");
        let mut keys: Vec<&String> = (&copy.extra).into_iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["n", "name", "we\"ird"]);
    }

    #[test]
    fn a_timestamp_is_read_as_utc_and_written_as_the_api_writes_it() {
        let run: Run = serde_json::from_value(json!({
            "id": "r1", "status": "SUCCEEDED",
            "startedAt": "2024-01-02T03:04:05.678Z",
            // Any offset is taken, and the time is the same instant in UTC.
            "finishedAt": "2024-01-02T05:04:06.5+02:00",
        }))
        .unwrap();
        assert_eq!(run.started_at, Some(utc(2024, 1, 2, 3, 4, 5, 678)));
        assert_eq!(run.finished_at, Some(utc(2024, 1, 2, 3, 4, 6, 500)));
        assert!(run.extra.is_empty());
        // Written back: RFC 3339 in UTC, milliseconds and `Z`, always.
        let back = serde_json::to_value(&run).unwrap();
        assert_eq!(back["startedAt"], "2024-01-02T03:04:05.678Z");
        assert_eq!(back["finishedAt"], "2024-01-02T03:04:06.500Z");
        let whole: User = serde_json::from_str(r#"{"createdAt":"2024-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&whole).unwrap(),
            r#"{"id":null,"username":null,"email":null,"isPaying":null,"createdAt":"2024-01-01T00:00:00.000Z"}"#
        );
        // A finer fraction (never from the API) is kept rather than cut, so it reads back equal.
        let fine: User =
            serde_json::from_str(r#"{"createdAt":"2024-01-01T00:00:00.123456Z"}"#).unwrap();
        let text = serde_json::to_string(&fine).unwrap();
        assert!(
            text.contains(r#""createdAt":"2024-01-01T00:00:00.123456Z""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<User>(&text).unwrap(), fine);
        // An escaped string is the same time.
        let escaped: User =
            serde_json::from_str(r#"{"createdAt":"2024-01-01T00:00:00.000\u005a"}"#).unwrap();
        assert_eq!(escaped.created_at, Some(utc(2024, 1, 1, 0, 0, 0, 0)));
    }

    #[test]
    fn null_or_absent_timestamps_are_none_and_written_as_null() {
        let run: Run = serde_json::from_str(
            r#"{"id":"r1","status":"RUNNING","startedAt":"2024-01-02T03:04:05.678Z","finishedAt":null}"#,
        )
        .unwrap();
        assert_eq!(run.finished_at, None);
        assert!(run.extra.is_empty());
        let back = serde_json::to_value(&run).unwrap();
        assert_eq!(back["finishedAt"], json!(null));
        let bare: Schedule = serde_json::from_str(r#"{"id":"s1"}"#).unwrap();
        assert_eq!(
            (
                bare.created_at,
                bare.modified_at,
                bare.next_run_at,
                bare.last_run_at
            ),
            (None, None, None, None)
        );
        assert!(bare.extra.is_empty());
        // A model whose only named field is a timestamp.
        let lock: RequestLockInfo = serde_json::from_str(r#"{"lockExpiresAt":null}"#).unwrap();
        assert_eq!(lock.lock_expires_at, None);
        assert!(lock.extra.is_empty());
    }

    #[test]
    fn a_timestamp_that_does_not_read_is_none_and_kept_in_extra_as_sent() {
        let body = r#"{"id":"r1","status":"READY","startedAt":"yesterday","finishedAt":1700000000,"meta":{"a":1}}"#;
        let run: Run = serde_json::from_str(body).unwrap();
        assert_eq!(run.status, ActorJobStatus::Ready);
        assert_eq!((run.started_at, run.finished_at), (None, None));
        assert_eq!(
            run.extra.to_json(),
            r#"{"startedAt":"yesterday","finishedAt":1700000000,"meta":{"a":1}}"#
        );
        assert_eq!(run.extra["startedAt"], "yesterday");
        // Other strings that are not RFC 3339 times, and a time whose year leaves 0000-9999 in
        // UTC (it could not be written back as RFC 3339), all stay as sent.
        for bad in [
            json!(""),
            json!("2024-01-02"),
            json!("2024-01-02 03:04:05"),
            json!("2024-13-02T03:04:05Z"),
            json!("Tue, 02 Jan 2024 03:04:05 GMT"),
            json!("0000-01-01T00:30:00+01:00"),
            json!(true),
            json!({"at": "2024-01-02T03:04:05.678Z"}),
            json!(["2024-01-02T03:04:05.678Z"]),
        ] {
            let lock: RequestLockInfo =
                serde_json::from_value(json!({"lockExpiresAt": bad})).unwrap();
            assert_eq!(lock.lock_expires_at, None, "{bad}");
            assert_eq!(lock.extra.len(), 1);
            assert_eq!(lock.extra["lockExpiresAt"], bad);
        }
        // Written out, the raw value is what the key holds: in place of the field's `null` in a
        // `Value`, after it (a repeated key, which JSON readers take the last of) in text.
        let value = serde_json::to_value(&run).unwrap();
        assert_eq!(value["startedAt"], "yesterday");
        assert_eq!(value["finishedAt"], 1700000000);
        // The model's fields in their order, then the extra ones (read from the text: a
        // `Value`'s keys are in `Map`'s order).
        let text = serde_json::to_string(&run).unwrap();
        let keys: Vec<&str> = text
            .match_indices("\":")
            .map(|(end, _)| &text[text[..end].rfind('"').unwrap() + 1..end])
            .collect();
        assert_eq!(
            &keys[..7],
            [
                "id",
                "actId",
                "actorTaskId",
                "status",
                "statusMessage",
                "isStatusMessageTerminal",
                "startedAt"
            ]
        );
        assert!(
            text.ends_with(r#""startedAt":"yesterday","finishedAt":1700000000,"meta":{"a":1}}"#),
            "{text}"
        );
    }

    #[test]
    fn models_with_timestamps_round_trip() {
        let bodies = [
            r#"{"id":"s1","createdAt":"2024-01-02T03:04:05.678Z","modifiedAt":"2024-01-02T03:04:05+05:30","nextRunAt":null,"lastRunAt":"not a time","stats":{"n":1}}"#,
            r#"{"id":"s2","createdAt":"2024-01-02T03:04:05.678901234Z","nextRunAt":"1999-12-31T23:59:60.250Z"}"#,
            r#"{"id":"s3","lastRunAt":42,"modifiedAt":{"raw":true}}"#,
        ];
        for body in bodies {
            let first: Schedule = serde_json::from_str(body).unwrap();
            let text = serde_json::to_string(&first).unwrap();
            let again: Schedule = serde_json::from_str(&text).unwrap();
            assert_eq!(again, first, "{body} -> {text}");
            let value = serde_json::to_value(&first).unwrap();
            let again: Schedule = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(again, first, "{body} -> {value}");
            // And writing the second read gives the same text again.
            assert_eq!(serde_json::to_value(&again).unwrap(), value);
        }
        let first: Schedule = serde_json::from_str(bodies[0]).unwrap();
        assert_eq!(first.modified_at, Some(utc(2024, 1, 1, 21, 34, 5, 0)));
        assert_eq!(first.last_run_at, None);
        assert_eq!(first.extra["lastRunAt"], "not a time");
        assert_eq!(first.extra["stats"], json!({"n": 1}));
        let leap: Schedule = serde_json::from_str(bodies[1]).unwrap();
        assert_eq!(
            serde_json::to_value(&leap).unwrap()["nextRunAt"],
            "1999-12-31T23:59:60.250Z"
        );
    }
}
