package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxDepth bounds how deeply a document may nest objects and arrays. No
// berth document needs more than a handful of levels; a bound keeps a small
// hostile body from costing memory or time in proportion to its depth.
const MaxDepth = 64

// maxListedKeys is how many keys of one object are compared pairwise before
// a map takes over: most objects are small, and a hostile one with many keys
// must not cost time quadratic in their number.
const maxListedKeys = 16

// errMalformed stops the scan of a document that is not JSON; decoding it
// explains what is wrong.
var errMalformed = errors.New("malformed")

// checkShape reads doc once, without building anything per value, and
// reports the first object or array nested deeper than MaxDepth and the
// first key that an object holds twice (encoding/json would keep the last
// silently), as a *berth.FieldError. Paths are built only for the error.
// A malformed document is left for decoding to explain.
func checkShape(doc []byte) error {
	s := shapeScanner{doc: doc}
	s.space()
	switch err := s.value(1).(type) {
	case nil:
		return nil
	case *pathError:
		return err.fieldError()
	default:
		return nil // malformed
	}
}

// shapeScanner walks a JSON document byte by byte.
type shapeScanner struct {
	doc []byte
	pos int
}

// pathError is a problem at a path, collected from the inside out as the
// scan unwinds.
type pathError struct {
	segments []string // innermost first
	problem  string
	// outermost keeps only the outermost segment: the path to a value
	// nested too deeply is as long as the document.
	outermost bool
}

func (e *pathError) Error() string { return e.problem }

// at adds the segment that leads to the value at fault.
func (e *pathError) at(seg string) *pathError {
	if e.outermost {
		e.segments = e.segments[:0]
	}
	e.segments = append(e.segments, seg)
	return e
}

// fieldError turns e into a *berth.FieldError naming its path.
func (e *pathError) fieldError() error {
	var b strings.Builder
	for i := len(e.segments) - 1; i >= 0; i-- {
		seg := e.segments[i]
		if b.Len() > 0 && !strings.HasPrefix(seg, "[") {
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return fieldError(b.String(), "%s", e.problem)
}

func (s *shapeScanner) space() {
	for s.pos < len(s.doc) {
		switch s.doc[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value reads one value at nesting depth depth.
func (s *shapeScanner) value(depth int) error {
	if s.pos >= len(s.doc) {
		return errMalformed
	}
	switch s.doc[s.pos] {
	case '{', '[':
		if depth > MaxDepth {
			return &pathError{problem: fmt.Sprintf("nests deeper than %d levels", MaxDepth), outermost: true}
		}
		if s.doc[s.pos] == '{' {
			return s.object(depth)
		}
		return s.array(depth)
	case '"':
		_, _, err := s.str()
		return err
	}
	start := s.pos
	for s.pos < len(s.doc) && isLiteralByte(s.doc[s.pos]) {
		s.pos++
	}
	if s.pos == start {
		return errMalformed
	}
	return nil
}

func isLiteralByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'E'
}

// str reads a string and returns its raw contents and whether they hold an
// escape.
func (s *shapeScanner) str() (raw []byte, escaped bool, err error) {
	s.pos++ // the opening quote
	start := s.pos
	for s.pos < len(s.doc) {
		switch s.doc[s.pos] {
		case '"':
			raw = s.doc[start:s.pos]
			s.pos++
			return raw, escaped, nil
		case '\\':
			escaped = true
			s.pos += 2
		default:
			s.pos++
		}
	}
	return nil, false, errMalformed
}

func (s *shapeScanner) array(depth int) error {
	s.pos++
	s.space()
	if s.pos < len(s.doc) && s.doc[s.pos] == ']' {
		s.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := s.value(depth + 1); err != nil {
			if pe, ok := err.(*pathError); ok {
				return pe.at(fmt.Sprintf("[%d]", i))
			}
			return err
		}
		if end, err := s.after(']'); end || err != nil {
			return err
		}
	}
}

func (s *shapeScanner) object(depth int) error {
	s.pos++
	s.space()
	if s.pos < len(s.doc) && s.doc[s.pos] == '}' {
		s.pos++
		return nil
	}
	var keys keySet
	for {
		if s.pos >= len(s.doc) || s.doc[s.pos] != '"' {
			return errMalformed
		}
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		key := raw
		if escaped || !utf8.Valid(raw) { // decoding turns both into other bytes
			var k string
			if json.Unmarshal(s.doc[s.pos-len(raw)-2:s.pos], &k) != nil {
				return errMalformed
			}
			key = []byte(k)
		}
		if keys.add(key) {
			return (&pathError{problem: "is given twice in the same object"}).at(string(key))
		}
		s.space()
		if s.pos >= len(s.doc) || s.doc[s.pos] != ':' {
			return errMalformed
		}
		s.pos++
		s.space()
		if err := s.value(depth + 1); err != nil {
			if pe, ok := err.(*pathError); ok {
				return pe.at(string(key))
			}
			return err
		}
		if end, err := s.after('}'); end || err != nil {
			return err
		}
	}
}

// after reads what follows a member of an object or array: a comma, or
// closing, which ends it.
func (s *shapeScanner) after(closing byte) (end bool, err error) {
	s.space()
	if s.pos >= len(s.doc) {
		return false, errMalformed
	}
	switch s.doc[s.pos] {
	case ',':
		s.pos++
		s.space()
		return false, nil
	case closing:
		s.pos++
		return true, nil
	}
	return false, errMalformed
}

// keySet holds the keys of one object: a list while it is short, a map
// once it is long.
type keySet struct {
	list [][]byte
	set  map[string]struct{}
}

// add adds key and reports whether it was there already.
func (k *keySet) add(key []byte) bool {
	if k.set != nil {
		if _, ok := k.set[string(key)]; ok {
			return true
		}
		k.set[string(key)] = struct{}{}
		return false
	}
	for _, seen := range k.list {
		if bytes.Equal(seen, key) {
			return true
		}
	}
	k.list = append(k.list, key)
	if len(k.list) > maxListedKeys {
		k.set = make(map[string]struct{}, 2*len(k.list))
		for _, seen := range k.list {
			k.set[string(seen)] = struct{}{}
		}
		k.list = nil
	}
	return false
}
