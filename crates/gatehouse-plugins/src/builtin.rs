//! The built-in plugins, one file each, and the one place that maps settings to instances.

use std::sync::Arc;

use gatehouse_config::model::PluginConfig;

use crate::{Plugin, Result};

/// Builds the plugin described by `config`.
pub fn build(config: &PluginConfig) -> Result<Arc<dyn Plugin>> {
    let _ = config;
    unimplemented!("built-in plugins: being written")
}
