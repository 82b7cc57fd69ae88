//! Prometheus text format 0.0.4 and OpenMetrics 1.0 text exposition.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::primitives::Histogram;

/// Exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0` (ends with `# EOF`).
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Metric family type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic counter (samples named `<family>_total`).
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// Info metric (a gauge of 1 carrying labels; `_info` suffix).
    Info,
}

struct Family {
    kind: Kind,
    help: &'static str,
    samples: String,
}

/// Collects samples from every collector, grouped by family, and renders them.
///
/// Families are written in name order, each with its `# HELP` / `# TYPE` once, whichever
/// collectors contributed samples.
pub struct Encoder {
    format: Format,
    families: BTreeMap<String, Family>,
}

impl Encoder {
    /// An empty encoder for `format`.
    pub fn new(format: Format) -> Self {
        Encoder {
            format,
            families: BTreeMap::new(),
        }
    }

    /// The format being written.
    pub fn format(&self) -> Format {
        self.format
    }

    fn family(&mut self, name: &str, kind: Kind, help: &'static str) -> &mut String {
        &mut self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                kind,
                help,
                samples: String::new(),
            })
            .samples
    }

    /// A counter sample. `name` is the family name without `_total`.
    pub fn counter(&mut self, name: &str, help: &'static str, labels: &[(&str, &str)], value: u64) {
        let out = self.family(name, Kind::Counter, help);
        sample(out, name, "_total", labels, None, &value.to_string());
    }

    /// A gauge sample.
    pub fn gauge(&mut self, name: &str, help: &'static str, labels: &[(&str, &str)], value: f64) {
        let out = self.family(name, Kind::Gauge, help);
        sample(out, name, "", labels, None, &fmt_f64(value));
    }

    /// An info sample (`<name>_info{labels} 1`). `name` is without `_info`.
    pub fn info(&mut self, name: &str, help: &'static str, labels: &[(&str, &str)]) {
        let out = self.family(name, Kind::Info, help);
        sample(out, name, "_info", labels, None, "1");
    }

    /// A histogram's samples (cumulative buckets, `+Inf`, sum, count).
    pub fn histogram(
        &mut self,
        name: &str,
        help: &'static str,
        labels: &[(&str, &str)],
        h: &Histogram,
    ) {
        let (cumulative, total, sum) = h.snapshot();
        let out = self.family(name, Kind::Histogram, help);
        for (bound, count) in h.bounds().iter().zip(&cumulative) {
            sample(
                out,
                name,
                "_bucket",
                labels,
                Some(&fmt_f64(*bound)),
                &count.to_string(),
            );
        }
        sample(
            out,
            name,
            "_bucket",
            labels,
            Some("+Inf"),
            &total.to_string(),
        );
        sample(out, name, "_sum", labels, None, &fmt_f64(sum));
        sample(out, name, "_count", labels, None, &total.to_string());
    }

    /// Renders all families.
    pub fn finish(self) -> String {
        let mut out = String::new();
        for (name, f) in &self.families {
            let (kind, shown) = match (f.kind, self.format) {
                (Kind::Counter, _) => ("counter", name.clone()),
                (Kind::Gauge, _) => ("gauge", name.clone()),
                (Kind::Histogram, _) => ("histogram", name.clone()),
                (Kind::Info, Format::OpenMetrics) => ("info", name.clone()),
                (Kind::Info, Format::Prometheus) => ("gauge", format!("{name}_info")),
            };
            let _ = writeln!(out, "# HELP {shown} {}", f.help);
            let _ = writeln!(out, "# TYPE {shown} {kind}");
            out.push_str(&f.samples);
        }
        if self.format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        out
    }
}

fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(&str, &str)],
    le: Option<&str>,
    value: &str,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (k, v) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            escape_into(out, v);
            out.push('"');
        }
        if let Some(le) = le {
            if !first {
                out.push(',');
            }
            out.push_str("le=\"");
            out.push_str(le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn fmt_f64(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}
