package strict

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// duplicateKey reports the first key that an object of doc holds twice,
// as a *berth.FieldError naming it by its path: encoding/json would keep
// the last silently. A malformed document is left for decoding to explain.
func duplicateKey(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	_, err := walkValue(dec, "")
	return err
}

// walkValue reads one value from dec and reports its first duplicate key.
// ok is false when the document is malformed.
func walkValue(dec *json.Decoder, path string) (ok bool, err error) {
	tok, tokErr := dec.Token()
	if tokErr != nil {
		return false, nil
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, tokErr := dec.Token()
			key, isKey := kt.(string)
			if tokErr != nil || !isKey {
				return false, nil
			}
			p := joinPath(path, key)
			if seen[key] {
				return true, fieldError(p, "is given twice in the same object")
			}
			seen[key] = true
			if ok, err := walkValue(dec, p); err != nil || !ok {
				return ok, err
			}
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if ok, err := walkValue(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil || !ok {
				return ok, err
			}
		}
	default:
		return true, nil
	}
	if _, tokErr := dec.Token(); tokErr != nil {
		return false, nil
	}
	return true, nil
}
