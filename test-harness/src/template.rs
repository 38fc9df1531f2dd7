//! `{{NAME}}` substitution for the YAML templates in `envoy/`.
//!
//! A placeholder alone on its line takes a block: every line of the value is indented to the
//! placeholder's column, and an empty block removes the line. Elsewhere the value is inserted as is.
//! Template lines starting with `#` are the template's own documentation and are dropped.

use std::collections::HashMap;

use crate::error::HarnessError;

/// Values for one template's placeholders.
#[derive(Debug, Default, Clone)]
pub struct Values(HashMap<&'static str, String>);

impl Values {
    /// No values yet.
    pub fn new() -> Self {
        Values::default()
    }

    /// Sets one placeholder's value.
    pub fn set(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.0.insert(name, value.into());
        self
    }
}

/// Fills `template` (called `name` in errors); every placeholder must have a value.
pub fn render(name: &str, template: &str, values: &Values) -> Result<String, HarnessError> {
    let mut out = String::with_capacity(template.len());
    for line in template.lines() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        let trimmed = line.trim_start();
        if let Some(key) = whole_line_placeholder(trimmed) {
            let value = lookup(name, key, values)?;
            let indent = &line[..line.len() - trimmed.len()];
            for block_line in value.lines() {
                if block_line.is_empty() {
                    out.push('\n');
                } else {
                    out.push_str(indent);
                    out.push_str(block_line);
                    out.push('\n');
                }
            }
            continue;
        }
        out.push_str(&substitute_inline(name, line, values)?);
        out.push('\n');
    }
    Ok(out)
}

fn whole_line_placeholder(trimmed: &str) -> Option<&str> {
    let inner = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner)
}

fn substitute_inline(name: &str, line: &str, values: &Values) -> Result<String, HarnessError> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(lookup(name, &rest[start + 2..start + 2 + len], values)?);
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup<'a>(template: &str, key: &str, values: &'a Values) -> Result<&'a str, HarnessError> {
    values
        .0
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| HarnessError::Template {
            template: template.to_string(),
            placeholder: key.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_take_the_placeholder_indent_and_inline_values_stay_in_place() {
        let template = "# doc line\na:\n  {{BLOCK}}\n  port: {{PORT}}\n";
        let values = Values::new()
            .set("BLOCK", "- x: 1\n  y: 2")
            .set("PORT", "80");
        let out = render("t", template, &values).unwrap();
        assert_eq!(out, "a:\n  - x: 1\n    y: 2\n  port: 80\n");
    }

    #[test]
    fn an_empty_block_removes_its_line() {
        let out = render(
            "t",
            "a:\n  {{EMPTY}}\nb: 1\n",
            &Values::new().set("EMPTY", ""),
        )
        .unwrap();
        assert_eq!(out, "a:\nb: 1\n");
    }

    #[test]
    fn a_missing_value_names_template_and_placeholder() {
        let err = render("bootstrap.yaml", "port: {{PORT}}", &Values::new()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "template bootstrap.yaml: no value for placeholder {{PORT}}"
        );
    }
}
