//! In-process evaluation with regorus: the policy files compiled once per configuration.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use regorus::utils::limits::{ExecutionTimerConfig, set_fallback_execution_timer_config};
use regorus::{CompiledPolicy, Engine, Value};

use super::Evaluation;
use crate::{Error, Result};

/// Longest a single evaluation may run before it fails (and the request is denied).
pub const EVAL_TIME_LIMIT: Duration = Duration::from_millis(100);

/// Rego policies compiled for one query. Evaluation takes `&self`: each evaluation gets a fresh,
/// cheap interpreter over the shared compiled modules, so no lock or pool is needed.
#[derive(Debug, Clone)]
pub struct LocalPolicy {
    compiled: CompiledPolicy,
}

impl LocalPolicy {
    /// Reads and compiles `files` for `query` (a rule path such as `data.gatehouse.decision`).
    /// Fails on an unreadable file, a syntax or type error, or a query naming no rule.
    pub fn compile(files: &[&Path], query: &str) -> Result<LocalPolicy> {
        static TIME_LIMIT: Once = Once::new();
        // Process-wide (regorus has no per-policy setting for compiled policies); only `opa` uses
        // regorus in Gatehouse.
        TIME_LIMIT.call_once(|| {
            set_fallback_execution_timer_config(Some(ExecutionTimerConfig {
                limit: EVAL_TIME_LIMIT,
                check_interval: NonZeroU32::MIN,
            }));
        });
        let fail = |message: String| Error::Build {
            plugin: "opa",
            message,
        };
        if files.is_empty() {
            return Err(fail("no policy file".to_owned()));
        }
        let mut engine = Engine::new();
        for file in files {
            let rego = std::fs::read_to_string(file)
                .map_err(|e| fail(format!("cannot read {}: {e}", file.display())))?;
            engine
                .add_policy(file.display().to_string(), rego)
                .map_err(|e| fail(format!("{}: {e}", file.display())))?;
        }
        let compiled = engine
            .compile_with_entrypoint(&query.into())
            .map_err(|e| fail(format!("query `{query}`: {e}")))?;
        Ok(LocalPolicy { compiled })
    }

    /// Evaluates the query against `input`.
    pub fn evaluate(&self, input: serde_json::Value) -> Evaluation {
        match self.compiled.eval_with_input(Value::from(input)) {
            Ok(Value::Undefined) => Evaluation::Undefined,
            Ok(value) => match serde_json::to_value(&value) {
                Ok(v) => Evaluation::Value(v),
                Err(e) => Evaluation::Failed(format!("result not representable as JSON: {e}")),
            },
            Err(e) => Evaluation::Failed(format!("evaluation failed: {e}")),
        }
    }
}
