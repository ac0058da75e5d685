//! Options structs to query parameters, through serde: a resource's options are a plain
//! `#[derive(Serialize)]` struct with the API's (camelCase) names, and this turns it into the
//! pipeline's [`ParamValue`]s with the Python client's encoding.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{self, Impossible, SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::{pipeline::ParamValue, Error};

/// The query parameters of `options`, in field order: `None` dropped, bools as
/// `true`/`false`, numbers as is, lists comma-joined, strings as is (datetimes arrive as
/// strings already, see [`datetime_ms`]).
///
/// Serialized straight into ordered pairs, not through `serde_json::Value`: keeping a
/// `Value`'s field order needs serde_json's `preserve_order` feature, which Cargo would turn on
/// for every crate in a user's program (every `Value` an `IndexMap`, slower and bigger).
pub(crate) fn to_params<T: Serialize + ?Sized>(
    options: &T,
) -> Result<Vec<(String, ParamValue)>, Error> {
    let mut params = Vec::new();
    options
        .serialize(Params(&mut params))
        .map_err(|e| Error::invalid_input(format!("cannot encode the options: {}", e.0)))?;
    params.retain(|(_, v)| !matches!(v, ParamValue::None));
    Ok(params)
}

/// Why an options struct could not become query parameters.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl ser::Error for Refused {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        Refused(msg.to_string())
    }
}

fn not_an_object<T>() -> Result<T, Refused> {
    Err(Refused(
        "options must serialize to an object of parameters".into(),
    ))
}

/// The top level: a struct (or a map, for `#[serde(flatten)]`) whose fields are parameters.
struct Params<'a>(&'a mut Vec<(String, ParamValue)>);

/// Generates the [`Serializer`] methods of a serializer that refuses the listed kinds of
/// value with `$refuse`.
macro_rules! refuse {
    ($refuse:expr; $($method:ident($($arg:ty),*)),* $(,)?) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Self::Error> {
            $refuse
        }
    )*};
}

impl<'a> Serializer for Params<'a> {
    type Ok = ();
    type Error = Refused;
    type SerializeSeq = Impossible<(), Refused>;
    type SerializeTuple = Impossible<(), Refused>;
    type SerializeTupleStruct = Impossible<(), Refused>;
    type SerializeTupleVariant = Impossible<(), Refused>;
    type SerializeMap = ParamsMap<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), Refused>;

    refuse!(not_an_object();
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16), serialize_i32(i32),
        serialize_i64(i64), serialize_u8(u8), serialize_u16(u16), serialize_u32(u32),
        serialize_u64(u64), serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_none(self) -> Result<(), Refused> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Refused> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Refused> {
        not_an_object()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Refused> {
        not_an_object()
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Refused> {
        not_an_object()
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Refused> {
        not_an_object()
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Refused> {
        not_an_object()
    }
    fn serialize_map(self, _: Option<usize>) -> Result<ParamsMap<'a>, Refused> {
        Ok(ParamsMap {
            params: self.0,
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Refused> {
        Ok(self)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Refused> {
        not_an_object()
    }
}

impl SerializeStruct for Params<'_> {
    type Ok = ();
    type Error = Refused;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Refused> {
        let value = value.serialize(Param { name })?;
        self.0.push((name.to_string(), value));
        Ok(())
    }
    fn end(self) -> Result<(), Refused> {
        Ok(())
    }
}

/// A map's entries as parameters, in the order they come; keys must be strings.
struct ParamsMap<'a> {
    params: &'a mut Vec<(String, ParamValue)>,
    key: Option<String>,
}

impl SerializeMap for ParamsMap<'_> {
    type Ok = ();
    type Error = Refused;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Refused> {
        match key.serialize(Param { name: "(a key)" })? {
            ParamValue::Str(k) => {
                self.key = Some(k);
                Ok(())
            }
            _ => Err(Refused("a parameter's name must be a string".into())),
        }
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        let name = self
            .key
            .take()
            .ok_or_else(|| Refused("a map value came without its key".into()))?;
        let value = value.serialize(Param { name: &name })?;
        self.params.push((name, value));
        Ok(())
    }
    fn end(self) -> Result<(), Refused> {
        Ok(())
    }
}

/// One parameter's value.
struct Param<'n> {
    name: &'n str,
}

impl Param<'_> {
    fn refused<T>(&self, what: &str) -> Result<T, Refused> {
        Err(Refused(format!(
            "the query parameter {} cannot be {what}",
            self.name
        )))
    }
}

/// An unsigned integer as [`ParamValue::Int`], or as its digits when it does not fit an
/// `i64`.
fn unsigned(n: u64) -> ParamValue {
    i64::try_from(n).map_or_else(|_| ParamValue::Str(n.to_string()), ParamValue::Int)
}

/// The [`Serializer`] methods of integers that always fit an `i64`.
macro_rules! small_ints {
    ($($method:ident($t:ty)),* $(,)?) => {$(
        fn $method(self, v: $t) -> Result<ParamValue, Refused> {
            Ok(ParamValue::Int(v.into()))
        }
    )*};
}

impl<'n> Serializer for Param<'n> {
    type Ok = ParamValue;
    type Error = Refused;
    type SerializeSeq = ParamList<'n>;
    type SerializeTuple = Impossible<ParamValue, Refused>;
    type SerializeTupleStruct = Impossible<ParamValue, Refused>;
    type SerializeTupleVariant = Impossible<ParamValue, Refused>;
    type SerializeMap = Impossible<ParamValue, Refused>;
    type SerializeStruct = Impossible<ParamValue, Refused>;
    type SerializeStructVariant = Impossible<ParamValue, Refused>;

    fn serialize_bool(self, v: bool) -> Result<ParamValue, Refused> {
        Ok(ParamValue::Bool(v))
    }
    small_ints!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
    );
    fn serialize_u64(self, v: u64) -> Result<ParamValue, Refused> {
        Ok(unsigned(v))
    }
    fn serialize_f32(self, v: f32) -> Result<ParamValue, Refused> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<ParamValue, Refused> {
        if v.is_finite() {
            Ok(ParamValue::Float(v))
        } else {
            // serde_json writes a non-finite float as null, which drops the parameter.
            Ok(ParamValue::None)
        }
    }
    fn serialize_char(self, v: char) -> Result<ParamValue, Refused> {
        Ok(ParamValue::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<ParamValue, Refused> {
        Ok(ParamValue::Str(v.to_string()))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<ParamValue, Refused> {
        self.refused("bytes")
    }
    fn serialize_none(self) -> Result<ParamValue, Refused> {
        Ok(ParamValue::None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<ParamValue, Refused> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<ParamValue, Refused> {
        Ok(ParamValue::None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<ParamValue, Refused> {
        Ok(ParamValue::None)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<ParamValue, Refused> {
        Ok(ParamValue::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<ParamValue, Refused> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<ParamValue, Refused> {
        self.refused("an object")
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<ParamList<'n>, Refused> {
        Ok(ParamList {
            name: self.name,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Refused> {
        self.refused("a tuple")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Refused> {
        self.refused("a tuple")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Refused> {
        self.refused("an object")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Refused> {
        self.refused("an object")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Refused> {
        self.refused("an object")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Refused> {
        self.refused("an object")
    }
}

/// A list parameter: each item a string, a number or a bool, comma-joined on the wire.
struct ParamList<'n> {
    name: &'n str,
    items: Vec<String>,
}

impl SerializeSeq for ParamList<'_> {
    type Ok = ParamValue;
    type Error = Refused;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Refused> {
        let item = match value.serialize(Param { name: self.name })? {
            ParamValue::Str(s) => s,
            ParamValue::Bool(b) => b.to_string(),
            ParamValue::Int(i) => i.to_string(),
            // As serde_json writes a float (`1.0`, not `1`), which the old encoding sent.
            ParamValue::Float(f) => {
                serde_json::Number::from_f64(f).map_or_else(|| f.to_string(), |n| n.to_string())
            }
            _ => {
                return Err(Refused(format!(
                    "the query parameter {} must be a list of strings or numbers",
                    self.name
                )))
            }
        };
        self.items.push(item);
        Ok(())
    }
    fn end(self) -> Result<ParamValue, Refused> {
        Ok(ParamValue::List(self.items))
    }
}

/// `#[serde(serialize_with = "datetime_ms")]` for an `Option<DateTime<Utc>>` option: UTC ISO
/// 8601 with milliseconds and `Z`, as the API and the Python client write it.
pub(crate) fn datetime_ms<S: Serializer>(
    value: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(d) => serializer.serialize_str(&d.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Opts {
        limit: Option<u64>,
        skip_empty: Option<bool>,
        fields: Option<Vec<String>>,
        gone: Option<String>,
        #[serde(serialize_with = "datetime_ms")]
        started_before: Option<DateTime<Utc>>,
        #[serde(skip)]
        _chunk_size: Option<u64>,
    }

    #[test]
    fn options_become_params_in_order_with_the_api_encoding() {
        let dt = Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 45).unwrap();
        let opts = Opts {
            limit: Some(10),
            skip_empty: Some(false),
            fields: Some(vec!["a".into(), "b".into()]),
            gone: None,
            started_before: Some(dt),
            _chunk_size: Some(5),
        };
        let encoded: Vec<(String, Option<String>)> = to_params(&opts)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.encode()))
            .collect();
        let want = [
            ("limit", "10"),
            ("skipEmpty", "false"),
            ("fields", "a,b"),
            ("startedBefore", "2024-01-15T10:30:45.000Z"),
        ];
        assert_eq!(encoded.len(), want.len(), "{encoded:?}");
        for ((k, v), (wk, wv)) in encoded.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_deref()), (wk, Some(wv)));
        }
        assert!(to_params(&[1, 2]).unwrap_err().is_invalid_input());
    }

    #[derive(Serialize)]
    #[serde(rename_all = "lowercase")]
    enum Direction {
        Desc,
    }

    #[derive(Serialize)]
    struct Outer {
        zeta: u64,
        #[serde(flatten)]
        extra: std::collections::BTreeMap<String, String>,
        alpha: Option<Direction>,
        ratio: f64,
        ids: Vec<u32>,
    }

    fn encoded<T: Serialize>(options: &T) -> Result<Vec<(String, String)>, Error> {
        Ok(to_params(options)?
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.encode()?)))
            .collect())
    }

    #[test]
    fn flattened_maps_enums_and_big_numbers_keep_their_place() {
        let opts = Outer {
            zeta: u64::MAX,
            extra: [("m".to_string(), "x".to_string())].into(),
            alpha: Some(Direction::Desc),
            ratio: 0.5,
            ids: vec![3, 1],
        };
        let got = encoded(&opts).unwrap();
        let want = [
            ("zeta", "18446744073709551615"),
            ("m", "x"),
            ("alpha", "desc"),
            ("ratio", "0.5"),
            ("ids", "3,1"),
        ];
        let got: Vec<(&str, &str)> = got.iter().map(|(k, v)| (&**k, &**v)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn an_object_or_a_nested_list_is_refused_by_name() {
        #[derive(Serialize)]
        struct Nested {
            filter: std::collections::BTreeMap<String, u8>,
        }
        let e = to_params(&Nested {
            filter: [("a".to_string(), 1)].into(),
        })
        .unwrap_err();
        assert!(e.is_invalid_input());
        assert!(e.to_string().contains("filter cannot be an object"), "{e}");

        #[derive(Serialize)]
        struct Lists {
            fields: Vec<Vec<String>>,
        }
        let e = to_params(&Lists {
            fields: vec![vec!["a".into()]],
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("fields must be a list of strings or numbers"),
            "{e}"
        );
        assert!(to_params(&"text")
            .unwrap_err()
            .to_string()
            .contains("an object of parameters"));
    }
}
