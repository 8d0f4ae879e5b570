//! A test file's metadata: the YAML between `/*---` and `---*/`
//! (test262's `INTERPRETING.md`, section "Metadata").

use yaml_rust2::{Yaml, YamlLoader};

/// The expected error of a negative test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negative {
    /// `parse`, `resolution` or `runtime`.
    pub phase: String,
    /// The constructor name of the expected error (`SyntaxError`, ...).
    pub kind: String,
}

/// What the runner needs from a test's metadata.
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// Harness files to evaluate before the test, in order.
    pub includes: Vec<String>,
    /// `flags:` (`onlyStrict`, `noStrict`, `module`, `raw`, `async`, ...).
    pub flags: Vec<String>,
    /// `features:`.
    pub features: Vec<String>,
    /// `negative:`, if the test must throw.
    pub negative: Option<Negative>,
}

impl Meta {
    /// Whether `flags:` has `flag`.
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

fn strings(y: &Yaml) -> Vec<String> {
    match y {
        Yaml::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Yaml::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Parses the metadata block of `source`. A test without one has empty
/// metadata; a block that is not YAML is an error naming the problem.
pub fn parse(source: &str) -> Result<Meta, String> {
    let Some(start) = source.find("/*---") else {
        return Ok(Meta::default());
    };
    let rest = &source[start + 5..];
    let Some(end) = rest.find("---*/") else {
        return Err("the metadata block (/*--- ... ---*/) is not closed".into());
    };
    let docs = YamlLoader::load_from_str(&rest[..end])
        .map_err(|e| format!("metadata is not YAML: {e}"))?;
    let Some(doc) = docs.first() else {
        return Ok(Meta::default());
    };
    let negative = match &doc["negative"] {
        Yaml::Hash(_) => Some(Negative {
            phase: doc["negative"]["phase"].as_str().unwrap_or("").to_string(),
            kind: doc["negative"]["type"].as_str().unwrap_or("").to_string(),
        }),
        _ => None,
    };
    Ok(Meta {
        includes: strings(&doc["includes"]),
        flags: strings(&doc["flags"]),
        features: strings(&doc["features"]),
        negative,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_the_runner_uses() {
        let src = "// c\n/*---\ndescription: >\n  x: y\nincludes: [a.js, b.js]\nflags:\n  - module\n  - async\nfeatures: [Temporal]\nnegative:\n  phase: parse\n  type: SyntaxError\n---*/\nfoo();\n";
        let m = parse(src).unwrap();
        assert_eq!(m.includes, ["a.js", "b.js"]);
        assert!(m.has_flag("module") && m.has_flag("async") && !m.has_flag("raw"));
        assert_eq!(m.features, ["Temporal"]);
        assert_eq!(
            m.negative,
            Some(Negative {
                phase: "parse".into(),
                kind: "SyntaxError".into()
            })
        );
        assert!(parse("no metadata").unwrap().includes.is_empty());
        assert!(parse("/*--- flags: [").is_err());
    }
}
