//! `apify-host transport new NAME`: writes a plugin project that builds, as it is, to a plugin
//! that passes `apify-host transport check`.
//!
//! The project is one of the guide's examples (`examples/transport-*`, which CI builds
//! `--locked` and checks), renamed, with the example's `Cargo.lock` and a copy of the
//! `apify-plugin-api` crate under `vendor/`. The binary carries that copy, so an author needs
//! neither our repository nor a registry to start, and the lock, so that the first build uses
//! the versions we checked rather than whatever is newest that day.

use std::{
    fs,
    path::{Path, PathBuf},
};

use clap::ValueEnum;

use crate::error::CliError;

/// Which kind of transport the new project is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TemplateKind {
    /// A `BlockingTransport` on ureq (a blocking library; the glue owns the threads).
    Blocking,
    /// An async `Transport` on hyper-util (the plugin's own tokio runtime).
    Async,
    /// A `HostedTransport` on hyper's `client::conn` with a keep-alive pool and tokio-rustls
    /// (the host's sockets, tasks and timers; no runtime of its own).
    Hosted,
}

/// One of the example projects, as files embedded at build time.
struct Template {
    /// The package name in the example's Cargo.toml.
    package: &'static str,
    /// The name its `Metadata` gives.
    metadata_name: &'static str,
    /// The `description` in its Cargo.toml.
    description: &'static str,
    /// The `description` its `Metadata` gives.
    metadata_description: &'static str,
    /// What it is, for the new project's descriptions and README.
    what: &'static str,
    cargo_toml: &'static str,
    lib_rs: &'static str,
    /// The example's `Cargo.lock`, the one its `--locked` build is checked with.
    cargo_lock: &'static str,
}

const BLOCKING: Template = Template {
    package: "transport-blocking-example",
    metadata_name: "ureq-example",
    description: "The smallest blocking transport plugin: a BlockingTransport on ureq 3",
    metadata_description: "example blocking transport on ureq 3",
    what: "a `BlockingTransport` on ureq",
    cargo_toml: include_str!("../../../../examples/transport-blocking/Cargo.toml"),
    lib_rs: include_str!("../../../../examples/transport-blocking/src/lib.rs"),
    cargo_lock: include_str!("../../../../examples/transport-blocking/Cargo.lock"),
};

const ASYNC: Template = Template {
    package: "transport-async-example",
    metadata_name: "hyper-example",
    description:
        "The smallest async transport plugin: a Transport on hyper-util's client with rustls",
    metadata_description: "example async transport on hyper-util with rustls",
    what: "an async `Transport` on hyper-util",
    cargo_toml: include_str!("../../../../examples/transport-async/Cargo.toml"),
    lib_rs: include_str!("../../../../examples/transport-async/src/lib.rs"),
    cargo_lock: include_str!("../../../../examples/transport-async/Cargo.lock"),
};

const HOSTED: Template = Template {
    package: "transport-hosted-example",
    metadata_name: "hyper-hosted-example",
    description: "The smallest hosted transport plugin: a HostedTransport on hyper's \
                  client::conn with a keep-alive pool and tokio-rustls",
    metadata_description: "example hosted transport on hyper's client::conn with tokio-rustls",
    what: "a `HostedTransport` on hyper's `client::conn` with a keep-alive pool and \
           tokio-rustls, on the host's threads",
    cargo_toml: include_str!("../../../../examples/transport-hosted/Cargo.toml"),
    lib_rs: include_str!("../../../../examples/transport-hosted/src/lib.rs"),
    cargo_lock: include_str!("../../../../examples/transport-hosted/Cargo.lock"),
};

impl TemplateKind {
    fn template(self) -> &'static Template {
        match self {
            TemplateKind::Blocking => &BLOCKING,
            TemplateKind::Async => &ASYNC,
            TemplateKind::Hosted => &HOSTED,
        }
    }
}

/// The `apify-plugin-api` crate, file by file (what `cargo package --list` names, less the
/// files cargo generates). A test holds this list to the crate's folder.
const PLUGIN_API: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../../plugin-api/Cargo.toml"),
    ),
    (
        "CHANGELOG.md",
        include_str!("../../../../plugin-api/CHANGELOG.md"),
    ),
    (
        "README.md",
        include_str!("../../../../plugin-api/README.md"),
    ),
    (
        "src/abi.rs",
        include_str!("../../../../plugin-api/src/abi.rs"),
    ),
    (
        "src/blocking.rs",
        include_str!("../../../../plugin-api/src/blocking.rs"),
    ),
    (
        "src/channel.rs",
        include_str!("../../../../plugin-api/src/channel.rs"),
    ),
    (
        "src/classify.rs",
        include_str!("../../../../plugin-api/src/classify.rs"),
    ),
    (
        "src/convert.rs",
        include_str!("../../../../plugin-api/src/convert.rs"),
    ),
    (
        "src/driven.rs",
        include_str!("../../../../plugin-api/src/driven.rs"),
    ),
    (
        "src/exchange_threads.rs",
        include_str!("../../../../plugin-api/src/exchange_threads.rs"),
    ),
    (
        "src/export.rs",
        include_str!("../../../../plugin-api/src/export.rs"),
    ),
    (
        "src/ffi.rs",
        include_str!("../../../../plugin-api/src/ffi.rs"),
    ),
    (
        "src/history.rs",
        include_str!("../../../../plugin-api/src/history.rs"),
    ),
    (
        "src/hosted.rs",
        include_str!("../../../../plugin-api/src/hosted.rs"),
    ),
    (
        "src/log.rs",
        include_str!("../../../../plugin-api/src/log.rs"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../../plugin-api/src/lib.rs"),
    ),
    (
        "src/module.rs",
        include_str!("../../../../plugin-api/src/module.rs"),
    ),
    (
        "src/options.rs",
        include_str!("../../../../plugin-api/src/options.rs"),
    ),
    (
        "src/panics.rs",
        include_str!("../../../../plugin-api/src/panics.rs"),
    ),
    (
        "src/services.rs",
        include_str!("../../../../plugin-api/src/services.rs"),
    ),
    (
        "src/types.rs",
        include_str!("../../../../plugin-api/src/types.rs"),
    ),
    (
        "tests/symbol.rs",
        include_str!("../../../../plugin-api/tests/symbol.rs"),
    ),
];

/// Where the copy of the interface crate goes, inside the new project.
const VENDOR: &str = "vendor/apify-plugin-api";

/// The examples' `[workspace]` table, with the comment above it.
const EXAMPLE_WORKSPACE: &str = "# A workspace of its own, so that the repository's workspace \
                                 does not claim it.\n[workspace]\n";

/// The new project's. Cargo makes a path dependency inside the workspace's folder a member, and
/// resolves a member's dev-dependencies into `Cargo.lock`: the copy of the interface crate would
/// then add its test-only crates, and the example's lock would no longer be the project's.
/// Excluded, it is a dependency only, as in the examples (where it lies outside).
const PROJECT_WORKSPACE: &str = "# A workspace of its own. vendor/ holds a dependency, not a \
                                 member: Cargo.lock is then\n# the example's, the versions \
                                 apify-host was checked with.\n[workspace]\nexclude = \
                                 [\"vendor\"]\n";

/// Writes the project `name` of `kind` into `parent/name`; answers its folder.
pub fn write_project(parent: &Path, name: &str, kind: TemplateKind) -> Result<PathBuf, CliError> {
    check_name(name)?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(CliError::usage(format!(
            "{} already exists; choose another NAME or --dir, nothing was written",
            dir.display()
        )));
    }
    let t = kind.template();
    let cargo_lock = renamed_lock(t.cargo_lock, t.package, name)?;
    let lib_name = name.replace('-', "_");
    // The template's descriptions name the example: the new project's name its own plugin.
    let description = format!("{name}: {}", t.what.replace('`', ""));
    let mut files: Vec<(PathBuf, String)> = vec![
        (
            "Cargo.toml".into(),
            t.cargo_toml
                .replace(
                    &format!("name = \"{}\"", t.package),
                    &format!("name = \"{name}\""),
                )
                .replace(
                    "path = \"../../plugin-api\"",
                    &format!("path = \"{VENDOR}\""),
                )
                .replace(EXAMPLE_WORKSPACE, PROJECT_WORKSPACE)
                .replace(t.description, &description),
        ),
        (
            "src/lib.rs".into(),
            t.lib_rs
                .replace(&format!("\"{}\"", t.metadata_name), &format!("\"{name}\""))
                .replace(
                    &format!("\"{}\"", t.metadata_description),
                    &format!("{description:?}"),
                )
                .replace(
                    &format!("lib{}.so", t.package.replace('-', "_")),
                    &format!("lib{lib_name}.so"),
                ),
        ),
        ("Cargo.lock".into(), cargo_lock),
        (".gitignore".into(), "/target\n".into()),
        ("README.md".into(), readme(name, &lib_name, t.what)),
    ];
    for (path, text) in PLUGIN_API {
        files.push((Path::new(VENDOR).join(path), (*text).to_string()));
    }
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).map_err(|e| {
                CliError::failure(format!("cannot create {}: {e}", folder.display()))
            })?;
        }
        fs::write(&path, text)
            .map_err(|e| CliError::failure(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(dir)
}

/// The template's `Cargo.lock` for a project named `name`: its own package `old` renamed, and
/// moved to where cargo sorts it. Cargo keeps the lock's packages sorted by name (byte order),
/// then version and source, and a `--locked` build refuses a lock that differs from the one it
/// would write; the other packages are already in that order.
fn renamed_lock(lock: &str, old: &str, name: &str) -> Result<String, CliError> {
    let broken = || {
        CliError::failure(format!(
            "this binary's copy of the template's Cargo.lock has no package {old:?}: it was \
             built from a broken checkout"
        ))
    };
    // A lock is a header, then `[[package]]` tables separated by blank lines.
    let start = lock.find("[[package]]").ok_or_else(broken)?;
    let (head, body) = lock.split_at(start);
    let mut packages: Vec<String> = body
        .trim_end_matches('\n')
        .split("\n\n")
        .map(str::to_owned)
        .collect();
    let name_of = |package: &str| {
        package
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .map(str::to_owned)
    };
    if packages.iter().any(|p| name_of(p).as_deref() == Some(name)) {
        return Err(CliError::usage(format!(
            "{name:?} is the name of one of the new project's dependencies: choose another NAME \
             (e.g. {name}-transport), nothing was written"
        )));
    }
    let at = packages
        .iter()
        .position(|p| name_of(p).as_deref() == Some(old))
        .ok_or_else(broken)?;
    let own = packages.remove(at).replacen(
        &format!("name = \"{old}\""),
        &format!("name = \"{name}\""),
        1,
    );
    let at = packages
        .iter()
        .position(|p| name_of(p).is_some_and(|n| n.as_str() > name))
        .unwrap_or(packages.len());
    packages.insert(at, own);
    Ok(format!("{head}{}\n", packages.join("\n\n")))
}

/// A package name cargo accepts, and that is also a folder name.
fn check_name(name: &str) -> Result<(), CliError> {
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "{name:?} is not a usable crate name: start with a letter and use letters, digits, \
             `-` and `_` only (e.g. my-transport)"
        )))
    }
}

fn readme(name: &str, lib_name: &str, what: &str) -> String {
    format!(
        "# {name}\n\n\
         An HTTP transport plugin for `apify-host`: {what}.\n\n\
         ```sh\n\
         cargo build --release\n\
         apify-host transport check target/release/lib{lib_name}.so\n\
         ```\n\n\
         `Cargo.lock` holds the dependency versions `apify-host` checked this template with:\n\
         commit it, and move on with `cargo update` when you choose.\n\n\
         The contract a transport keeps is in the crate docs of the copy of `apify-plugin-api`\n\
         in `{VENDOR}` (`cargo doc --open -p apify-plugin-api`). Deploy the `.so` with\n\
         `[transport] plugin = \"/path/to/lib{lib_name}.so\"` in the apify-host config.\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file of the interface crate (as `cargo package` would take it) is embedded.
    #[test]
    fn the_embedded_interface_crate_is_the_whole_crate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-api");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                if rel == "target" || rel == "Cargo.lock" {
                    continue;
                }
                if path.is_dir() {
                    stack.push(path);
                } else {
                    on_disk.push(rel);
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = PLUGIN_API.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            embedded, on_disk,
            "update PLUGIN_API in cli/src/commands/transport/new.rs"
        );
    }

    /// Every kind's project takes the new name everywhere the example names itself: package,
    /// library file, `Metadata` name, and both descriptions (the Cargo.toml's and the
    /// `Metadata`'s). A template whose example changed under it fails here, not in a project.
    #[test]
    fn every_kind_is_renamed_whole() {
        let dir = tempfile::tempdir().unwrap();
        for kind in TemplateKind::value_variants() {
            let t = kind.template();
            assert!(
                t.cargo_toml.contains(t.description),
                "{kind:?}: description"
            );
            assert!(
                t.cargo_toml.contains(EXAMPLE_WORKSPACE),
                "{kind:?}: [workspace]"
            );
            let name = format!("my-{kind:?}").to_lowercase();
            let made = write_project(dir.path(), &name, *kind).unwrap();
            let toml = fs::read_to_string(made.join("Cargo.toml")).unwrap();
            let lib = fs::read_to_string(made.join("src/lib.rs")).unwrap();
            let described = format!("description = \"{name}: ");
            assert!(toml.contains(&described), "{kind:?}: {toml}");
            assert!(
                toml.contains("[workspace]\nexclude = [\"vendor\"]\n"),
                "{kind:?}: {toml}"
            );
            assert!(
                lib.contains(&format!("description: \"{name}: ")),
                "{kind:?}"
            );
            assert!(lib.contains(&format!("name: \"{name}\"")), "{kind:?}");
            let lib_file = format!("lib{}.so", name.replace('-', "_"));
            assert!(lib.contains(&lib_file), "{kind:?}: the build's output");
            for old in [
                t.package,
                t.metadata_name,
                t.description,
                t.metadata_description,
            ] {
                assert!(!toml.contains(old) && !lib.contains(old), "{kind:?}: {old}");
            }
        }
    }

    /// The names of a lock's packages, in its order.
    fn lock_names(lock: &str) -> Vec<String> {
        lock.lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .map(|n| n.trim_end_matches('"').to_string())
            .collect()
    }

    /// Each kind's project gets the example's lock (the versions CI builds it with), with the
    /// example's package renamed to the project's and sorted where cargo puts it, so that a
    /// `--locked` build takes it as it is; every other line is the example's.
    #[test]
    fn every_kind_gets_the_example_s_lock_under_its_own_name() {
        let dir = tempfile::tempdir().unwrap();
        for kind in TemplateKind::value_variants() {
            let t = kind.template();
            let names = lock_names(t.cargo_lock);
            assert!(
                names.windows(2).all(|w| w[0] <= w[1]),
                "{kind:?}: the example's lock is sorted as cargo sorts it"
            );
            assert!(names.iter().any(|n| n == t.package), "{kind:?}");
            // Names that sort first, in the middle and last among the dependencies.
            for name in [
                "aaa-transport",
                "my-transport",
                "zzz_transport",
                "Upper-Transport",
            ] {
                let project = dir.path().join(format!("{kind:?}"));
                let made = write_project(&project, name, *kind).unwrap();
                let lock = fs::read_to_string(made.join("Cargo.lock")).unwrap();
                let names = lock_names(&lock);
                assert!(names.iter().any(|n| n == name), "{kind:?}: {name}");
                assert!(!names.iter().any(|n| n == t.package), "{kind:?}: {name}");
                assert!(
                    names.windows(2).all(|w| w[0] <= w[1]),
                    "{kind:?}: {name} is sorted in: {names:?}"
                );
                let sorted = |lock: &str| {
                    let mut lines: Vec<String> = lock.lines().map(str::to_owned).collect();
                    lines.sort_unstable();
                    lines
                };
                let renamed_back = lock.replacen(
                    &format!("name = \"{name}\""),
                    &format!("name = \"{}\"", t.package),
                    1,
                );
                assert_eq!(
                    sorted(&renamed_back),
                    sorted(t.cargo_lock),
                    "{kind:?}: only the name changed"
                );
                fs::remove_dir_all(&project).unwrap();
            }
        }
    }

    /// A project may not take the name of one of its dependencies: cargo would have two
    /// packages of that name in the lock.
    #[test]
    fn a_dependency_s_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_project(dir.path(), "tokio", TemplateKind::Async).unwrap_err();
        assert!(
            matches!(&e, CliError::Usage(m) if m.contains("dependencies")),
            "{e:?}"
        );
        assert!(!dir.path().join("tokio").exists(), "nothing was written");
    }

    #[test]
    fn names_are_checked_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "1abc", "a/b", "../x", "a b"] {
            assert!(
                write_project(dir.path(), bad, TemplateKind::Blocking).is_err(),
                "{bad:?}"
            );
        }
        let made = write_project(dir.path(), "my-transport", TemplateKind::Blocking).unwrap();
        let toml = fs::read_to_string(made.join("Cargo.toml")).unwrap();
        assert!(toml.contains("name = \"my-transport\""), "{toml}");
        assert!(
            toml.contains("path = \"vendor/apify-plugin-api\""),
            "{toml}"
        );
        let lib = fs::read_to_string(made.join("src/lib.rs")).unwrap();
        assert!(
            lib.contains("\"my-transport\""),
            "the metadata name is the project's"
        );
        assert!(made
            .join("vendor/apify-plugin-api/src/blocking.rs")
            .is_file());
        let again = write_project(dir.path(), "my-transport", TemplateKind::Blocking);
        assert!(again.is_err(), "an existing folder is never overwritten");
    }
}
