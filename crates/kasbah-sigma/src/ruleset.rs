//! A collection of parsed Sigma documents and the diagnostics of those that failed, built from
//! texts the caller read (the crate does no I/O).

use std::sync::Arc;

use rayon::prelude::*;

use crate::ast::Document;
use crate::diag::Diagnostic;
use crate::parse::parse_file;

/// Parsed rules, filters and correlations, with the diagnostics of what failed to parse.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    docs: Vec<Document>,
    diagnostics: Vec<Diagnostic>,
    files: usize,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> Self {
        RuleSet::default()
    }

    /// Parses one file's text; `path` is only used in diagnostics and rule metadata.
    pub fn add(&mut self, path: &str, text: &str) {
        let p: Arc<str> = Arc::from(path);
        let (docs, diags) = parse_file(&p, text);
        self.docs.extend(docs);
        self.diagnostics.extend(diags);
        self.files += 1;
    }

    /// Parses many files in parallel; the result is the same as adding them in order.
    pub fn add_all<P, T>(&mut self, files: &[(P, T)])
    where
        P: AsRef<str> + Sync,
        T: AsRef<str> + Sync,
    {
        let parsed: Vec<_> = files
            .par_iter()
            .map(|(p, t)| {
                let p: Arc<str> = Arc::from(p.as_ref());
                parse_file(&p, t.as_ref())
            })
            .collect();
        for (docs, diags) in parsed {
            self.docs.extend(docs);
            self.diagnostics.extend(diags);
            self.files += 1;
        }
    }

    /// Adds one file's documents and diagnostics, parsed earlier with
    /// [`parse_file`](crate::parse::parse_file) (for example kept in a cache).
    pub fn add_parsed(&mut self, docs: Vec<Document>, diagnostics: Vec<Diagnostic>) {
        self.docs.extend(docs);
        self.diagnostics.extend(diagnostics);
        self.files += 1;
    }

    /// Records a diagnostic found by the caller (e.g. a file that could not be read).
    pub fn push_diagnostic(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// The documents parsed so far, in input order.
    pub fn documents(&self) -> &[Document] {
        &self.docs
    }

    /// The parse diagnostics so far.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Number of files added.
    pub fn files(&self) -> usize {
        self.files
    }
}
