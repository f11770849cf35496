package dynamofake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// value is one DynamoDB attribute value.
type value struct {
	t   string // "S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"
	s   string // S; N in canonical form; B as raw bytes
	b   bool   // BOOL
	m   map[string]value
	l   []value
	set []string // SS, NS (canonical), BS (raw bytes)
}

// item is a stored item or one read from a request.
type item map[string]value

func (v value) MarshalJSON() ([]byte, error) {
	var inner any
	switch v.t {
	case "S", "N":
		inner = v.s
	case "B":
		inner = base64.StdEncoding.EncodeToString([]byte(v.s))
	case "BOOL", "NULL":
		inner = v.b
	case "M":
		m := v.m
		if m == nil {
			m = map[string]value{}
		}
		inner = m
	case "L":
		l := v.l
		if l == nil {
			l = []value{}
		}
		inner = l
	case "SS", "NS":
		inner = v.set
	case "BS":
		enc := make([]string, len(v.set))
		for i, b := range v.set {
			enc[i] = base64.StdEncoding.EncodeToString([]byte(b))
		}
		inner = enc
	default:
		return nil, fmt.Errorf("attribute value of no type")
	}
	return json.Marshal(map[string]any{v.t: inner})
}

// decodeValue reads an attribute value of a request, checking it as
// DynamoDB does.
func decodeValue(raw json.RawMessage) (value, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return value{}, validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	}
	if len(m) == 0 {
		return value{}, validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	}
	if len(m) > 1 {
		return value{}, validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	for t, r := range m {
		v := value{t: t}
		switch t {
		case "S":
			if json.Unmarshal(r, &v.s) != nil {
				return value{}, serialization()
			}
		case "N":
			if json.Unmarshal(r, &v.s) != nil {
				return value{}, serialization()
			}
			n, err := canonicalNumber(v.s)
			if err != nil {
				return value{}, err
			}
			v.s = n
		case "B":
			var b []byte
			if json.Unmarshal(r, &b) != nil {
				return value{}, serialization()
			}
			v.s = string(b)
		case "BOOL", "NULL":
			if json.Unmarshal(r, &v.b) != nil {
				return value{}, serialization()
			}
			if t == "NULL" && !v.b {
				return value{}, validation("One or more parameter values were invalid: Null attribute value types must have the value of true")
			}
		case "M":
			var mm map[string]json.RawMessage
			if json.Unmarshal(r, &mm) != nil {
				return value{}, serialization()
			}
			v.m = make(map[string]value, len(mm))
			for k, e := range mm {
				ev, err := decodeValue(e)
				if err != nil {
					return value{}, err
				}
				v.m[k] = ev
			}
		case "L":
			var ll []json.RawMessage
			if json.Unmarshal(r, &ll) != nil {
				return value{}, serialization()
			}
			v.l = make([]value, 0, len(ll))
			for _, e := range ll {
				ev, err := decodeValue(e)
				if err != nil {
					return value{}, err
				}
				v.l = append(v.l, ev)
			}
		case "SS", "NS", "BS":
			var err error
			if v.set, err = decodeSet(t, r); err != nil {
				return value{}, err
			}
		default:
			return value{}, serialization()
		}
		return v, nil
	}
	panic("unreachable")
}

func decodeSet(t string, r json.RawMessage) ([]string, error) {
	var set []string
	if t == "BS" {
		var bs [][]byte
		if json.Unmarshal(r, &bs) != nil {
			return nil, serialization()
		}
		for _, b := range bs {
			set = append(set, string(b))
		}
	} else if json.Unmarshal(r, &set) != nil {
		return nil, serialization()
	}
	if len(set) == 0 {
		return nil, validation("One or more parameter values were invalid: An string set  may not be empty")
	}
	seen := map[string]bool{}
	for i, e := range set {
		if t == "NS" {
			n, err := canonicalNumber(e)
			if err != nil {
				return nil, err
			}
			set[i] = n
		}
		if seen[set[i]] {
			return nil, validation("One or more parameter values were invalid: Input collection " + setString(set) + " contains duplicates.")
		}
		seen[set[i]] = true
	}
	return set, nil
}

func setString(set []string) string { return "[" + strings.Join(set, ", ") + "]" }

// decodeItem reads a map of attribute values.
func decodeItem(raw map[string]json.RawMessage) (item, error) {
	it := make(item, len(raw))
	for k, r := range raw {
		v, err := decodeValue(r)
		if err != nil {
			return nil, err
		}
		it[k] = v
	}
	return it, nil
}

// canonicalNumber checks a number as DynamoDB does (at most 38
// significant digits, magnitude between 1e-130 and 1e126) and returns it
// with leading and trailing zeros trimmed, as DynamoDB stores it.
func canonicalNumber(s string) (string, error) {
	r, ok := parseNumber(s)
	if !ok {
		return "", validation("A value provided cannot be converted into a number")
	}
	return formatNumber(r)
}

// parseNumber reads a decimal number exactly.
func parseNumber(s string) (*big.Rat, bool) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "/xXpP_") || strings.HasPrefix(s, "+") && len(s) > 1 && s[1] == '-' {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// formatNumber writes r, a decimal, without exponent or needless zeros,
// refusing what DynamoDB cannot store.
func formatNumber(r *big.Rat) (string, error) {
	if r.Sign() == 0 {
		return "0", nil
	}
	// r's denominator is 2^a·5^b; a scale of max(a, b) digits is exact.
	scale := 0
	for d := new(big.Int).Set(r.Denom()); d.Cmp(big.NewInt(1)) != 0; scale++ {
		switch {
		case new(big.Int).Mod(d, big.NewInt(10)).Sign() == 0:
			d.Div(d, big.NewInt(10))
		case new(big.Int).Mod(d, big.NewInt(2)).Sign() == 0:
			d.Div(d, big.NewInt(2))
		case new(big.Int).Mod(d, big.NewInt(5)).Sign() == 0:
			d.Div(d, big.NewInt(5))
		default:
			return "", validation("A value provided cannot be converted into a number")
		}
	}
	out := r.FloatString(scale)
	if strings.Contains(out, ".") {
		out = strings.TrimRight(strings.TrimRight(out, "0"), ".")
	}
	digits := strings.TrimLeft(strings.ReplaceAll(strings.TrimPrefix(out, "-"), ".", ""), "0")
	digits = strings.TrimRight(digits, "0")
	if len(digits) > 38 {
		return "", validation("Attempting to store more than 38 significant digits in a Number")
	}
	abs := new(big.Rat).Abs(r)
	if abs.Cmp(pow10(126)) >= 0 {
		return "", validation("Number overflow. Attempting to store a number with magnitude larger than supported range")
	}
	if abs.Cmp(new(big.Rat).Inv(pow10(130))) < 0 {
		return "", validation("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	return out, nil
}

func pow10(n int64) *big.Rat {
	return new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil))
}

func num(s string) *big.Rat {
	r, _ := new(big.Rat).SetString(s)
	return r
}

// compare orders two scalar values of one type: numbers numerically,
// strings and binaries by their bytes.
func compare(a, b value) int {
	if a.t == "N" {
		return num(a.s).Cmp(num(b.s))
	}
	return strings.Compare(a.s, b.s)
}

// equal tells whether two values are the same, sets regardless of order.
func equal(a, b value) bool {
	if a.t != b.t {
		return false
	}
	switch a.t {
	case "S", "B":
		return a.s == b.s
	case "N":
		return compare(a, b) == 0
	case "BOOL", "NULL":
		return a.b == b.b
	case "M":
		if len(a.m) != len(b.m) {
			return false
		}
		for k, v := range a.m {
			w, ok := b.m[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case "L":
		return slices.EqualFunc(a.l, b.l, equal)
	default:
		if len(a.set) != len(b.set) {
			return false
		}
		for _, e := range a.set {
			if !setHas(a.t, b.set, e) {
				return false
			}
		}
		return true
	}
}

func setHas(t string, set []string, e string) bool {
	for _, x := range set {
		if x == e || t == "NS" && num(x).Cmp(num(e)) == 0 {
			return true
		}
	}
	return false
}

// clone copies v deeply.
func (v value) clone() value {
	w := v
	if v.m != nil {
		w.m = make(map[string]value, len(v.m))
		for k, e := range v.m {
			w.m[k] = e.clone()
		}
	}
	if v.l != nil {
		w.l = make([]value, len(v.l))
		for i, e := range v.l {
			w.l[i] = e.clone()
		}
	}
	w.set = slices.Clone(v.set)
	return w
}

func (it item) clone() item {
	if it == nil {
		return nil
	}
	c := make(item, len(it))
	for k, v := range it {
		c[k] = v.clone()
	}
	return c
}

// size is the value's size as DynamoDB counts it against the item limit
// and capacity units.
func (v value) size() int {
	switch v.t {
	case "S", "B":
		return len(v.s)
	case "N":
		return numberSize(v.s)
	case "BOOL", "NULL":
		return 1
	case "M":
		n := 3
		for k, e := range v.m {
			n += len(k) + e.size() + 1
		}
		return n
	case "L":
		n := 3
		for _, e := range v.l {
			n += e.size() + 1
		}
		return n
	default:
		n := 0
		for _, e := range v.set {
			if v.t == "NS" {
				n += numberSize(e)
			} else {
				n += len(e)
			}
		}
		return n
	}
}

// numberSize is one byte per two significant digits, plus one.
func numberSize(s string) int {
	d := strings.Trim(strings.ReplaceAll(strings.TrimPrefix(s, "-"), ".", ""), "0")
	return (len(d)+1)/2 + 1
}

// size is the item's size: its names and values.
func (it item) size() int {
	n := 0
	for k, v := range it {
		n += len(k) + v.size()
	}
	return n
}
