package config

import "strings"

// Env looks up an environment variable. Tests pass MapEnv; main passes
// os.LookupEnv.
type Env func(name string) (value string, ok bool)

// MapEnv returns an Env backed by m.
func MapEnv(m map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

const osEnvironPrefix = "os.environ/"

// expand resolves the environment references in s (see the package comment)
// and returns the names of the variables that were referenced but not set.
func expand(s string, lookup Env) (string, []string) {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(s), osEnvironPrefix); ok {
		name := strings.TrimSpace(rest)
		if v, ok := lookup(name); ok {
			return v, nil
		}
		return "", []string{name}
	}
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		inner := s[i+2 : i+2+end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !validVarName(name) {
			// Not a reference (e.g. a literal "${" in a password): keep it.
			b.WriteString("${")
			i += 2
			continue
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			v = def
		case !ok:
			missing = append(missing, name)
		}
		b.WriteString(v)
		i += 2 + end + 1
	}
	return b.String(), missing
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
