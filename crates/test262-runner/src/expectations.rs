//! The committed list of expected failures.
//!
//! Format (one entry a line, `#` starts a comment): a section header
//! `[engine] <reason>` or `[embedding] <reason>` gives the cause and the
//! reason of the entries below it; an entry is a test path relative to
//! `test/` (`built-ins/Array/x.js`) or `feature:<name>` (every test whose
//! `features:` lists `<name>`: for features the engine does not implement
//! at all).

use std::collections::BTreeMap;

/// Why a test is expected to fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// QuickJS-ng itself: a bug or a feature it does not implement.
    Engine,
    /// This project: the guest runtime, the API or the runner.
    Embedding,
}

impl Cause {
    /// `engine` or `embedding`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Engine => "engine",
            Cause::Embedding => "embedding",
        }
    }
}

/// One section of the list.
#[derive(Clone, Debug)]
pub struct Reason {
    /// Engine or embedding.
    pub cause: Cause,
    /// The header's text.
    pub text: String,
}

/// The parsed list.
#[derive(Debug, Default)]
pub struct Expectations {
    /// Section index per test path.
    pub paths: BTreeMap<String, usize>,
    /// Section index per feature name.
    pub features: BTreeMap<String, usize>,
    /// The sections, in file order.
    pub reasons: Vec<Reason>,
}

impl Expectations {
    /// Parses the list; errors name the line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut e = Expectations::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = || format!("line {}", i + 1);
            if let Some(rest) = line.strip_prefix('[') {
                let (cause, text) = rest.split_once(']').ok_or_else(|| {
                    format!(
                        "{}: a section header is `[engine] reason` or `[embedding] reason`",
                        at()
                    )
                })?;
                let cause = match cause {
                    "engine" => Cause::Engine,
                    "embedding" => Cause::Embedding,
                    other => {
                        return Err(format!(
                            "{}: unknown cause {other:?} (engine or embedding)",
                            at()
                        ))
                    }
                };
                let text = text.trim();
                if text.is_empty() {
                    return Err(format!("{}: a section needs a reason", at()));
                }
                e.reasons.push(Reason {
                    cause,
                    text: text.to_string(),
                });
                continue;
            }
            let Some(section) = e.reasons.len().checked_sub(1) else {
                return Err(format!("{}: an entry before any [cause] section", at()));
            };
            let dup = if let Some(f) = line.strip_prefix("feature:") {
                e.features.insert(f.to_string(), section).is_some()
            } else {
                e.paths.insert(line.to_string(), section).is_some()
            };
            if dup {
                return Err(format!("{}: {line} is listed twice", at()));
            }
        }
        Ok(e)
    }

    /// The section that expects `path` (with these features) to fail.
    pub fn lookup(&self, path: &str, features: &[String]) -> Option<usize> {
        self.paths
            .get(path)
            .copied()
            .or_else(|| features.iter().find_map(|f| self.features.get(f).copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_paths_and_features() {
        let e = Expectations::parse(
            "# x\n[engine] no Temporal\nfeature:Temporal\n\n[embedding] loader # why\nlanguage/a.js\n",
        )
        .unwrap();
        assert_eq!(e.lookup("language/a.js", &[]), Some(1));
        assert_eq!(e.lookup("b.js", &["Temporal".into()]), Some(0));
        assert_eq!(e.lookup("b.js", &[]), None);
        assert_eq!(e.reasons[1].cause, Cause::Embedding);
        assert!(Expectations::parse("a.js\n").is_err());
        assert!(Expectations::parse("[bug] x\n").is_err());
        assert!(Expectations::parse("[engine] x\na.js\na.js\n").is_err());
    }
}
