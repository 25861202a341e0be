package logs

import (
	"strings"
	"unicode"

	"github.com/prefect-server/prefect-server/platform/filter"
)

// textQuery is a parsed text search (Prefect's TextSearchQuery): any include
// term matches, no exclude term may match, every required term must match.
type textQuery struct {
	include, exclude, required []string
}

// parseTextQuery parses a search as Prefect's parse_text_search_query does:
// space-separated terms, "-" or "!" to exclude, "+" to require, double
// quotes around phrases, backslash escapes inside them.
func parseTextQuery(query string) textQuery {
	var q textQuery
	s := []rune(query)
	add := func(prefix rune, term string) {
		switch prefix {
		case '-', '!':
			q.exclude = append(q.exclude, term)
		case '+':
			q.required = append(q.required, term)
		default:
			q.include = append(q.include, term)
		}
	}
	for i := 0; i < len(s); {
		if unicode.IsSpace(s[i]) {
			i++
			continue
		}
		var prefix rune
		if strings.ContainsRune("-!+", s[i]) {
			i++
			if i >= len(s) || unicode.IsSpace(s[i]) {
				continue // a lone prefix is ignored
			}
			prefix = s[i-1]
		}
		if s[i] == '"' {
			i++
			start := i
			for i < len(s) {
				if s[i] == '\\' && i+1 < len(s) {
					i += 2
				} else if s[i] == '"' {
					break
				} else {
					i++
				}
			}
			phrase := unescapePhrase(s[start:min(i, len(s))])
			if i < len(s) {
				i++
			}
			if strings.TrimSpace(phrase) != "" {
				add(prefix, phrase)
			}
			continue
		}
		start := i
		for i < len(s) && !unicode.IsSpace(s[i]) && s[i] != '"' {
			i++
		}
		if i > start {
			add(prefix, string(s[start:i]))
		}
	}
	return q
}

// unescapePhrase turns \" into " and \\ into \; other backslashes stay.
func unescapePhrase(p []rune) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) && (p[i+1] == '"' || p[i+1] == '\\') {
			b.WriteRune(p[i+1])
			i++
			continue
		}
		b.WriteRune(p[i])
	}
	return b.String()
}

// searchable is the text a search looks in: message and logger name.
const searchable = "LOWER(log.message || ' ' || log.name)"

// textWhere adds the search's conditions to w as Prefect does: one OR group
// of include terms, one AND group of negated exclude terms, one AND group of
// required terms; each term a case-insensitive substring, % and _ literal.
func textWhere(w *filter.Where, q textQuery) {
	contains := func(term string) (string, any) {
		return searchable + " LIKE ? ESCAPE '/'", "%" + escapeLike(strings.ToLower(term)) + "%"
	}
	if len(q.include) > 0 {
		or := filter.WithOperator("or_")
		for _, t := range q.include {
			or.Add(contains(t))
		}
		w.Group(or)
	}
	if len(q.exclude) > 0 {
		and := filter.And()
		for _, t := range q.exclude {
			expr, arg := contains(t)
			and.Add("NOT ("+expr+")", arg)
		}
		w.Group(and)
	}
	if len(q.required) > 0 {
		and := filter.And()
		for _, t := range q.required {
			and.Add(contains(t))
		}
		w.Group(and)
	}
}

// escapeLike escapes LIKE's wildcards with "/", as SQLAlchemy's autoescape.
func escapeLike(s string) string {
	return strings.NewReplacer("/", "//", "%", "/%", "_", "/_").Replace(s)
}
