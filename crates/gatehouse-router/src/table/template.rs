//! Path templates (`/users/{id}`, `/static/{*rest}`) and the segment trie that indexes them.

use std::collections::HashMap;

use super::index::{Candidates, Rank, insert_sorted, next_segment};

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// Must equal the path segment.
    Literal(Box<str>),
    /// `{name}`: any non-empty segment.
    Param(Box<str>),
    /// `{*name}`: the non-empty rest of the path; only last.
    CatchAll(Box<str>),
}

/// A parsed template. Parameters span whole segments; `{*rest}` may only be the last segment.
#[derive(Debug, Clone)]
pub(super) struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses a normalized template (it starts with `/`).
    pub(super) fn parse(template: &str) -> Result<Template, String> {
        let body = template
            .strip_prefix('/')
            .ok_or("template must start with '/'")?;
        let count = body.split('/').count();
        let mut segments = Vec::with_capacity(count);
        let mut names: Vec<&str> = Vec::new();
        for (i, raw) in body.split('/').enumerate() {
            let segment = match raw.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => {
                    let (name, catch_all) = match inner.strip_prefix('*') {
                        Some(name) => (name, true),
                        None => (inner, false),
                    };
                    if name.is_empty() || name.contains(['{', '}', '*']) {
                        return Err(format!(
                            "invalid parameter name in template segment `{raw}`"
                        ));
                    }
                    if names.contains(&name) {
                        return Err(format!("parameter `{name}` appears twice in the template"));
                    }
                    names.push(name);
                    if catch_all && i + 1 != count {
                        return Err(format!("`{{*{name}}}` must be the last segment"));
                    }
                    if catch_all {
                        Segment::CatchAll(name.into())
                    } else {
                        Segment::Param(name.into())
                    }
                }
                None if raw.contains(['{', '}']) => {
                    return Err(format!(
                        "template segment `{raw}`: a parameter must be a whole segment"
                    ));
                }
                None => Segment::Literal(raw.into()),
            };
            segments.push(segment);
        }
        Ok(Template { segments })
    }

    /// Precedence among templates, larger first: literal segments, then segments that are not a
    /// catch-all.
    pub(super) fn specificity(&self) -> (u32, u32) {
        let literals = self
            .segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)));
        let fixed = self
            .segments
            .iter()
            .filter(|s| !matches!(s, Segment::CatchAll(_)));
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        (count(literals.count()), count(fixed.count()))
    }

    /// Length in bytes of the leading literal segments (with their `/`): the part a prefix rewrite
    /// removes. For a template without parameters, its whole length.
    pub(super) fn literal_prefix_len(&self) -> usize {
        self.segments
            .iter()
            .map_while(|s| match s {
                Segment::Literal(lit) => Some(lit.len() + 1),
                _ => None,
            })
            .sum()
    }

    /// The parameters of `path`, which this template matched, in template order.
    pub(super) fn params(&self, path: &str) -> Vec<(String, String)> {
        let mut params = Vec::new();
        let mut rest = path.strip_prefix('/');
        for segment in &self.segments {
            let Some(remaining) = rest else { break };
            let (value, next) = next_segment(remaining);
            match segment {
                Segment::Literal(_) => {}
                Segment::Param(name) => params.push((name.to_string(), value.to_owned())),
                Segment::CatchAll(name) => {
                    params.push((name.to_string(), remaining.to_owned()));
                    break;
                }
            }
            rest = next;
        }
        params
    }
}

/// A node of the template trie: one level per path segment.
#[derive(Debug, Default)]
pub(super) struct TemplateNode {
    literals: HashMap<Box<str>, TemplateNode>,
    param: Option<Box<TemplateNode>>,
    /// Templates ending at this node.
    end: Vec<Rank>,
    /// Templates whose `{*rest}` starts at this node.
    catch_all: Vec<Rank>,
}

impl TemplateNode {
    /// Adds `template`'s route (`rank`) to the trie.
    pub(super) fn insert(&mut self, template: &Template, rank: Rank) {
        let mut node = self;
        for segment in &template.segments {
            node = match segment {
                Segment::Literal(lit) => node.literals.entry(lit.clone()).or_default(),
                Segment::Param(_) => node.param.get_or_insert_with(Box::default),
                Segment::CatchAll(_) => {
                    insert_sorted(&mut node.catch_all, rank);
                    return;
                }
            };
        }
        insert_sorted(&mut node.end, rank);
    }

    /// Visits every template matching the rest of the path (`None` once all segments are
    /// consumed) and keeps in `best` the best-ranked candidate whose conditions pass.
    ///
    /// Each trie node sits at a fixed depth and the path fixes the segment at each depth, so every
    /// node is visited at most once; recursion depth is bounded by the longest template.
    pub(super) fn search(&self, rest: Option<&str>, best: &mut Candidates<'_, '_>) {
        let Some(rest) = rest else {
            best.consider(&self.end);
            return;
        };
        if !rest.is_empty() {
            best.consider(&self.catch_all);
        }
        let (segment, next) = next_segment(rest);
        if let Some(child) = self.literals.get(segment) {
            child.search(next, best);
        }
        if segment.is_empty() {
            return;
        }
        if let Some(param) = &self.param {
            param.search(next, best);
        }
    }
}
