package berth

import (
	"bytes"
	"encoding/json"
	"strings"
)

// eachJSONField calls f with the name and the raw value of each field of
// doc, a JSON object, in order, without decoding the values: cheaper by far
// than decoding the document again to learn which fields it gives. Names
// are unescaped; a caller compares them as encoding/json does, ignoring
// case (bytes.EqualFold). It reports false, having called f for the fields
// before, when doc is not a well-formed object.
func eachJSONField(doc []byte, f func(name, value []byte)) bool {
	i := jsonSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return false
	}
	i = jsonSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return jsonSpace(doc, i+1) == len(doc)
	}
	for {
		end := jsonSkip(doc, i)
		if end < 0 || doc[i] != '"' {
			return false
		}
		name := doc[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			var s string
			if json.Unmarshal(doc[i:end], &s) != nil {
				return false
			}
			name = []byte(s)
		}
		i = jsonSpace(doc, end)
		if i >= len(doc) || doc[i] != ':' {
			return false
		}
		i = jsonSpace(doc, i+1)
		end = jsonSkip(doc, i)
		if end < 0 {
			return false
		}
		f(name, doc[i:end])
		i = jsonSpace(doc, end)
		switch {
		case i < len(doc) && doc[i] == ',':
			i = jsonSpace(doc, i+1)
		case i < len(doc) && doc[i] == '}':
			return jsonSpace(doc, i+1) == len(doc)
		default:
			return false
		}
	}
}

// jsonSpace returns the index of the first byte at or after i that is not
// JSON white space.
func jsonSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// jsonSkip returns the index just past the value that starts at i, or -1
// when there is none. It finds where a value ends, not whether it is
// well-formed: decoding the value judges that.
func jsonSkip(doc []byte, i int) int {
	if i >= len(doc) {
		return -1
	}
	switch doc[i] {
	case '"':
		for i++; i < len(doc); i++ {
			switch doc[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return -1
	case '{', '[':
		depth := 0
		for i < len(doc) {
			switch doc[i] {
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			case '"':
				if i = jsonSkip(doc, i); i < 0 {
					return -1
				}
				continue
			}
			i++
		}
		return -1
	}
	start := i
	for i < len(doc) && strings.IndexByte("0123456789+-.eEaflnrstu", doc[i]) >= 0 {
		i++
	}
	if i == start {
		return -1
	}
	return i
}
