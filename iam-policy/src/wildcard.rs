//! `*`/`?` wildcard patterns and policy-variable templates.
//!
//! A pattern is compiled once into [`Tok`]s, so a literal `*` (from `${*}`)
//! is told apart from the wildcard and a decision needs no parsing. `?`
//! matches one character (not one byte); `*` any run, including `/` and `:`
//! (ARN segments are split before matching, see `arn.rs`).

use super::context::{Context, Key};

/// One compiled pattern element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Byte(u8),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Length of the UTF-8 sequence starting with byte `b`.
fn char_len(b: u8) -> usize {
    match b {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Matches `text` against `pat` (ASCII case folding when `fold`). Iterative
/// with a single backtrack point: linear for the patterns policies use.
pub(crate) fn glob(pat: &[Tok], text: &str, fold: bool) -> bool {
    glob_bytes(pat, text.as_bytes(), fold)
}

/// [`glob`] over the bytes of a `str`.
fn glob_bytes(pat: &[Tok], text: &[u8], fold: bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if let Some(tok) = pat.get(p) {
            match *tok {
                Tok::Star => {
                    backtrack = Some((p, t));
                    p += 1;
                    continue;
                }
                Tok::One => {
                    p += 1;
                    t += char_len(text[t]);
                    continue;
                }
                Tok::Byte(b) => {
                    let c = text[t];
                    if b == c || (fold && b.eq_ignore_ascii_case(&c)) {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match backtrack {
            Some((sp, st)) => {
                let next = st + char_len(text[st]);
                backtrack = Some((sp, next));
                p = sp + 1;
                t = next;
            }
            None => return false,
        }
    }
    pat[p.min(pat.len())..].iter().all(|t| *t == Tok::Star)
}

/// Compiles plain text: `*` and `?` are wildcards when `wild`.
pub(crate) fn compile(text: &str, wild: bool, fold: bool, out: &mut Vec<Tok>) {
    for &b in text.as_bytes() {
        out.push(match b {
            b'*' if wild => Tok::Star,
            b'?' if wild => Tok::One,
            _ if fold => Tok::Byte(b.to_ascii_lowercase()),
            _ => Tok::Byte(b),
        });
    }
}

/// A compiled pattern in the cheapest form that matches it: most policy
/// patterns are exact text, a prefix followed by `*`, or `*` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    Any,
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    General(Box<[Tok]>),
}

impl Glob {
    pub(crate) fn new(toks: &[Tok]) -> Self {
        let literal = |t: &[Tok]| -> Option<Box<[u8]>> {
            t.iter()
                .map(|t| match t {
                    Tok::Byte(b) => Some(*b),
                    _ => None,
                })
                .collect()
        };
        match toks {
            [Tok::Star] => Self::Any,
            [head @ .., Tok::Star] if literal(head).is_some() => {
                Self::Prefix(literal(head).unwrap_or_default())
            }
            _ => match literal(toks) {
                Some(bytes) => Self::Exact(bytes),
                None => Self::General(toks.into()),
            },
        }
    }

    /// Matches `text`; with `fold` the pattern is lowercase and the text is
    /// compared ASCII case-insensitively.
    pub(crate) fn matches(&self, text: &str, fold: bool) -> bool {
        self.matches_bytes(text.as_bytes(), fold)
    }

    /// [`Glob::matches`] over the bytes of a `str`.
    #[inline]
    pub(crate) fn matches_bytes(&self, t: &[u8], fold: bool) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(p) => p.len() == t.len() && bytes_eq(p, t, fold),
            Self::Prefix(p) => t.len() >= p.len() && bytes_eq(p, &t[..p.len()], fold),
            Self::General(toks) => glob_bytes(toks, t, fold),
        }
    }

    /// The text before the first `:` when it has no wildcard (the service
    /// of an action pattern).
    pub(crate) fn literal_prefix_until(&self, stop: u8) -> Option<&[u8]> {
        let bytes: &[u8] = match self {
            Self::Exact(p) | Self::Prefix(p) => p,
            Self::Any | Self::General(_) => return None,
        };
        bytes.iter().position(|b| *b == stop).map(|i| &bytes[..i])
    }
}

/// Equality of two equally long byte strings (`a` lowercase when `fold`),
/// inline: patterns and ARN parts are short, where a call to `memcmp`
/// costs more than the comparison.
#[inline]
fn bytes_eq(a: &[u8], b: &[u8], fold: bool) -> bool {
    if fold {
        a.iter().zip(b).all(|(x, y)| *x == y.to_ascii_lowercase())
    } else {
        a.iter().zip(b).all(|(x, y)| x == y)
    }
}

/// A policy variable: `${aws:username}` or `${aws:username, 'default'}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    /// The context key, compiled for lookup.
    key: Key,
    default: Option<Box<str>>,
}

impl Var {
    /// The single value of the key, or the default. A key with several
    /// values cannot stand in for a variable.
    fn resolve<'c>(&'c self, ctx: &'c Context) -> Option<&'c str> {
        match ctx.entry(&self.key).map(|e| e.values.as_slice()) {
            Some([one]) => Some(one.as_str()),
            _ => self.default.as_deref(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Toks(Vec<Tok>),
    Var(Var),
}

/// Pattern or value text that may hold policy variables. Without variables
/// it is matched by its compiled [`Glob`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    parts: Vec<Part>,
    fold: bool,
    /// Set when the template has no variables.
    fixed: Option<Glob>,
}

/// What is wrong with a `${…}`.
pub(crate) type VarError = String;

impl Template {
    /// Compiles `text`. `wild`: `*`/`?` are wildcards. `vars`: `${…}` is a
    /// policy variable (Version 2012-10-17); otherwise it is literal text.
    /// `fold`: ASCII case-insensitive matching.
    pub(crate) fn new(text: &str, wild: bool, vars: bool, fold: bool) -> Result<Self, VarError> {
        let mut parts = Vec::new();
        let mut toks = Vec::new();
        let mut rest = text;
        while vars && let Some(start) = rest.find("${") {
            compile(&rest[..start], wild, fold, &mut toks);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated policy variable in {text:?}"))?;
            let inner = &after[..end];
            match inner.trim() {
                "*" => toks.push(Tok::Byte(b'*')),
                "?" => toks.push(Tok::Byte(b'?')),
                "$" => toks.push(Tok::Byte(b'$')),
                _ => {
                    if !toks.is_empty() {
                        parts.push(Part::Toks(std::mem::take(&mut toks)));
                    }
                    parts.push(Part::Var(parse_var(inner, text)?));
                }
            }
            rest = &after[end + 1..];
        }
        compile(rest, wild, fold, &mut toks);
        if !toks.is_empty() || parts.is_empty() {
            parts.push(Part::Toks(toks));
        }
        let fixed = match parts.as_slice() {
            [Part::Toks(t)] => Some(Glob::new(t)),
            _ => None,
        };
        Ok(Self { parts, fold, fixed })
    }

    /// Resolves variables into `out`; `false` when one cannot be resolved
    /// (then nothing matches, as in AWS).
    pub(crate) fn resolve(&self, ctx: &Context, out: &mut Vec<Tok>) -> bool {
        out.clear();
        for part in &self.parts {
            match part {
                Part::Toks(t) => out.extend_from_slice(t),
                Part::Var(v) => match v.resolve(ctx) {
                    // A substituted value is literal text, never a wildcard.
                    Some(value) => compile(value, false, self.fold, out),
                    None => return false,
                },
            }
        }
        true
    }

    /// The literal text of a template without variables or wildcards.
    pub(crate) fn exact(&self) -> Option<&[u8]> {
        match &self.fixed {
            Some(Glob::Exact(bytes)) => Some(bytes),
            _ => None,
        }
    }

    /// Matches `text`, resolving variables from `ctx`.
    #[inline]
    pub(crate) fn matches(&self, text: &str, ctx: &Context) -> bool {
        if let Some(g) = &self.fixed {
            return g.matches(text, self.fold);
        }
        let mut buf = Vec::new();
        self.resolve(ctx, &mut buf) && glob(&buf, text, self.fold)
    }
}

/// Parses the inside of `${…}`: a key, optionally `, 'default'`.
fn parse_var(inner: &str, whole: &str) -> Result<Var, VarError> {
    let (key, default) = match inner.split_once(',') {
        Some((key, default)) => {
            let d = default.trim();
            let d = d
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
                .filter(|d| !d.contains('\''))
                .ok_or_else(|| {
                    format!("policy variable default must be in single quotes in {whole:?}")
                })?;
            (key.trim(), Some(d.into()))
        }
        None => (inner.trim(), None),
    };
    let valid = !key.is_empty()
        && key.contains(':')
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || "_:/.-+=@ ".contains(c));
    if !valid {
        return Err(format!("invalid policy variable ${{{inner}}} in {whole:?}"));
    }
    Ok(Var {
        key: Key::new(key),
        default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pat: &str, text: &str) -> bool {
        let mut toks = Vec::new();
        compile(pat, true, false, &mut toks);
        glob(&toks, text, false)
    }

    #[test]
    fn wildcards() {
        assert!(m("*", ""));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("a?c", "aéc"));
        assert!(m("*b*b", "abab"));
        assert!(!m("abc", "abcd"));
        assert!(m("abc*", "abc"));
    }

    #[test]
    fn glob_forms() {
        let g = |p: &str| {
            let mut toks = Vec::new();
            compile(p, true, false, &mut toks);
            Glob::new(&toks)
        };
        assert_eq!(g("*"), Glob::Any);
        assert!(matches!(g("abc"), Glob::Exact(_)));
        assert!(matches!(g("ab*"), Glob::Prefix(_)));
        assert!(matches!(g("a*b"), Glob::General(_)));
        assert!(g("ab*").matches("ab", false));
        assert!(!g("ab*").matches("a", false));
        assert!(g("a*b").matches("axxb", false));
    }

    #[test]
    fn variables() {
        let mut ctx = Context::new();
        ctx.set("aws:username", "bob");
        let t = Template::new("home/${aws:username}/*", true, true, false).unwrap();
        assert!(t.matches("home/bob/x", &ctx));
        assert!(!t.matches("home/alice/x", &ctx));
        let t = Template::new("${aws:userid, 'none'}", false, true, false).unwrap();
        assert!(t.matches("none", &ctx));
        let t = Template::new("a${*}b", true, true, false).unwrap();
        assert!(t.matches("a*b", &ctx));
        assert!(!t.matches("axb", &ctx));
        assert!(Template::new("${aws:username", true, true, false).is_err());
        assert!(Template::new("${}", true, true, false).is_err());
        let t = Template::new("${aws:username}", true, false, false).unwrap();
        assert!(t.matches("${aws:username}", &ctx));
    }

    /// The reference: a plain recursive matcher over characters.
    fn reference(pat: &[char], text: &[char]) -> bool {
        match pat.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|i| reference(rest, &text[i..])),
            Some(('?', rest)) => !text.is_empty() && reference(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && reference(rest, &text[1..]),
        }
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_reference(pat in "[ab*?é]{0,8}", text in "[abé]{0,10}") {
            let mut toks = Vec::new();
            compile(&pat, true, false, &mut toks);
            let p: Vec<char> = pat.chars().collect();
            let t: Vec<char> = text.chars().collect();
            proptest::prop_assert_eq!(glob(&toks, &text, false), reference(&p, &t));
            proptest::prop_assert_eq!(Glob::new(&toks).matches(&text, false), reference(&p, &t));
        }

        #[test]
        fn folded_glob_is_case_insensitive(pat in "[aB*?]{0,6}", text in "[AbaB]{0,8}") {
            let mut toks = Vec::new();
            compile(&pat, true, true, &mut toks);
            let p: Vec<char> = pat.to_ascii_lowercase().chars().collect();
            let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
            proptest::prop_assert_eq!(glob(&toks, &text, true), reference(&p, &t));
            proptest::prop_assert_eq!(Glob::new(&toks).matches(&text, true), reference(&p, &t));
        }
    }
}
