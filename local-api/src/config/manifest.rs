//! Actor definitions: the `actor.json` manifests of an `--actors DIR` folder, and the one-off
//! `--actor NAME=COMMAND` form.
//!
//! A manifest follows the real `.actor/actor.json` field names where they exist (`name`,
//! `title`, `version`, `description`, `input`), plus the local fields this server needs to run
//! the Actor: `run` (a shell command, run with `sh -c` in the Actor's folder),
//! `defaultRunOptions` (`memoryMbytes`, `timeoutSecs`, `build`) and `pricingPerEvent`
//! (`{"actorChargeEvents": {"EVENT": {"eventPriceUsd": 0.01, "eventTitle": "..."}}}`).
//!
//! An apify-cli project folder (`apify create`: `PROJECT/.actor/actor.json`) needs no `run`:
//! [`project_command`] decides how it starts, as `apify run` does (`npm start` for a Node.js
//! project, `python -m PACKAGE` for a Python one); a `run` field still overrides it.

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
                if let Some(e) = super::limits::memory_error("defaultRunOptions.memoryMbytes", m) {
                    return Err(error("defaultRunOptions.memoryMbytes", &e));
                }
                def.memory_mbytes = m;
            }
            if let Some(t) = number("timeoutSecs")? {
                if let Some(e) = super::limits::timeout_error("defaultRunOptions.timeoutSecs", t) {
                    return Err(error("defaultRunOptions.timeoutSecs", &e));
                }
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

/// How an apify-cli project folder starts when its manifest has no `run`, as `apify run`
/// does; `None` when the folder is neither kind of project. The one place that decides it:
///
/// - a `package.json` makes a Node.js project: `npm start` (its `scripts.start`);
/// - else a Python package with a `__main__.py` (`src/`, as `apify create` makes it, else the
///   first such folder by name) makes a Python project: `python -m PACKAGE`, with the project's
///   own `.venv/bin/python` when it has one at load time, else `python3` from `PATH`.
pub fn project_command(project: &Path) -> Option<String> {
    if project.join("package.json").is_file() {
        return Some("npm start".to_owned());
    }
    let package = if project.join("src/__main__.py").is_file() {
        "src".to_owned()
    } else {
        let mut packages: Vec<String> = std::fs::read_dir(project)
            .ok()?
            .filter_map(Result::ok)
            .filter(|e| e.path().join("__main__.py").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                !n.starts_with('.') && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .collect();
        packages.sort();
        packages.into_iter().next()?
    };
    let python = if project.join(".venv/bin/python").is_file() {
        ".venv/bin/python"
    } else {
        "python3"
    };
    Some(format!("{python} -m {package}"))
}

impl ActorDefinition {
    /// Reads an apify-cli project folder: `PROJECT/.actor/actor.json`, its `input` given inline
    /// or as a path relative to `.actor/` (`"./input_schema.json"`), started by its `run` field
    /// when it has one, else by [`project_command`], in `project`.
    pub fn from_project(project: &Path) -> Result<Self, ManifestError> {
        let path = project.join(".actor").join("actor.json");
        let source = path.display().to_string();
        let error = |field: &str, message: String| ManifestError {
            source: source.clone(),
            field: field.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| error("", format!("cannot read the manifest: {e}")))?;
        let mut value: Value =
            serde_json::from_str(&text).map_err(|e| error("", format!("not valid JSON: {e}")))?;
        if let Some(obj) = value.as_object_mut() {
            if let Some(Value::String(rel)) = obj.get("input") {
                let schema_path = project.join(".actor").join(rel);
                let schema = std::fs::read_to_string(&schema_path)
                    .map_err(|e| {
                        error(
                            "input",
                            format!("cannot read {}: {e}", schema_path.display()),
                        )
                    })
                    .and_then(|t| {
                        serde_json::from_str::<Value>(&t).map_err(|e| {
                            error(
                                "input",
                                format!("{} is not valid JSON: {e}", schema_path.display()),
                            )
                        })
                    })?;
                obj.insert("input".to_owned(), schema);
            }
            if obj.get("run").is_none_or(Value::is_null) {
                let command = project_command(project).ok_or_else(|| {
                    error(
                        "run",
                        "is required for this project: it has no package.json (a Node.js \
                         project starts with `npm start`) and no Python package with a \
                         __main__.py (a Python project starts with `python -m PACKAGE`)"
                            .to_owned(),
                    )
                })?;
                obj.insert("run".to_owned(), Value::String(command));
            }
        }
        let mut def = Self::parse_manifest(&value.to_string(), &source)?;
        def.dir = Some(project.to_owned());
        Ok(def)
    }
}

/// Loads the Actors of `dir`, one per subfolder, sorted by folder name: a subfolder with an
/// `actor.json` is read by [`ActorDefinition::from_file`], an apify-cli project folder (with a
/// `.actor/actor.json`) by [`ActorDefinition::from_project`]. Other subfolders are skipped; a
/// malformed manifest is an error.
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
        .filter(|p| p.join("actor.json").is_file() || p.join(".actor/actor.json").is_file())
        .collect();
    folders.sort();
    folders
        .iter()
        .map(|f| {
            if f.join("actor.json").is_file() {
                ActorDefinition::from_file(&f.join("actor.json"))
            } else {
                ActorDefinition::from_project(f)
            }
        })
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
        for (options, field) in [
            (r#"{"memoryMbytes":100}"#, "defaultRunOptions.memoryMbytes"),
            (
                r#"{"memoryMbytes":65536}"#,
                "defaultRunOptions.memoryMbytes",
            ),
            (r#"{"timeoutSecs":604801}"#, "defaultRunOptions.timeoutSecs"),
        ] {
            let text = format!(r#"{{"name":"a","run":"x","defaultRunOptions":{options}}}"#);
            let e = ActorDefinition::parse_manifest(&text, "dir/actor.json").unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.to_string().starts_with("dir/actor.json: field"), "{e}");
        }
        assert!(e.to_string().contains("a.json"));
        let e = ActorDefinition::parse_manifest(r#"{"name":"a"}"#, "a.json").unwrap_err();
        assert_eq!(e.field, "run");
    }

    /// Writes `files` (path, content) under a new temporary folder.
    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    const MANIFEST: (&str, &str) = (
        ".actor/actor.json",
        r#"{"actorSpecification": 1, "name": "p", "version": "0.0", "input": "./input_schema.json"}"#,
    );
    const SCHEMA: (&str, &str) = (
        ".actor/input_schema.json",
        r#"{"title": "In", "type": "object", "schemaVersion": 1, "properties": {}}"#,
    );

    #[test]
    fn project_command_follows_apify_run() {
        let node = project(&[("package.json", "{}"), ("src/__main__.py", "")]);
        assert_eq!(project_command(node.path()).as_deref(), Some("npm start"));

        let python = project(&[("src/__main__.py", ""), ("src/main.py", "")]);
        assert_eq!(
            project_command(python.path()).as_deref(),
            Some("python3 -m src")
        );
        std::fs::create_dir_all(python.path().join(".venv/bin")).unwrap();
        std::fs::write(python.path().join(".venv/bin/python"), "").unwrap();
        assert_eq!(
            project_command(python.path()).as_deref(),
            Some(".venv/bin/python -m src")
        );

        // Newer templates name the package otherwise; the first one by name is run.
        let other = project(&[("my_actor/__main__.py", ""), ("z_pkg/__main__.py", "")]);
        assert_eq!(
            project_command(other.path()).as_deref(),
            Some("python3 -m my_actor")
        );
        assert_eq!(project_command(project(&[("README.md", "")]).path()), None);
    }

    #[test]
    fn a_project_folder_loads_with_its_input_schema_file_and_a_run_override() {
        let dir = project(&[
            ("py/src/__main__.py", ""),
            ("py/.actor/actor.json", MANIFEST.1),
            ("py/.actor/input_schema.json", SCHEMA.1),
            ("js/package.json", "{}"),
            (
                "js/.actor/actor.json",
                r#"{"name": "js", "run": "node other.js", "input": {"type": "object"}}"#,
            ),
            (
                "legacy/actor.json",
                r#"{"name": "legacy", "run": "./main.sh"}"#,
            ),
            ("not-an-actor/README.md", ""),
        ]);
        let defs = load_dir(dir.path()).unwrap();
        let names: Vec<&str> = defs.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["js", "legacy", "p"]);
        assert_eq!(defs[0].command, "node other.js", "run overrides npm start");
        assert_eq!(
            defs[0].dir.as_deref(),
            Some(dir.path().join("js").as_path())
        );
        assert_eq!(
            defs[1].dir.as_deref(),
            Some(dir.path().join("legacy").as_path())
        );
        let py = &defs[2];
        assert_eq!(py.command, "python3 -m src");
        assert_eq!(py.dir.as_deref(), Some(dir.path().join("py").as_path()));
        assert_eq!(py.input_schema.as_ref().unwrap()["title"], "In");
    }

    #[test]
    fn a_project_without_a_start_or_with_a_missing_schema_names_the_field() {
        let neither = project(&[MANIFEST, SCHEMA]);
        let e = ActorDefinition::from_project(neither.path()).unwrap_err();
        assert_eq!(e.field, "run");
        assert!(e.source.ends_with("actor.json"), "{e}");
        assert!(e.message.contains("npm start"), "{e}");

        let no_schema = project(&[MANIFEST, ("package.json", "{}")]);
        let e = ActorDefinition::from_project(no_schema.path()).unwrap_err();
        assert_eq!(e.field, "input");
        assert!(e.message.contains("input_schema.json"), "{e}");
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
