package dynamofake

import (
	"fmt"
	"strings"
)

// token is one lexeme of an expression.
type token struct {
	kind string // "name", "#", ":", "num", "op", "eof"
	text string
	pos  int // its offset in the expression
}

// lex splits an expression into tokens.
func lex(kind, s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#' || c == ':':
			j := i + 1
			for j < len(s) && isWord(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxAt(kind, s, toks, token{kind: "op", text: string(c), pos: i})
			}
			toks = append(toks, token{kind: string(c), text: s[i:j], pos: i})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			toks = append(toks, token{kind: "num", text: s[i:j], pos: i})
			i = j
		case isWord(c):
			j := i
			for j < len(s) && isWord(s[j]) {
				j++
			}
			toks = append(toks, token{kind: "name", text: s[i:j], pos: i})
			i = j
		case c == '<' || c == '>':
			j := i + 1
			if j < len(s) && (s[j] == '=' || c == '<' && s[j] == '>') {
				j++
			}
			toks = append(toks, token{kind: "op", text: s[i:j], pos: i})
			i = j
		case strings.IndexByte("=(),.[]+-", c) >= 0:
			toks = append(toks, token{kind: "op", text: s[i : i+1], pos: i})
			i++
		default:
			return nil, validation(fmt.Sprintf("Invalid %s: Invalid token: %q", kind, string(c)))
		}
	}
	return append(toks, token{kind: "eof", text: "<EOF>", pos: len(s)}), nil
}

func isWord(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// syntaxAt is DynamoDB's syntax error at tok: the token and the text
// from the token before it.
func syntaxAt(kind, s string, toks []token, tok token) error {
	start := tok.pos
	if len(toks) > 0 {
		start = toks[len(toks)-1].pos
	}
	end := min(tok.pos+len(tok.text), len(s))
	return validation(fmt.Sprintf("Invalid %s: Syntax error; token: %q, near: %q", kind, tok.text, s[start:end]))
}
