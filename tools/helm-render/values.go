package main

// Values as Helm builds them: YAML read the way sigs.k8s.io/yaml reads it (through JSON, so every
// number is a float64), -f files merged in order, --set applied on top, then the result coalesced
// with the chart's values.yaml (helm.sh/helm/v3/pkg/chartutil/coalesce.go).

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v2"
)

// jsonCompatible turns what yaml.v2 decodes (map[interface{}]interface{}) into what JSON can
// encode, naming keys as sigs.k8s.io/yaml's YAMLToJSON does.
func jsonCompatible(v interface{}) (interface{}, error) {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, val := range t {
			var key string
			switch kk := k.(type) {
			case string:
				key = kk
			case int:
				key = strconv.Itoa(kk)
			case int64:
				key = strconv.FormatInt(kk, 10)
			case uint64:
				key = strconv.FormatUint(kk, 10)
			case float64:
				key = strconv.FormatFloat(kk, 'g', -1, 64)
			case bool:
				key = strconv.FormatBool(kk)
			case nil:
				key = "null"
			default:
				return nil, fmt.Errorf("unsupported map key %#v", k)
			}
			c, err := jsonCompatible(val)
			if err != nil {
				return nil, err
			}
			out[key] = c
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, val := range t {
			c, err := jsonCompatible(val)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	default:
		return v, nil
	}
}

// yamlToJSONValue decodes one YAML document the way sigs.k8s.io/yaml.Unmarshal does into an
// interface{}: YAML -> JSON -> encoding/json (numbers become float64).
func yamlToJSONValue(data []byte, out interface{}) error {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return err
	}
	c, err := jsonCompatible(raw)
	if err != nil {
		return err
	}
	j, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return json.Unmarshal(j, out)
}

// readValues parses a values document; an empty one is an empty map.
func readValues(data []byte) (map[string]interface{}, error) {
	vals := map[string]interface{}{}
	if strings.TrimSpace(string(data)) == "" {
		return vals, nil
	}
	if err := yamlToJSONValue(data, &vals); err != nil {
		return nil, fmt.Errorf("error converting YAML to JSON: %w", err)
	}
	if vals == nil { // a document that is only `null` or comments
		vals = map[string]interface{}{}
	}
	return vals, nil
}

func readValuesFile(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := readValues(data)
	if err != nil {
		return nil, fmt.Errorf("failed to parse %s: %w", path, err)
	}
	return v, nil
}

// mergeMaps is how Helm combines -f files: maps merge, anything else in b replaces a's
// (helm.sh/helm/v3/pkg/cli/values/options.go).
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if bv, ok := out[k]; ok {
				if bm, ok := bv.(map[string]interface{}); ok {
					out[k] = mergeMaps(bm, vm)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

func istable(v interface{}) bool {
	_, ok := v.(map[string]interface{})
	return ok
}

// coalesce gives the user's values precedence over the chart's: tables merge deeply, a user's
// null deletes the key, lists and scalars replace (chartutil.coalesceValues and
// coalesceTablesFullKey; warnings go to stderr as Helm prints them).
func coalesce(chartName string, user, defaults map[string]interface{}) map[string]interface{} {
	dst := deepCopy(user).(map[string]interface{})
	src := deepCopy(defaults).(map[string]interface{})
	for key, val := range src {
		value, ok := dst[key]
		if !ok {
			dst[key] = val
			continue
		}
		if value == nil {
			delete(dst, key)
		} else if dm, ok := value.(map[string]interface{}); ok {
			if sm, ok := val.(map[string]interface{}); ok {
				coalesceTables(dm, sm, chartName+"."+key)
			} else if val != nil {
				warnf("warning: skipped value for %s.%s: Not a table.", chartName, key)
			}
		}
	}
	return dst
}

func coalesceTables(dst, src map[string]interface{}, prefix string) {
	for key, val := range src {
		fullkey := prefix + "." + key
		dv, ok := dst[key]
		switch {
		case ok && dv == nil:
			delete(dst, key)
		case !ok:
			dst[key] = val
		case istable(val):
			if istable(dv) {
				coalesceTables(dv.(map[string]interface{}), val.(map[string]interface{}), fullkey)
			} else {
				warnf("warning: cannot overwrite table with non table for %s (%v)", fullkey, val)
			}
		case istable(dv) && val != nil:
			warnf("warning: destination for %s is a table. Ignoring non-table value (%v)", fullkey, val)
		}
	}
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for k, val := range t {
			out[k] = deepCopy(val)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, val := range t {
			out[i] = deepCopy(val)
		}
		return out
	default:
		return v
	}
}

func warnf(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// ---- --set (helm.sh/helm/v3/pkg/strvals) -------------------------------------------------------

// A path step: a map key, or a list index when isIndex.
type step struct {
	key     string
	index   int
	isIndex bool
}

// parseSet applies one --set (or --set-string, with asString) argument to vals: comma-separated
// key=value pairs, dotted keys, name[N] list indexes, {a,b} lists, backslash escapes; values
// typed as Helm types them (true/false, null, integers without a leading zero; the rest strings).
func parseSet(arg string, vals map[string]interface{}, asString bool) error {
	r := []rune(arg)
	i := 0
	for i < len(r) {
		path, err := parseKey(r, &i, arg)
		if err != nil {
			return err
		}
		var val interface{}
		if i < len(r) && r[i] == '{' {
			list, err := parseListValue(r, &i, arg, asString)
			if err != nil {
				return err
			}
			val = list
		} else {
			val = typedVal(readUntil(r, &i, ','), asString)
		}
		if i < len(r) {
			if r[i] != ',' {
				return fmt.Errorf("key %q has a malformed value in %q", pathString(path), arg)
			}
			i++
		}
		if err := setPath(vals, path, val); err != nil {
			return fmt.Errorf("%s in %q", err, arg)
		}
	}
	return nil
}

func parseKey(r []rune, i *int, arg string) ([]step, error) {
	var path []step
	var cur []rune
	started := false
	for *i < len(r) {
		c := r[*i]
		switch {
		case c == '\\' && *i+1 < len(r):
			cur = append(cur, r[*i+1])
			*i += 2
			started = true
		case c == '=':
			*i++
			if started || len(cur) > 0 {
				path = append(path, step{key: string(cur)})
			}
			if len(path) == 0 || (!path[len(path)-1].isIndex && path[len(path)-1].key == "") {
				return nil, fmt.Errorf("key has no name in %q", arg)
			}
			return path, nil
		case c == '.':
			if started || len(cur) > 0 {
				path = append(path, step{key: string(cur)})
			}
			cur, started = nil, false
			*i++
		case c == '[':
			if started || len(cur) > 0 {
				path = append(path, step{key: string(cur)})
			}
			cur, started = nil, false
			end := *i + 1
			for end < len(r) && r[end] != ']' {
				end++
			}
			if end >= len(r) {
				return nil, fmt.Errorf("unterminated list index in %q", arg)
			}
			n, err := strconv.Atoi(string(r[*i+1 : end]))
			if err != nil || n < 0 {
				return nil, fmt.Errorf("failed to parse index %q in %q", string(r[*i+1:end]), arg)
			}
			if n > 65536 {
				return nil, fmt.Errorf("index of %d is greater than maximum supported index 65536", n)
			}
			path = append(path, step{index: n, isIndex: true})
			*i = end + 1
		case c == ',':
			return nil, fmt.Errorf("key %q has no value", string(cur))
		default:
			cur = append(cur, c)
			started = true
			*i++
		}
	}
	return nil, fmt.Errorf("key %q has no value", pathString(append(path, step{key: string(cur)})))
}

func readUntil(r []rune, i *int, stop ...rune) []rune {
	var out []rune
	for *i < len(r) {
		c := r[*i]
		if c == '\\' && *i+1 < len(r) {
			out = append(out, r[*i+1])
			*i += 2
			continue
		}
		for _, s := range stop {
			if c == s {
				return out
			}
		}
		out = append(out, c)
		*i++
	}
	return out
}

func parseListValue(r []rune, i *int, arg string, asString bool) ([]interface{}, error) {
	*i++ // '{'
	list := []interface{}{}
	for {
		item := readUntil(r, i, ',', '}')
		if *i >= len(r) {
			return nil, fmt.Errorf("list value is not closed with '}' in %q", arg)
		}
		if len(item) > 0 || r[*i] == ',' {
			list = append(list, typedVal(item, asString))
		}
		if r[*i] == '}' {
			*i++
			return list, nil
		}
		*i++
	}
}

func typedVal(v []rune, asString bool) interface{} {
	val := string(v)
	if asString {
		return val
	}
	if strings.EqualFold(val, "true") {
		return true
	}
	if strings.EqualFold(val, "false") {
		return false
	}
	if strings.EqualFold(val, "null") {
		return nil
	}
	if val == "0" {
		return int64(0)
	}
	if len(val) != 0 && val[0] != '0' {
		if iv, err := strconv.ParseInt(val, 10, 64); err == nil {
			return iv
		}
	}
	return val
}

func pathString(p []step) string {
	var b strings.Builder
	for i, s := range p {
		if s.isIndex {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

// setPath stores val at path, creating maps and growing lists (with nulls) on the way.
func setPath(root map[string]interface{}, path []step, val interface{}) error {
	var container interface{} = root
	var assign func(interface{})
	for n, s := range path {
		last := n == len(path)-1
		if s.isIndex {
			list, ok := container.([]interface{})
			if !ok {
				list = []interface{}{}
			}
			for len(list) <= s.index {
				list = append(list, nil)
			}
			if assign != nil {
				assign(list)
			}
			if last {
				list[s.index] = val
				return nil
			}
			idx, l := s.index, list
			assign = func(v interface{}) { l[idx] = v }
			container = list[s.index]
			continue
		}
		m, ok := container.(map[string]interface{})
		if !ok {
			m = map[string]interface{}{}
			if assign == nil {
				return fmt.Errorf("cannot set %q", pathString(path))
			}
			assign(m)
		}
		if last {
			m[s.key] = val
			return nil
		}
		key := s.key
		assign = func(v interface{}) { m[key] = v }
		next := m[key]
		if path[n+1].isIndex {
			if _, ok := next.([]interface{}); !ok {
				next = nil
			}
		} else if _, ok := next.(map[string]interface{}); !ok {
			next = map[string]interface{}{}
			m[key] = next
		}
		container = next
	}
	return nil
}
