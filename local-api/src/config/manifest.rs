//! Actor definitions: the `actor.json` manifests of an `--actors DIR` folder, and the one-off
//! `--actor NAME=COMMAND` form.
//!
//! A manifest follows the real `.actor/actor.json` field names where they exist (`name`,
//! `title`, `version`, `description`, `input`), plus the local fields this server needs to run
//! the Actor: `run` (a shell command, run with `sh -c` in the Actor's folder),
//! `defaultRunOptions` (`memoryMbytes`, `timeoutSecs`, `build`) and `pricingPerEvent`
//! (`{"actorChargeEvents": {"EVENT": {"eventPriceUsd": 0.01, "eventTitle": "..."}}}`).

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Default memory of a run, when the manifest names none (the platform's default).
pub const DEFAULT_MEMORY_MBYTES: u64 = 1024;
/// Default timeout of a run, when the manifest names none (one hour, as the platform).
pub const DEFAULT_TIMEOUT_SECS: u64 = 3600;
/// Default build tag.
pub const DEFAULT_BUILD_TAG: &str = "latest";

/// One registered Actor, as its owner described it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorDefinition {
    /// The Actor's name (letters, digits and hyphens), unique on this server.
    pub name: String,
    /// Display title.
    pub title: Option<String>,
    /// Version, `MAJOR.MINOR` (default `0.0`).
    pub version: String,
    /// Description.
    pub description: Option<String>,
    /// The shell command a run executes (`sh -c COMMAND`).
    pub command: String,
    /// Folder the command runs in: the manifest's folder, or the server's working folder for
    /// one-offs.
    pub dir: Option<PathBuf>,
    /// Default run memory in megabytes.
    pub memory_mbytes: u64,
    /// Default run timeout in seconds (0: none).
    pub timeout_secs: u64,
    /// Default build tag.
    pub build_tag: String,
    /// The input schema object, if any.
    pub input_schema: Option<Value>,
    /// Pay-per-event prices: event name → (price in USD, title).
    pub charge_events: Vec<ChargeEvent>,
}

/// One pay-per-event price.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeEvent {
    /// Event name, as `POST …/charge` names it.
    pub name: String,
    /// Price of one event in USD.
    pub price_usd: f64,
    /// Display title.
    pub title: Option<String>,
    /// Description (`eventDescription`); the title, else the name, stands in when absent.
    pub description: Option<String>,
}

/// A manifest that cannot be used: names the file (or the `--actor` argument) and the field.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestError {
    /// The manifest file or the `--actor` argument.
    pub source: String,
    /// The field at fault (empty when the whole file is).
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.source, self.message)
        } else {
            write!(
                f,
                "{}: field \"{}\": {}",
                self.source, self.field, self.message
            )
        }
    }
}

impl std::error::Error for ManifestError {}

/// Checks an Actor name: 1–63 letters, digits or hyphens, as the platform's names.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid Actor name: use 1 to 63 letters, digits or hyphens"
        ))
    }
}

impl ActorDefinition {
    /// A one-off Actor with default options.
    pub fn new(name: impl Into<String>, command: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            title: None,
            version: "0.0".to_owned(),
            description: None,
            command: command.into(),
            dir: None,
            memory_mbytes: DEFAULT_MEMORY_MBYTES,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            build_tag: DEFAULT_BUILD_TAG.to_owned(),
            input_schema: None,
            charge_events: Vec::new(),
        }
    }

    /// Parses `NAME=COMMAND` (the `--actor` argument).
    pub fn parse_one_off(arg: &str) -> Result<Self, ManifestError> {
        let error = |field: &str, message: String| ManifestError {
            source: format!("--actor {arg:?}"),
            field: field.to_owned(),
            message,
        };
        let Some((name, command)) = arg.split_once('=') else {
            return Err(error(
                "",
                "expected NAME=COMMAND, e.g. --actor hello='echo hello'".to_owned(),
            ));
        };
        let name = name.trim();
        check_name(name).map_err(|m| error("name", m))?;
        if command.trim().is_empty() {
            return Err(error(
                "command",
                "the command is empty: give the shell command to run after the '='".to_owned(),
            ));
        }
        Ok(Self::new(name, command))
    }

    /// Reads and parses one `actor.json`; its folder becomes the Actor's working folder.
    pub fn from_file(path: &Path) -> Result<Self, ManifestError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            source: source.clone(),
            field: String::new(),
            message: format!("cannot read the manifest: {e}"),
        })?;
        let mut def = Self::parse_manifest(&text, &source)?;
        def.dir = path.parent().map(Path::to_owned);
        Ok(def)
    }

    /// Parses the text of an `actor.json`; `source` names it in errors.
    pub fn parse_manifest(text: &str, source: &str) -> Result<Self, ManifestError> {
        let error = |field: &str, message: &str| ManifestError {
            source: source.to_owned(),
            field: field.to_owned(),
            message: message.to_owned(),
        };
        let value: Value =
            serde_json::from_str(text).map_err(|e| error("", &format!("not valid JSON: {e}")))?;
        let Value::Object(obj) = value else {
            return Err(error("", "the manifest must be a JSON object"));
        };
        let string = |field: &str| -> Result<Option<String>, ManifestError> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(error(field, "must be a string")),
            }
        };
        let name = string("name")?.ok_or_else(|| error("name", "is required"))?;
        check_name(&name).map_err(|m| error("name", &m))?;
        let command = string("run")?
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| {
                error(
                    "run",
                    "is required: the shell command that runs the Actor, e.g. \"./main.sh\"",
                )
            })?;
        let mut def = Self::new(name, command);
        def.title = string("title")?;
        def.description = string("description")?;
        if let Some(v) = string("version")? {
            def.version = v;
        }
        match obj.get("input") {
            None | Some(Value::Null) => {}
            Some(Value::Object(schema)) => def.input_schema = Some(Value::Object(schema.clone())),
            Some(_) => return Err(error("input", "must be an input schema object")),
        }
        if let Some(options) = obj.get("defaultRunOptions") {
            let Value::Object(options) = options else {
                return Err(error("defaultRunOptions", "must be an object"));
            };
            let number = |key: &str| -> Result<Option<u64>, ManifestError> {
                match options.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                        error(
                            &format!("defaultRunOptions.{key}"),
                            "must be a non-negative integer",
                        )
                    }),
                }
            };
            if let Some(m) = number("memoryMbytes")? {
                def.memory_mbytes = m;
            }
            if let Some(t) = number("timeoutSecs")? {
                def.timeout_secs = t;
            }
            match options.get("build") {
                None | Some(Value::Null) => {}
                Some(Value::String(b)) => def.build_tag = b.clone(),
                Some(_) => return Err(error("defaultRunOptions.build", "must be a string")),
            }
        }
        if let Some(pricing) = obj.get("pricingPerEvent") {
            def.charge_events = parse_pricing(pricing).map_err(|(f, m)| error(&f, &m))?;
        }
        Ok(def)
    }
}

/// `{"actorChargeEvents": {"EVENT": {"eventPriceUsd": 0.01, "eventTitle": "...",
/// "eventDescription": "..."}}}`.
fn parse_pricing(pricing: &Value) -> Result<Vec<ChargeEvent>, (String, String)> {
    let events = pricing
        .get("actorChargeEvents")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            (
                "pricingPerEvent.actorChargeEvents".to_owned(),
                "must be an object of events".to_owned(),
            )
        })?;
    events
        .iter()
        .map(|(name, event)| {
            let field = format!("pricingPerEvent.actorChargeEvents.{name}.eventPriceUsd");
            let price = event
                .get("eventPriceUsd")
                .and_then(Value::as_f64)
                .filter(|p| *p >= 0.0)
                .ok_or_else(|| (field, "must be a non-negative number".to_owned()))?;
            Ok(ChargeEvent {
                name: name.clone(),
                price_usd: price,
                title: event
                    .get("eventTitle")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                description: event
                    .get("eventDescription")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
        })
        .collect()
}

/// Loads every `*/actor.json` of `dir` (one Actor per subfolder, sorted by folder name).
/// Subfolders without `actor.json` are skipped; a malformed manifest is an error.
pub fn load_dir(dir: &Path) -> Result<Vec<ActorDefinition>, ManifestError> {
    let read_error = |e: std::io::Error| ManifestError {
        source: dir.display().to_string(),
        field: String::new(),
        message: format!("cannot read the Actors folder: {e}"),
    };
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("actor.json").is_file())
        .collect();
    folders.sort();
    folders
        .iter()
        .map(|f| ActorDefinition::from_file(&f.join("actor.json")))
        .collect()
}

/// The pricing info object of the API (`PAY_PER_EVENT`), when the Actor has prices. Each
/// event has a string `eventTitle` and `eventDescription` (the title or the event's name when
/// the manifest gives none): the Python SDK's models require them.
pub fn pricing_info(def: &ActorDefinition) -> Option<Value> {
    if def.charge_events.is_empty() {
        return None;
    }
    let events: Map<String, Value> = def
        .charge_events
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                serde_json::json!({
                    "eventPriceUsd": e.price_usd,
                    "eventTitle": e.title.as_deref().unwrap_or(&e.name),
                    "eventDescription": e
                        .description
                        .as_deref()
                        .or(e.title.as_deref())
                        .unwrap_or(&e.name),
                }),
            )
        })
        .collect();
    Some(serde_json::json!({
        "pricingModel": "PAY_PER_EVENT",
        "pricingPerEvent": { "actorChargeEvents": events },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_off_parses_and_rejects() {
        let d = ActorDefinition::parse_one_off("fail=sh -c 'exit 3'").unwrap();
        assert_eq!(d.name, "fail");
        assert_eq!(d.command, "sh -c 'exit 3'");
        assert!(ActorDefinition::parse_one_off("no-equals").is_err());
        assert!(ActorDefinition::parse_one_off("bad name=x").is_err());
        assert!(ActorDefinition::parse_one_off("x=  ").is_err());
    }

    #[test]
    fn manifest_errors_name_the_field() {
        let e = ActorDefinition::parse_manifest(
            r#"{"name":"a","run":"x","defaultRunOptions":{"timeoutSecs":"ten"}}"#,
            "a.json",
        )
        .unwrap_err();
        assert_eq!(e.field, "defaultRunOptions.timeoutSecs");
        assert!(e.to_string().contains("a.json"));
        let e = ActorDefinition::parse_manifest(r#"{"name":"a"}"#, "a.json").unwrap_err();
        assert_eq!(e.field, "run");
    }

    #[test]
    fn pricing_has_the_fields_the_python_models_require() {
        let d = ActorDefinition::parse_manifest(
            r#"{"name":"a","run":"x","pricingPerEvent":{"actorChargeEvents":{
                "plain":{"eventPriceUsd":1},
                "titled":{"eventPriceUsd":2,"eventTitle":"T"},
                "full":{"eventPriceUsd":3,"eventTitle":"T","eventDescription":"D"}}}}"#,
            "a.json",
        )
        .unwrap();
        let info = pricing_info(&d).unwrap();
        let events = &info["pricingPerEvent"]["actorChargeEvents"];
        assert_eq!(events["plain"]["eventTitle"], "plain");
        assert_eq!(events["plain"]["eventDescription"], "plain");
        assert_eq!(events["titled"]["eventDescription"], "T");
        assert_eq!(events["full"]["eventTitle"], "T");
        assert_eq!(events["full"]["eventDescription"], "D");
        assert!(pricing_info(&ActorDefinition::parse_one_off("b=x").unwrap()).is_none());
    }
}
