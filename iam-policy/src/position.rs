//! Where each statement sits in the document text: AWS's simulator reports
//! `StartPosition`/`EndPosition` (1-based line and column) per matched
//! statement. A small scanner over already-valid JSON.

/// A 1-based line and column in a policy document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

struct Scanner<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    column: usize,
}

impl Scanner<'_> {
    fn pos(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.chars.peek().is_some_and(|c| c.is_whitespace()) {
            self.bump();
        }
    }

    fn string(&mut self) -> Option<String> {
        self.bump(); // opening quote
        let mut out = String::new();
        loop {
            match self.bump()? {
                '"' => return Some(out),
                '\\' => {
                    let c = self.bump()?;
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }

    /// Skips one value; returns its start and end (the last character).
    fn value(&mut self) -> Option<(Position, Position)> {
        self.skip_ws();
        let start = self.pos();
        match *self.chars.peek()? {
            '"' => {
                self.string()?;
            }
            '{' | '[' => {
                let mut depth = 0usize;
                loop {
                    match *self.chars.peek()? {
                        '"' => {
                            self.string()?;
                            continue;
                        }
                        '{' | '[' => depth += 1,
                        '}' | ']' => depth -= 1,
                        _ => {}
                    }
                    let end = self.pos();
                    self.bump();
                    if depth == 0 {
                        return Some((start, end));
                    }
                }
            }
            _ => {
                while self
                    .chars
                    .peek()
                    .is_some_and(|c| !matches!(c, ',' | '}' | ']') && !c.is_whitespace())
                {
                    self.bump();
                }
            }
        }
        let end = Position {
            line: self.line,
            column: self.column.saturating_sub(1),
        };
        Some((start, end))
    }

    fn expect(&mut self, want: char) -> Option<()> {
        self.skip_ws();
        (self.bump()? == want).then_some(())
    }
}

/// Start and end of every statement of a (valid) policy document, in order.
pub(crate) fn statement_positions(document: &str) -> Vec<(Position, Position)> {
    scan(document).unwrap_or_default()
}

fn scan(document: &str) -> Option<Vec<(Position, Position)>> {
    let mut s = Scanner {
        chars: document.chars().peekable(),
        line: 1,
        column: 1,
    };
    s.expect('{')?;
    loop {
        s.skip_ws();
        if *s.chars.peek()? == '}' {
            return None;
        }
        let key = s.string()?;
        s.expect(':')?;
        if key != "Statement" {
            s.value()?;
            s.skip_ws();
            if s.bump()? == '}' {
                return None;
            }
            continue;
        }
        s.skip_ws();
        if *s.chars.peek()? != '[' {
            return s.value().map(|span| vec![span]);
        }
        s.bump();
        let mut out = Vec::new();
        loop {
            s.skip_ws();
            if *s.chars.peek()? == ']' {
                return Some(out);
            }
            out.push(s.value()?);
            s.skip_ws();
            if s.bump()? == ']' {
                return Some(out);
            }
        }
    }
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
}
