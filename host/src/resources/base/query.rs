//! Options structs to query parameters, through serde: a resource's options are a plain
//! `#[derive(Serialize)]` struct with the API's (camelCase) names, and this turns it into the
//! pipeline's [`ParamValue`]s with the Python client's encoding.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::model::InOrder;
use crate::{pipeline::ParamValue, Error};

/// The query parameters of `options`, in field order: `None` dropped, bools as
/// `true`/`false`, numbers as is, lists comma-joined, strings as is (datetimes arrive as
/// strings already, see [`datetime_ms`]).
///
/// Through JSON text, which has the fields in order, read back as ordered entries: a
/// `serde_json::Value` would keep that order only with serde_json's `preserve_order` feature,
/// which Cargo would turn on for every crate in a user's program (every `Map` an `IndexMap`,
/// slower and bigger).
pub(crate) fn to_params<T: Serialize + ?Sized>(
    options: &T,
) -> Result<Vec<(String, ParamValue)>, Error> {
    let text = serde_json::to_string(options).map_err(|e| {
        Error::invalid_input(format!("cannot encode the options: {e}")).with_source(e)
    })?;
    let InOrder(entries) = serde_json::from_str(&text)
        .map_err(|_| Error::invalid_input("options must serialize to an object of parameters"))?;
    entries
        .into_iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(name, v)| Ok((name.clone(), param(&name, v)?)))
        .collect()
}

fn param(name: &str, v: Value) -> Result<ParamValue, Error> {
    Ok(match v {
        Value::Bool(b) => ParamValue::Bool(b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => ParamValue::Int(i),
            // Above `i64::MAX`: its digits, exactly.
            (None, Some(_)) => ParamValue::Str(n.to_string()),
            (None, None) => ParamValue::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => ParamValue::Str(s),
        Value::Array(items) => ParamValue::List(
            items
                .into_iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s),
                    Value::Number(_) | Value::Bool(_) => Ok(i.to_string()),
                    _ => Err(Error::invalid_input(format!(
                        "the query parameter {name} must be a list of strings or numbers"
                    ))),
                })
                .collect::<Result<_, _>>()?,
        ),
        Value::Null => ParamValue::None,
        Value::Object(_) => {
            return Err(Error::invalid_input(format!(
                "the query parameter {name} cannot be an object"
            )))
        }
    })
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
