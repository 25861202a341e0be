package jinja

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nikolalohinski/gonja/v2/loaders"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

const rootName = "template"

// sourceLoader serves the one template being parsed and nothing else, so a
// template can never read a file.
type sourceLoader string

func (s sourceLoader) Read(path string) (io.Reader, error) {
	if path != rootName {
		return nil, fmt.Errorf("template %q not found: templates cannot load other templates", path)
	}
	return strings.NewReader(string(s)), nil
}

func (s sourceLoader) Resolve(path string) (string, error) { return path, nil }

func (s sourceLoader) Inherit(string) (loaders.Loader, error) {
	return nil, errors.New("templates cannot load other templates")
}

// checkLoops applies Prefect's loop limits: at most MaxLoops for loops,
// nested at most MaxNestedLoops deep. It reads the token stream; a template
// whose blocks do not balance is left to the parser to refuse.
func checkLoops(source string) error {
	stream := tokens.LexAll(source, templateConfig)
	loops, depth, deepest := 0, 0, 0
	afterBlockBegin := false
	for !stream.End() {
		tok := stream.Current()
		if afterBlockBegin && tok.Type == tokens.Name {
			switch tok.Val {
			case "for":
				loops++
				depth++
				deepest = max(deepest, depth)
			case "endfor":
				depth--
			}
		}
		afterBlockBegin = tok.Type == tokens.BlockBegin
		stream.Next()
	}
	if loops > MaxLoops {
		return fmt.Errorf("%w: contains %d for loops. Templates can contain no more than %d for loops", ErrSecurity, loops, MaxLoops)
	}
	if deepest > MaxNestedLoops {
		return fmt.Errorf("%w: contains nested for loops at a depth of %d. Templates can nest for loops no more than %d loops deep", ErrSecurity, deepest, MaxNestedLoops)
	}
	return nil
}
