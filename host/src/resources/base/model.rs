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

use std::{
    fmt,
    ops::{Deref, DerefMut},
    sync::OnceLock,
};

use serde::{Serialize, Serializer};
use serde_json::{value::RawValue, Map, Value};

/// The fields of a model that the model does not name, as the API sent them: a JSON object
/// that reads like a `serde_json::Map` (`extra["plan"]`, `extra.get("meta")`, `.keys()`,
/// iteration), parsed on first use. Most callers never look at them, so most never pay for
/// building them.
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
        match (self.map.get(), &self.raw) {
            (None, Some(raw)) => raw.to_string(),
            _ => serde_json::to_string(&**self).unwrap_or_else(|_| "{}".into()),
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
        // As a map, so that `#[serde(flatten)]` puts the fields beside the named ones.
        (**self).serialize(serializer)
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

/// Implements `serde::Deserialize` for a model, from its camelCase keys: each `required`
/// field must be present (else serde's "missing field" error), each `optional` one keeps its
/// `Default` when absent or `null`, any other key goes into the model's [`Extra`], unparsed. The lists
/// must name every field but `extra`: the struct is built from them, so a field left out is a
/// compile error, not a silent move into `extra`.
macro_rules! deserialize_with_extra {
    ($($model:ident {
        $(required: $($req:ident),+ ;)?
        optional: $($opt:ident),* $(,)?
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
                        $(let mut $opt = None;)*
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
                            $(
                                if key == const_format::map_ascii_case!(
                                    const_format::Case::Camel,
                                    stringify!($opt)
                                ) {
                                    $opt = map.next_value()?;
                                    continue;
                                }
                            )*
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
                            $($opt: $opt.unwrap_or_default(),)*
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
    use serde_json::json;

    use crate::models::{ActorJobStatus, Run, User};

    #[test]
    fn named_fields_are_typed_and_the_rest_is_kept_in_extra() {
        let body = json!({
            "id": "u1", "username": "ann", "email": null, "isPaying": true,
            "profile": {"name": "Ann"}, "plan": {"id": "FREE"}, "createdAt": "2024-01-01T00:00:00Z",
        });
        let user: User = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(user.id.as_deref(), Some("u1"));
        assert_eq!(user.username.as_deref(), Some("ann"));
        assert_eq!(user.email, None);
        assert_eq!(user.is_paying, Some(true));
        assert_eq!(user.created_at.as_deref(), Some("2024-01-01T00:00:00Z"));
        let extra: Vec<&str> = user.extra.keys().map(String::as_str).collect();
        assert_eq!(extra, ["profile", "plan"]);
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
        let keys: Vec<&String> = (&copy.extra).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["we\"ird", "name", "n"]);
    }
}
