//! Where things sit in the document text: AWS's simulator reports each
//! matched statement's `StartPosition`/`EndPosition` (1-based line and
//! column), and Access Analyzer's findings a `span` (line from 1, column
//! and offset from 0) of the element a path leads to. One small scanner
//! over already-valid JSON serves both.

/// A 1-based line and column in a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A place as Access Analyzer counts it: `line` from 1, `column` and
/// `offset` (characters from the start of the document) from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextPosition {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// A span of text: `end` is just past the last character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: TextPosition,
    pub end: TextPosition,
}

/// One step of a path into a document: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    Key(String),
    Index(usize),
}

struct Scanner<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    at: TextPosition,
}

impl Scanner<'_> {
    fn new(document: &str) -> Scanner<'_> {
        Scanner {
            chars: document.chars().peekable(),
            at: TextPosition {
                line: 1,
                column: 0,
                offset: 0,
            },
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        self.at.offset += 1;
        if c == '\n' {
            self.at.line += 1;
            self.at.column = 0;
        } else {
            self.at.column += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// A string token (the cursor at its opening quote), unescaped as far
    /// as keys need: `\uXXXX` and the one-character escapes.
    fn string(&mut self) -> Option<String> {
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => match self.bump()? {
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| self.bump()).collect();
                        let code = u32::from_str_radix(&hex, 16).ok()?;
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
    }

    /// Skips one value; returns its span.
    fn value(&mut self) -> Option<Span> {
        self.skip_ws();
        let start = self.at;
        match self.peek()? {
            '"' => {
                self.string()?;
            }
            '{' | '[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        '"' => {
                            self.string()?;
                            continue;
                        }
                        '{' | '[' => depth += 1,
                        '}' | ']' => depth = depth.checked_sub(1)?,
                        _ => {}
                    }
                    self.bump();
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | '}' | ']') && !c.is_whitespace())
                {
                    self.bump();
                }
            }
        }
        Some(Span {
            start,
            end: self.at,
        })
    }

    fn expect(&mut self, want: char) -> Option<()> {
        self.skip_ws();
        (self.bump()? == want).then_some(())
    }

    /// Follows `path` from the value at the cursor; the span of the value
    /// it leads to.
    fn follow(&mut self, path: &[PathStep]) -> Option<Span> {
        let Some((step, rest)) = path.split_first() else {
            return self.value();
        };
        self.skip_ws();
        match (self.peek()?, step) {
            ('{', PathStep::Key(want)) => {
                self.bump();
                loop {
                    self.skip_ws();
                    if self.peek()? != '"' {
                        return None;
                    }
                    let key = self.string()?;
                    self.expect(':')?;
                    if key == *want {
                        return self.follow(rest);
                    }
                    self.value()?;
                    self.skip_ws();
                    if self.bump()? != ',' {
                        return None;
                    }
                }
            }
            ('[', PathStep::Index(want)) => {
                self.bump();
                for _ in 0..*want {
                    self.value()?;
                    self.skip_ws();
                    if self.bump()? != ',' {
                        return None;
                    }
                }
                self.skip_ws();
                if self.peek()? == ']' {
                    return None;
                }
                self.follow(rest)
            }
            _ => None,
        }
    }
}

/// The span of the value `path` leads to in `document` (valid JSON), or
/// `None` when the path is not there.
pub(crate) fn span_of(document: &str, path: &[PathStep]) -> Option<Span> {
    Scanner::new(document).follow(path)
}

/// The span of the key itself (its quoted text) that ends `path`: where a
/// finding about an element that should not be there points.
pub(crate) fn key_span(document: &str, path: &[PathStep]) -> Option<Span> {
    let (PathStep::Key(want), parent) = path.split_last()? else {
        return None;
    };
    let object = span_of(document, parent)?;
    let mut s = Scanner::new(document);
    while s.at.offset < object.start.offset {
        s.bump()?;
    }
    s.expect('{')?;
    loop {
        s.skip_ws();
        let start = s.at;
        let key = s.string()?;
        if key == *want {
            return Some(Span { start, end: s.at });
        }
        s.expect(':')?;
        s.value()?;
        s.skip_ws();
        if s.bump()? != ',' {
            return None;
        }
    }
}

/// Start and end (its last character) of every statement of a (valid)
/// policy document, in order.
pub(crate) fn statement_positions(document: &str) -> Vec<(Position, Position)> {
    let statement = [PathStep::Key("Statement".into())];
    let Some(whole) = span_of(document, &statement) else {
        return Vec::new();
    };
    let one_based = |span: Span| {
        (
            Position {
                line: span.start.line,
                column: span.start.column + 1,
            },
            // The last character is the one before `end`, on its line.
            Position {
                line: span.end.line,
                column: span.end.column,
            },
        )
    };
    if document[..]
        .chars()
        .nth(whole.start.offset)
        .is_some_and(|c| c != '[')
    {
        return vec![one_based(whole)];
    }
    (0..)
        .map_while(|i| {
            span_of(
                document,
                &[PathStep::Key("Statement".into()), PathStep::Index(i)],
            )
        })
        .map(one_based)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_statements() {
        let doc = "{\"Version\":\"2012-10-17\",\n \"Statement\":[\n  {\"Effect\":\"Allow\",\"Action\":\"a:b\",\"Resource\":\"*\"},\n  {\"Effect\":\"Deny\",\"Action\":\"a:}\",\"Resource\":\"*\"}]}";
        let p = statement_positions(doc);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].0, Position { line: 3, column: 3 });
        assert_eq!(
            p[0].1,
            Position {
                line: 3,
                column: 50
            }
        );
        assert_eq!(p[1].0, Position { line: 4, column: 3 });
        let one = statement_positions("{\"Statement\": {\"Effect\":\"Allow\"}}");
        assert_eq!(
            one,
            vec![(
                Position {
                    line: 1,
                    column: 15
                },
                Position {
                    line: 1,
                    column: 32
                }
            )]
        );
    }

    /// Access Analyzer's positions: line from 1, column and offset from 0,
    /// the end just past the element.
    #[test]
    fn spans_follow_paths_with_access_analyzers_counting() {
        let doc =
            "{\"Statement\":[\n {\"Action\":[\"a:b\", \"c:d\"],\n  \"Eff\\u0065ct\":\"Allow\"}]}";
        let path = |steps: &[PathStep]| span_of(doc, steps);
        let key = |k: &str| PathStep::Key(k.into());
        let action = path(&[
            key("Statement"),
            PathStep::Index(0),
            key("Action"),
            PathStep::Index(1),
        ])
        .unwrap();
        assert_eq!(
            action.start,
            TextPosition {
                line: 2,
                column: 19,
                offset: 34
            }
        );
        assert_eq!(action.end.column, 24);
        assert_eq!(&doc[action.start.offset..action.end.offset], "\"c:d\"");
        // Escaped keys are compared decoded.
        let effect = path(&[key("Statement"), PathStep::Index(0), key("Effect")]).unwrap();
        assert_eq!(&doc[effect.start.offset..effect.end.offset], "\"Allow\"");
        assert_eq!(effect.start.line, 3);
        let k = key_span(doc, &[key("Statement"), PathStep::Index(0), key("Action")]).unwrap();
        assert_eq!(&doc[k.start.offset..k.end.offset], "\"Action\"");
        assert!(path(&[key("Statement"), PathStep::Index(1)]).is_none());
        assert!(path(&[key("Nope")]).is_none());
    }
}
