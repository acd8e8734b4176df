//! The user's headers (`--header 'Name: value'`), sent on every WebSocket
//! upgrade and every HTTP request of a session, as private Spaces and auth
//! proxies want them. A value is a template: `${VAR}` is expanded from the
//! environment of the process that sends it, so a remote agent takes
//! `HF_TOKEN` from its own environment and the secret never crosses the
//! coordinator link. A value is never written anywhere: shown, it is
//! `<redacted>`.

use crate::template::TemplateError;

/// One header as given: a name and a value template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderTemplate {
    /// The header's name, as given.
    pub name: String,
    /// The value, `${VAR}` not yet expanded.
    pub value: String,
}

/// What stands for a value wherever one would be shown.
pub const REDACTED: &str = "<redacted>";

impl HeaderTemplate {
    /// Parses `Name: value` (the name an HTTP token, the value without line
    /// breaks; `${VAR}` names a variable, `$$` is a `$`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some((name, value)) = text.split_once(':') else {
            return Err(format!(
                "'{}' is not 'Name: value' (e.g. 'Authorization: Bearer ${{HF_TOKEN}}')",
                redact_text(text)
            ));
        };
        let name = name.trim();
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if name.is_empty() || !name.chars().all(token) {
            return Err(format!("'{name}' is not a header name"));
        }
        if !field_value(value) {
            return Err(format!(
                "the value of header '{name}' has a line break or another control character"
            ));
        }
        let h = HeaderTemplate {
            name: name.to_string(),
            value: value.trim().to_string(),
        };
        h.variables()?;
        Ok(h)
    }

    /// `Name: <redacted>`, as the header is shown.
    pub fn redacted(&self) -> String {
        format!("{}: {REDACTED}", self.name)
    }

    /// The variables the value names.
    pub fn variables(&self) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        expand_with(&self.name, &self.value, |v| {
            out.push(v.to_string());
            Some(String::new())
        })?;
        Ok(out)
    }

    /// The header to send: its value with every `${VAR}` taken from `env`;
    /// a variable `env` lacks is an error naming it and the header.
    pub fn expand(&self, env: impl Fn(&str) -> Option<String>) -> Result<(String, String), String> {
        let value = expand_with(&self.name, &self.value, env)?;
        Ok((self.name.clone(), value))
    }
}

/// `value` with `${VAR}` replaced by `env(VAR)`.
fn expand_with(
    name: &str,
    value: &str,
    mut env: impl FnMut(&str) -> Option<String>,
) -> Result<String, String> {
    let mut control = None;
    let out = crate::template::expand(value, |var| {
        let v = env(var)?;
        if control.is_none() && !field_value(&v) {
            control = Some(var.to_string());
        }
        Some(v)
    })
    .map_err(|e| match e {
        TemplateError::Unclosed => {
            format!("header '{name}': '${{' without a closing '}}' in its value")
        }
        TemplateError::NotAName(var) => {
            format!("header '{name}': '${{{var}}}' is not a variable name")
        }
        TemplateError::Unset(var) => format!(
            "header '{name}': ${{{var}}} is not set in the environment of the process that sends it"
        ),
    })?;
    match control {
        Some(var) => Err(format!(
            "header '{name}': ${{{var}}} holds a line break or another control character"
        )),
        None => Ok(out),
    }
}

/// Whether `text` may stand in a header's value (RFC 9110 field-value:
/// visible characters, spaces and tabs; no line break or other control
/// character), so every header sent is the same on the WebSocket upgrade
/// and on HTTP requests.
fn field_value(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() && c != '\t')
}

/// Every template expanded from this process's environment.
pub fn expand_all(headers: &[HeaderTemplate]) -> Result<Vec<(String, String)>, String> {
    headers
        .iter()
        .map(|h| h.expand(|v| std::env::var(v).ok()))
        .collect()
}

/// `text` with what follows its first `:` redacted (a header as typed).
pub fn redact_text(text: &str) -> String {
    match text.split_once(':') {
        Some((name, _)) => format!("{}: {REDACTED}", name.trim()),
        None => REDACTED.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &str) -> Option<String> {
        (v == "TOKEN").then(|| "s3cret".to_string())
    }

    #[test]
    fn a_value_expands_variables_and_keeps_the_rest() {
        let h = HeaderTemplate::parse("Authorization: Bearer ${TOKEN}").unwrap();
        assert_eq!(h.variables().unwrap(), ["TOKEN"]);
        assert_eq!(
            h.expand(env).unwrap(),
            ("Authorization".to_string(), "Bearer s3cret".to_string())
        );
        let h = HeaderTemplate::parse("X-Price: $$5 and $x").unwrap();
        assert_eq!(h.expand(env).unwrap().1, "$5 and $x");
    }

    #[test]
    fn a_missing_variable_names_it_and_bad_text_is_refused_unshown() {
        let h = HeaderTemplate::parse("Authorization: Bearer ${HF_TOKEN}").unwrap();
        let e = h.expand(env).unwrap_err();
        assert!(
            e.contains("${HF_TOKEN}") && e.contains("Authorization"),
            "{e}"
        );
        let e = HeaderTemplate::parse("Bearer s3cret").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(HeaderTemplate::parse("Bad Name: x").is_err());
        assert!(HeaderTemplate::parse("X: ${unclosed").is_err());
        assert!(HeaderTemplate::parse("X: ${a-b}").is_err());
        assert!(HeaderTemplate::parse("X: a\u{0}b").is_err());
        let nul = |v: &str| (v == "TOKEN").then(|| "a\u{7f}".to_string());
        assert!(HeaderTemplate::parse("X: ${TOKEN}")
            .unwrap()
            .expand(nul)
            .is_err());
        // Non-ASCII text is a field-value (obs-text): sent alike both ways.
        let h = HeaderTemplate::parse("X-Team: équipe").unwrap();
        assert_eq!(h.expand(env).unwrap().1, "équipe");
    }

    #[test]
    fn shown_a_header_is_redacted() {
        let h = HeaderTemplate::parse("Authorization: Bearer s3cret").unwrap();
        assert_eq!(h.redacted(), "Authorization: <redacted>");
        assert_eq!(
            redact_text("Authorization:Bearer s3cret"),
            "Authorization: <redacted>"
        );
    }
}
