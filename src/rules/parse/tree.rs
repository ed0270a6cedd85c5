//! The shared syntax of DRBD/BSR configuration files and of `bsrsetup show` / `drbdsetup show`:
//! statements of words ending in `;`, and blocks `words { ... }`; `#` comments; quoted strings.
//! This layer only builds a tree; meaning is given by `resfile` and `setup_show`. It never fails:
//! unbalanced braces are closed at the end, stray `}` are ignored, nesting is capped.

/// One statement (`children` is None) or block (`children` is Some).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    pub words: Vec<String>,
    /// 1-based line of the first word (or of the `{` when a block has no words).
    pub line: u64,
    pub children: Option<Vec<Node>>,
}

impl Node {
    pub fn keyword(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or("")
    }

    pub fn children(&self) -> &[Node] {
        self.children.as_deref().unwrap_or(&[])
    }

    pub fn is_block(&self) -> bool {
        self.children.is_some()
    }

    /// The source line as a short text for excerpts: `words...;` or `words... {`.
    pub fn describe(&self) -> String {
        let mut text = self.words.join(" ");
        text.push_str(if self.is_block() { " {" } else { ";" });
        text
    }
}

/// Deeper blocks are flattened into their parent: real files nest 4 levels, garbage may nest
/// millions, and recursive consumers must not overflow the stack.
const MAX_DEPTH: usize = 32;

#[derive(Debug, PartialEq)]
enum Token {
    Word(String, u64),
    Open(u64),
    Close,
    Semi,
}

/// A lazy tokenizer: the tree is built while reading, so no token list as large as the input
/// (several times its size in memory) exists at any time.
struct Tokens<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: u64,
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let chars = &mut self.chars;
        loop {
            let c = chars.next()?;
            match c {
                '\n' => self.line += 1,
                c if c.is_whitespace() => {}
                '#' => {
                    for next in chars.by_ref() {
                        if next == '\n' {
                            self.line += 1;
                            break;
                        }
                    }
                }
                '{' => return Some(Token::Open(self.line)),
                '}' => return Some(Token::Close),
                ';' => return Some(Token::Semi),
                '"' => {
                    let start = self.line;
                    let mut word = String::new();
                    while let Some(next) = chars.next() {
                        match next {
                            '"' => break,
                            '\\' => {
                                if let Some(escaped) = chars.next() {
                                    if escaped == '\n' {
                                        self.line += 1;
                                    }
                                    push_capped(&mut word, escaped);
                                }
                            }
                            '\n' => {
                                self.line += 1;
                                push_capped(&mut word, next);
                            }
                            other => push_capped(&mut word, other),
                        }
                    }
                    return Some(Token::Word(word, start));
                }
                first => {
                    let mut word = String::from(first);
                    while let Some(&next) = chars.peek() {
                        if next.is_whitespace() || matches!(next, '{' | '}' | ';' | '"' | '#') {
                            break;
                        }
                        push_capped(&mut word, next);
                        chars.next();
                    }
                    return Some(Token::Word(word, self.line));
                }
            }
        }
    }
}

/// Longest word kept: real words (paths, secrets, addresses) are far shorter; the rest of a
/// longer one is read and dropped, so one giant "word" cannot hold memory.
const MAX_WORD: usize = 4096;

fn push_capped(word: &mut String, c: char) {
    if word.len() < MAX_WORD {
        word.push(c);
    }
}

fn tokenize(text: &str) -> Tokens<'_> {
    Tokens {
        chars: text.chars().peekable(),
        line: 1,
    }
}

/// Most statements and blocks kept from one text; a real configuration has a few thousand.
/// Beyond it the rest of the text is not read (memory stays a small multiple of the input).
pub const MAX_NODES: usize = 200_000;

/// Most words kept in one statement (a `hosts` list of a big mesh has a few dozen).
const MAX_WORDS: usize = 256;

/// Parses text into top-level nodes.
pub fn parse(text: &str) -> Vec<Node> {
    // stack[0] is the top level; each open block pushes its node.
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut pending: Vec<String> = Vec::new();
    let mut pending_line: u64 = 0;
    let mut ignored_opens: usize = 0;

    fn flush(stack: &mut [Node], pending: &mut Vec<String>, line: u64) {
        if pending.is_empty() {
            return;
        }
        let node = Node {
            words: std::mem::take(pending),
            line,
            children: None,
        };
        if let Some(top) = stack.last_mut() {
            top.children.get_or_insert_with(Vec::new).push(node);
        }
    }

    let mut nodes: usize = 0;
    for token in tokenize(text) {
        if nodes >= MAX_NODES {
            break;
        }
        match token {
            Token::Word(word, line) => {
                if pending.is_empty() {
                    pending_line = line;
                }
                if pending.len() < MAX_WORDS {
                    pending.push(word);
                }
            }
            Token::Semi => {
                if !pending.is_empty() {
                    nodes += 1;
                }
                flush(&mut stack, &mut pending, pending_line)
            }
            Token::Open(line) => {
                nodes += 1;
                if stack.len() > MAX_DEPTH {
                    ignored_opens += 1;
                    flush(&mut stack, &mut pending, pending_line);
                    continue;
                }
                let line = if pending.is_empty() {
                    line
                } else {
                    pending_line
                };
                stack.push(Node {
                    words: std::mem::take(&mut pending),
                    line,
                    children: Some(Vec::new()),
                });
            }
            Token::Close => {
                if !pending.is_empty() {
                    nodes += 1;
                }
                flush(&mut stack, &mut pending, pending_line);
                if ignored_opens > 0 {
                    ignored_opens -= 1;
                    continue;
                }
                if stack.len() > 1 {
                    if let Some(done) = stack.pop() {
                        if let Some(parent) = stack.last_mut() {
                            parent.children.get_or_insert_with(Vec::new).push(done);
                        }
                    }
                }
            }
        }
    }
    flush(&mut stack, &mut pending, pending_line);
    while stack.len() > 1 {
        if let Some(done) = stack.pop() {
            if let Some(parent) = stack.last_mut() {
                parent.children.get_or_insert_with(Vec::new).push(done);
            }
        }
    }
    stack.pop().and_then(|top| top.children).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_blocks_comments_and_quotes() {
        let nodes = parse(
            "# top comment\nglobal { usage-count no; }\nresource \"r 0\" {\n  net { ping-timeout 30; } # c\n  on alpha { address ipv4 10.0.0.1:7789; }\n}\n",
        );
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].words, ["global"]);
        assert_eq!(nodes[0].children()[0].words, ["usage-count", "no"]);
        assert_eq!(nodes[1].words, ["resource", "r 0"]);
        assert_eq!(nodes[1].line, 3);
        let on = &nodes[1].children()[1];
        assert_eq!(on.words, ["on", "alpha"]);
        assert_eq!(on.line, 5);
        assert_eq!(on.children()[0].words, ["address", "ipv4", "10.0.0.1:7789"]);
    }

    #[test]
    fn crlf_and_missing_semicolon_before_brace() {
        let nodes = parse("resource r0 {\r\n on a { address 1.2.3.4:1 }\r\n}\r\n");
        assert_eq!(
            nodes[0].children()[0].children()[0].words,
            ["address", "1.2.3.4:1"]
        );
    }

    #[test]
    fn unbalanced_and_garbage_input_never_panics() {
        assert!(parse("}}}}").is_empty());
        let nodes = parse("resource r0 { on a {");
        assert_eq!(nodes.len(), 1);
        let deep = "{".repeat(100_000) + &"}".repeat(5);
        let _ = parse(&deep);
        let _ = parse("\"unterminated");
        let _ = parse("\\");
        // Pseudo-random bytes, deterministic.
        let mut seed: u32 = 12345;
        for _ in 0..200 {
            let mut text = String::new();
            for _ in 0..500 {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let pick = (seed >> 16) as usize % 12;
                text.push(['{', '}', ';', '"', '#', '\n', 'a', ' ', '\\', ':', '1', 'é'][pick]);
            }
            let _ = parse(&text);
        }
    }
}
