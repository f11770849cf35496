package strict

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// referenceShape is the slow, obvious reading of what checkShape checks:
// it walks doc's tokens and reports whether doc is valid JSON, how deeply
// it nests, and whether an object holds a key twice.
func referenceShape(doc []byte) (valid bool, depth int, dup bool) {
	if !json.Valid(doc) {
		return false, 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	var stack []map[string]bool // nil for arrays
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1] != nil }
	inKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return true, depth, dup
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if tok == json.Delim('{') {
				stack = append(stack, map[string]bool{})
			} else {
				stack = append(stack, nil)
			}
			depth = max(depth, len(stack))
			inKey = false
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			inKey = false
			continue
		}
		if expectKey() && !inKey {
			k := tok.(string)
			if stack[len(stack)-1][k] {
				dup = true
			}
			stack[len(stack)-1][k] = true
			inKey = true
			continue
		}
		inKey = false
	}
}

// FuzzShape checks checkShape against the reference on valid JSON: deep
// documents and duplicate keys are refused, nothing else is.
func FuzzShape(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[1,2,{"a":2}],"c":{"a":{"a":"x"}}}`,
		`{"a":1,"a":2}`,
		`{"a\u0062":1,"ab":2}`,
		`{"a":{"b":[{"c":1,"c":2}]}}`,
		strings.Repeat("[", 64) + strings.Repeat("]", 64),
		strings.Repeat("[", 65) + strings.Repeat("]", 65),
		strings.Repeat(`{"k":`, 64) + "1" + strings.Repeat("}", 64),
		strings.Repeat(`{"k":`, 65) + "1" + strings.Repeat("}", 65),
		`{"k":"\\","k":1}`,
		`[1e5,-0.5,true,false,null,"\"]"]`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := checkShape(doc)
		valid, depth, dup := referenceShape(doc)
		if !valid {
			return // decoding explains a malformed document
		}
		if want := depth > MaxDepth || dup; (err != nil) != want {
			t.Fatalf("checkShape(%q) = %v; the document nests %d deep, duplicate key: %v", doc, err, depth, dup)
		}
	})
}
