package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/gavel/gavel/decision"
)

// recordJSON is a record without its input document, which encodeRecord
// appends after the rest with appendJSON: encoding/json writes a
// map[string]any by reflection, copying every key and value it visits to
// the heap, which for the input of a decision with six detectors was 347
// allocations, more than the rest of the record, on every commit. The
// input so comes last in the stored JSON; readers decode it by name.
type recordJSON struct {
	*decision.Record
	Input *struct{} `json:"input,omitempty"` // always nil: hides Record.Input
}

// writeRecordInput ends the JSON object in buf (a recordJSON, with or
// without its trailing newline) with the input document.
func writeRecordInput(buf *bytes.Buffer, input map[string]any) error {
	b := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	if len(b) < 2 || b[len(b)-1] != '}' {
		return fmt.Errorf("record JSON %.40q… is not an object", b)
	}
	buf.Truncate(len(b) - 1)
	tail := buf.AvailableBuffer()
	if len(b) > 2 {
		tail = append(tail, ',')
	}
	tail = append(tail, `"input":`...)
	tail, err := appendJSONObject(tail, input)
	if err != nil {
		return err
	}
	buf.Write(append(tail, '}'))
	return nil
}

// appendJSON appends v, a JSON document decoded into Go (objects as
// map[string]any, arrays as []any, strings, float64s, booleans and nulls),
// exactly as encoding/json encodes it: keys sorted, the same escaping (HTML
// characters, invalid UTF-8, U+2028 and U+2029) and the same numbers.
// Values of other types, rare in input documents, go through encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		return appendJSONFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case map[string]any:
		return appendJSONObject(b, x)
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return append(b, raw...), nil
	}
}

// keyLists are the sorted key lists of appendJSONObject, reused.
var keyLists = sync.Pool{New: func() any { return new([]string) }}

func appendJSONObject(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	kp := keyLists.Get().(*[]string)
	keys := (*kp)[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		if b, err = appendJSON(b, m[k]); err != nil {
			break
		}
	}
	clear(keys)
	*kp = keys[:0]
	keyLists.Put(kp)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSONFloat writes f as ES6 would (encoding/json's rule): plain
// decimals, and exponents only below 1e-6 and from 1e21, unpadded.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &json.UnsupportedValueError{Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 becomes e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendJSONString writes s quoted, escaped as encoding/json escapes by
// default: quotes, backslashes and control characters; <, > and & as
// \u003c, \u003e and \u0026; each invalid UTF-8 byte as \ufffd; U+2028 and
// U+2029 as \u2028 and \u2029.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
