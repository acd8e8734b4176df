//! `${VAR}` templates: a header's value (`--header`) and a matrix's URL
//! (`url_template`) name environment variables this way; `$$` is a `$`,
//! and a `$` before anything else stays as it is.

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${` without its `}`.
    Unclosed,
    /// `${…}` holding something other than letters, digits and `_`.
    NotAName(String),
    /// The variable is not set.
    Unset(String),
}

/// `text` with every `${VAR}` replaced by `lookup(VAR)`.
pub fn expand(
    text: &str,
    mut lookup: impl FnMut(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r.find('}').ok_or(TemplateError::Unclosed)?;
            let var = &r[..end];
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError::NotAName(var.to_string()));
            }
            out.push_str(&lookup(var).ok_or_else(|| TemplateError::Unset(var.to_string()))?);
            rest = &r[end + 1..];
        } else {
            out.push('$');
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_taken_from_the_lookup() {
        let env = |v: &str| (v == "USER").then(|| "ada".to_string());
        assert_eq!(
            expand("https://${USER}-bench.hf.space/$$x$y", env).unwrap(),
            "https://ada-bench.hf.space/$x$y"
        );
        assert_eq!(
            expand("http://${NODE}:8000", env),
            Err(TemplateError::Unset("NODE".into()))
        );
        assert_eq!(expand("${A", env), Err(TemplateError::Unclosed));
        assert_eq!(
            expand("${A-B}", env),
            Err(TemplateError::NotAName("A-B".into()))
        );
    }
}
