//! Validation: the raw [`Node`] trees of one or more files → the runtime [`Config`], or every
//! problem found, each with file, line, column, key path and a hint.
//!
//! Validation never stops at the first problem: each check reports into a [`Ctx`] and returns
//! `None` for the piece it refused, and the rest goes on being checked.

mod auth;
mod breaker;
mod cache;
mod fault;
mod identity;
mod limits;
mod listener;
mod mirror;
mod observe;
mod paths;
mod plugin;
mod resilience;
mod route;
mod scalar;
mod upstream;
mod usage;
mod walk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::Diagnostic;
use crate::file::{Kind, Node};
use crate::model::{Config, ConfigMeta, Server};

/// One parsed (and interpolated) file.
#[derive(Debug)]
pub(crate) struct Source {
    /// The file, as named in diagnostics.
    pub file: PathBuf,
    /// Its document.
    pub root: Node,
}

/// Where something was defined, for "first defined at" messages.
#[derive(Debug, Clone)]
struct Site {
    file: PathBuf,
    line: usize,
    column: usize,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Validation state: the file being validated and every diagnostic so far.
#[derive(Debug, Default)]
pub(crate) struct Ctx {
    /// File the nodes being validated come from.
    file: PathBuf,
    /// Directory relative paths in that file start from.
    base_dir: PathBuf,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
    /// Names already used, per kind (`listener name`, `route name`, …).
    seen: HashMap<(&'static str, String), Site>,
    /// Every upstream name, across all files, in order (routes must reference one).
    upstream_names: Vec<String>,
    /// The same names, for lookups.
    upstream_set: std::collections::HashSet<String>,
    /// Every consumer id, across all files, in order (routes' `auth.anonymous` must name one).
    consumer_ids: Vec<String>,
    /// The same ids, for lookups.
    consumer_set: std::collections::HashSet<String>,
    /// Some file failed to parse: skip checks that need the whole configuration.
    incomplete: bool,
    /// A `plans:` section exists (then plan references must name a plan).
    plans_defined: bool,
    /// Every plan name, across all files, in order (also of refused plans).
    plan_names: Vec<String>,
    /// `store.redis` is set (even if refused): the default `rate_limit` backend is Redis.
    store_redis: bool,
    /// Routes with `access_log: false` (into `observability.access_log.disabled_routes`).
    access_log_off: Vec<String>,
}

impl Ctx {
    /// A context whose diagnostics name `file`.
    pub(crate) fn new(file: &Path) -> Self {
        let mut cx = Ctx::default();
        cx.set_file(file);
        cx
    }

    /// Switches to validating nodes of `file`.
    fn set_file(&mut self, file: &Path) {
        self.file = file.to_path_buf();
        self.base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    }

    /// Marks the configuration as incomplete (a file failed to parse).
    pub(crate) fn set_incomplete(&mut self) {
        self.incomplete = true;
    }

    /// Reports a problem at `node`.
    pub(crate) fn error(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.located(node, path, message.into(), None);
    }

    /// Reports a problem at `node`, with a hint.
    pub(crate) fn error_hint(
        &mut self,
        node: &Node,
        path: &str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.located(node, path, message.into(), Some(hint.into()));
    }

    /// Reports at `node`; values that came from `${...}` and values of secret keys (`secret`,
    /// `client_secret`) may be secrets, so a message about such a value is cut before its first
    /// quoted part and a hint quoting it is dropped.
    fn located(&mut self, node: &Node, path: &str, message: String, hint: Option<String>) {
        let secret_key = is_secret_path(path);
        let (message, hint) = if node.interpolated || secret_key {
            let value = node.text().map(|t| t.into_owned()).unwrap_or_default();
            let head = message.split('`').next().unwrap_or_default();
            let head = head.trim_end_matches([' ', ',', ':']);
            let head = if head.is_empty() {
                "invalid value"
            } else {
                head
            };
            let message = if node.interpolated {
                format!("{head} (the value comes from `${{...}}` and is not shown)")
            } else {
                format!("{head} (the value of a secret is not shown)")
            };
            let hint = hint.filter(|h| value.trim().is_empty() || !h.contains(value.trim()));
            (message, hint)
        } else {
            (message, hint)
        };
        self.push(node.line, node.column, path, message, hint);
    }

    /// Reports a problem at an explicit location of the current file.
    pub(crate) fn push(
        &mut self,
        line: usize,
        column: usize,
        path: &str,
        message: String,
        hint: Option<String>,
    ) {
        self.diagnostics.push(Diagnostic {
            file: self.file.clone(),
            line,
            column,
            path: path.to_owned(),
            message,
            hint,
        });
    }

    /// A path in the config relative to the current file's directory.
    fn resolve_path(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }

    /// Records `name` as used for `what`; reports a duplicate naming the first definition.
    fn unique(&mut self, what: &'static str, name: &str, node: &Node, path: &str) {
        let site = Site {
            file: self.file.clone(),
            line: node.line,
            column: node.column,
        };
        match self.seen.get(&(what, name.to_owned())) {
            Some(first) => {
                let message = format!("duplicate {what} `{name}` (first defined at {first})");
                self.error_hint(node, path, message, format!("each {what} must be unique"));
            }
            None => {
                self.seen.insert((what, name.to_owned()), site);
            }
        }
    }
}

/// Whether `path` names a key whose value is a secret (never shown in diagnostics).
fn is_secret_path(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    let last = last.split('[').next().unwrap_or(last);
    matches!(last, "secret" | "client_secret")
}

/// The top-level keys.
const TOP_KEYS: &[&str] = &[
    "server",
    "listeners",
    "admin",
    "upstreams",
    "routes",
    "plugins",
    "identity",
    "consumer_groups",
    "consumers",
    "plans",
    "store",
    "observability",
    "usage",
];

/// Validates the files in order (lists concatenated, upstream maps merged) into a [`Config`].
/// Returns `None` when anything was reported into `cx`.
pub(crate) fn validate(cx: &mut Ctx, sources: &[Source], meta: ConfigMeta) -> Option<Config> {
    let mut roots = Vec::new();
    for source in sources {
        cx.set_file(&source.file);
        check_duplicate_keys(cx, &source.root, "");
        if source.root.is_null() {
            continue;
        }
        if let Some(obj) = walk::Obj::new(cx, &source.root, "", TOP_KEYS) {
            roots.push((source, obj));
        }
    }

    // Pass 1: upstream names (routes may reference an upstream of another file).
    for (source, root) in &roots {
        cx.set_file(&source.file);
        if let Some(ups) = root.get("upstreams") {
            upstream::collect_names(cx, ups, "upstreams");
        }
    }

    // Pass 1a: the store and plans (consumers, groups and `rate_limit` plugins of any file
    // reference them).
    let mut store: Option<crate::model::StoreConfig> = None;
    let mut store_site: Option<Site> = None;
    let mut plans = Vec::new();
    for (source, root) in &roots {
        cx.set_file(&source.file);
        if let Some(node) = root.get("store") {
            if let Some(first) = &store_site {
                let message = format!("`store` is already set in {first}");
                cx.error_hint(node, "store", message, "set `store` in one file only");
            } else {
                store_site = Some(site_of(cx, node));
                store = limits::store(cx, node, "store");
            }
        }
        if let Some(node) = root.get("plans") {
            plans.extend(limits::plans(cx, node, "plans"));
        }
    }

    // Pass 1b: consumer groups, then consumers (which reference groups of any file; routes
    // reference consumers of any file).
    let mut groups = Vec::new();
    for (source, root) in &roots {
        cx.set_file(&source.file);
        if let Some(node) = root.get("consumer_groups") {
            groups.extend(identity::consumer_groups(cx, node, "consumer_groups"));
        }
    }
    let mut consumers = Vec::new();
    let mut credentials = identity::Credentials::default();
    for (source, root) in &roots {
        cx.set_file(&source.file);
        if let Some(node) = root.get("consumers") {
            let found = identity::consumers(cx, node, "consumers", &groups, &mut credentials);
            consumers.extend(found);
        }
    }

    // Pass 2: everything else.
    let mut server: Option<(Server, Site)> = None;
    let mut identity_site: Option<Site> = None;
    let mut admin_site: Option<Site> = None;
    let mut usage_site: Option<Site> = None;
    let mut config = Config {
        server: Server::default(),
        listeners: Vec::new(),
        admin: None,
        upstreams: Vec::new(),
        routes: Vec::new(),
        plugins: Vec::new(),
        identity: Default::default(),
        consumer_groups: groups.into_iter().map(|(g, _)| g).collect(),
        consumers,
        plans,
        store: store.unwrap_or_default(),
        usage: Default::default(),
        observability: Default::default(),
        meta,
    };
    let mut admin = listener::admin(cx, None, "admin");
    let mut first_listeners_node: Option<(PathBuf, usize, usize)> = None;
    for (source, root) in &roots {
        cx.set_file(&source.file);
        if let Some(node) = root.get("server") {
            let site = site_of(cx, node);
            if let Some((_, first)) = &server {
                let message = format!("`server` is already set in {first}");
                cx.error_hint(node, "server", message, "set `server` in one file only");
            } else if let Some(value) = listener::server(cx, node, "server") {
                server = Some((value, site));
            }
        }
        if let Some(node) = root.get("admin") {
            if let Some(first) = &admin_site {
                let message = format!("`admin` is already set in {first}");
                cx.error_hint(node, "admin", message, "set `admin` in one file only");
            } else {
                admin_site = Some(site_of(cx, node));
                admin = listener::admin(cx, Some(node), "admin");
            }
        }
        if let Some(node) = root.get("identity") {
            if let Some(first) = &identity_site {
                let message = format!("`identity` is already set in {first}");
                cx.error_hint(node, "identity", message, "set `identity` in one file only");
            } else {
                identity_site = Some(site_of(cx, node));
                if let Some(settings) = identity::identity(cx, node, "identity") {
                    config.identity = settings;
                }
            }
        }
        if let Some(node) = root.get("listeners") {
            first_listeners_node.get_or_insert((source.file.clone(), node.line, node.column));
            config
                .listeners
                .extend(listener::listeners(cx, node, "listeners"));
        }
        if let Some(node) = root.get("upstreams") {
            config
                .upstreams
                .extend(upstream::upstreams(cx, node, "upstreams"));
        }
        if let Some(node) = root.get("routes") {
            config.routes.extend(route::routes(cx, node, "routes"));
        }
        if let Some(node) = root.get("observability") {
            config.observability = observe::observability(cx, node, "observability");
        }
        if let Some(node) = root.get("plugins") {
            config.plugins.extend(plugin::plugins(cx, node, "plugins"));
        }
        if let Some(node) = root.get("usage") {
            usage::usage_section(cx, node, "usage", &mut config.usage, &mut usage_site);
        }
    }
    config.observability.access_log.disabled_routes = std::mem::take(&mut cx.access_log_off);
    if let Some((value, _)) = server {
        config.server = value;
    }
    config.admin = admin.flatten();

    if config.listeners.is_empty() && !cx.incomplete && listeners_clean(cx) {
        let (file, line, column) = first_listeners_node.unwrap_or_else(|| {
            let file = sources.first().map(|s| s.file.clone()).unwrap_or_default();
            (file, 1, 1)
        });
        cx.diagnostics.push(Diagnostic {
            file,
            line,
            column,
            path: "listeners".to_owned(),
            message: "no listeners: at least one is required".to_owned(),
            hint: Some("add `listeners: [{ name: public, address: 0.0.0.0:8080 }]`".to_owned()),
        });
    }

    cx.diagnostics.is_empty().then_some(config)
}

/// No diagnostic was reported about listeners (so "no listeners" is not a consequence).
fn listeners_clean(cx: &Ctx) -> bool {
    !cx.diagnostics
        .iter()
        .any(|d| d.path.starts_with("listeners"))
}

fn site_of(cx: &Ctx, node: &Node) -> Site {
    Site {
        file: cx.file.clone(),
        line: node.line,
        column: node.column,
    }
}

/// Reports duplicate and non-scalar keys in every mapping of the tree.
fn check_duplicate_keys(cx: &mut Ctx, node: &Node, path: &str) {
    match &node.kind {
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                check_duplicate_keys(cx, item, &format!("{path}[{i}]"));
            }
        }
        Kind::Map(entries) => {
            let mut first: HashMap<String, &Node> = HashMap::new();
            for (key, value) in entries {
                let Some(name) = key.text().map(|t| t.into_owned()) else {
                    let message = format!("a key must be a string, found {}", key.describe());
                    cx.error(key, path, message);
                    continue;
                };
                let sub = walk::join(path, &name);
                if let Some(prev) = first.get(&name) {
                    let message = format!(
                        "duplicate key `{name}` (first at line {}, column {})",
                        prev.line, prev.column
                    );
                    cx.error_hint(key, &sub, message, "remove one of them");
                } else {
                    first.insert(name, key);
                }
                check_duplicate_keys(cx, value, &sub);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
pub(crate) mod tests;
