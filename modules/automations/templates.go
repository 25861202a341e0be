package automations

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/jinja"
)

// validateTemplate checks a user template as Prefect's validate_user_template.
func validateTemplate(s string) error { return jinja.Validate(s) }

var lineOf = regexp.MustCompile(`\(Line: (\d+) Col: \d+`)

// templateError is the message and line of a template error, as Jinja's
// TemplateSyntaxError reports them (lines start at 1).
func templateError(err error) (string, int) {
	msg := err.Error()
	if i := strings.Index(msg, "': "); strings.HasPrefix(msg, "failed to parse template '") && i >= 0 {
		msg = msg[i+3:]
	}
	line := 1
	if m := lineOf.FindStringSubmatch(msg); m != nil {
		if n, _ := strconv.Atoi(m[1]); n > 0 {
			line = n
		}
		msg = strings.TrimSpace(msg[:strings.Index(msg, m[0])])
	}
	return msg, line
}

// validateTemplateRoute serves POST /templates/validate (and its deprecated
// /automations/templates/validate): the body is the template as a JSON
// string; 204 if it is valid, else 422 with the error's line and message.
func validateTemplateRoute(w http.ResponseWriter, r *http.Request) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return api.BadRequest("could not read request body").Wrap(err)
	}
	source := ""
	if len(strings.TrimSpace(string(b))) > 0 {
		v, err := decodeJSON(b)
		if err != nil {
			return &api.ValidationError{Errors: []api.FieldError{{Type: "json_invalid", Loc: []any{"body", 0},
				Msg: "JSON decode error", Input: map[string]any{}, Ctx: map[string]any{"error": err.Error()}}}, Body: string(b)}
		}
		switch x := v.(type) {
		case string:
			source = x
		case map[string]any:
			source, _ = x["template"].(string)
		default:
			return &api.ValidationError{Errors: []api.FieldError{fieldError("string_type", "Input should be a valid string", v, []any{"body"})}, Body: v}
		}
	}
	if err := validateTemplate(source); err != nil {
		msg, line := templateError(err)
		return api.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error": map[string]any{"line": line, "message": msg, "source": source}})
	}
	return api.NoContent(w)
}
