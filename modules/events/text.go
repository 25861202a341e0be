package events

import (
	"strings"
	"unicode"
)

// textQuery is a parsed text search (prefect.server.utilities.text_search_parser).
type textQuery struct {
	include  []string // any of them (OR)
	exclude  []string // none of them ("-term" or "!term")
	required []string // all of them ("+term")
}

// parseTextQuery parses Prefect's text search syntax: space-separated terms,
// a "-", "!" or "+" prefix directly before a term, and quoted phrases with
// backslash escapes.
func parseTextQuery(q string) textQuery {
	var out textQuery
	r := []rune(q)
	add := func(prefix rune, term string) {
		switch prefix {
		case '-', '!':
			out.exclude = append(out.exclude, term)
		case '+':
			out.required = append(out.required, term)
		default:
			out.include = append(out.include, term)
		}
	}
	for i := 0; i < len(r); {
		if unicode.IsSpace(r[i]) {
			i++
			continue
		}
		var prefix rune
		if strings.ContainsRune("-!+", r[i]) {
			i++
			if i >= len(r) || unicode.IsSpace(r[i]) {
				continue // a prefix followed by a space is ignored
			}
			prefix = r[i-1]
		}
		if r[i] == '"' {
			i++
			start := i
			for i < len(r) {
				if r[i] == '\\' && i+1 < len(r) {
					i += 2
				} else if r[i] == '"' {
					break
				} else {
					i++
				}
			}
			phrase := unescapePhrase(string(r[start:i]))
			if i < len(r) {
				i++ // the closing quote
			}
			if strings.TrimSpace(phrase) != "" {
				add(prefix, phrase)
			}
			continue
		}
		start := i
		for i < len(r) && !unicode.IsSpace(r[i]) && r[i] != '"' {
			i++
		}
		if term := string(r[start:i]); term != "" {
			add(prefix, term)
		}
	}
	return out
}

// unescapePhrase turns \" into " and \\ into \; other backslashes stay.
func unescapePhrase(p string) string {
	var b strings.Builder
	r := []rune(p)
	for i := 0; i < len(r); i++ {
		if r[i] == '\\' && i+1 < len(r) && (r[i+1] == '"' || r[i+1] == '\\') {
			b.WriteRune(r[i+1])
			i++
			continue
		}
		b.WriteRune(r[i])
	}
	return b.String()
}
