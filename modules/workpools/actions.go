package workpools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// fields is a request body read as raw JSON by field, so that a field sent
// as null can be told from one not sent (pydantic's exclude_unset).
type fields map[string]json.RawMessage

func (f fields) has(k string) bool { _, ok := f[k]; return ok }

func (f fields) isNull(k string) bool {
	raw, ok := f[k]
	return ok && string(bytes.TrimSpace(raw)) == "null"
}

// decodeAny reads a JSON value keeping numbers as written.
func decodeAny(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v) // raw was already decoded once, so it is valid JSON
	return v
}

// checker collects pydantic-shaped errors while reading fields.
type checker struct {
	f    fields
	errs []api.FieldError
}

func (c *checker) typeErr(k, typ, msg string) {
	c.errs = append(c.errs, api.FieldError{Type: typ, Loc: []any{"body", k}, Msg: msg, Input: decodeAny(c.f[k])})
}

// str reads an optional string; null gives nil.
func (c *checker) str(k string) *string {
	if !c.f.has(k) || c.f.isNull(k) {
		return nil
	}
	var s string
	if err := json.Unmarshal(c.f[k], &s); err != nil {
		c.typeErr(k, "string_type", "Input should be a valid string")
		return nil
	}
	return &s
}

func (c *checker) boolean(k string) *bool {
	if !c.f.has(k) || c.f.isNull(k) {
		return nil
	}
	var b bool
	if err := json.Unmarshal(c.f[k], &b); err != nil {
		c.typeErr(k, "bool_type", "Input should be a valid boolean")
		return nil
	}
	return &b
}

// integer reads an optional integer at least min (0 for NonNegativeInteger,
// 1 for PositiveInteger).
func (c *checker) integer(k string, min int) *int {
	if !c.f.has(k) || c.f.isNull(k) {
		return nil
	}
	var n int
	if err := json.Unmarshal(c.f[k], &n); err != nil {
		c.typeErr(k, "int_type", "Input should be a valid integer")
		return nil
	}
	if n < min {
		if min == 0 {
			c.errs = append(c.errs, api.FieldError{Type: "greater_than_equal", Loc: []any{"body", k},
				Msg: "Input should be greater than or equal to 0", Input: n, Ctx: map[string]any{"ge": 0}})
		} else {
			c.errs = append(c.errs, api.FieldError{Type: "greater_than", Loc: []any{"body", k},
				Msg: fmt.Sprintf("Input should be greater than %d", min-1), Input: n, Ctx: map[string]any{"gt": min - 1}})
		}
		return nil
	}
	return &n
}

// object reads an optional JSON object, compacted.
func (c *checker) object(k string) json.RawMessage {
	if !c.f.has(k) || c.f.isNull(k) {
		return nil
	}
	if _, ok := decodeAny(c.f[k]).(map[string]any); !ok {
		c.typeErr(k, "dict_type", "Input should be a valid dictionary")
		return nil
	}
	var out bytes.Buffer
	_ = json.Compact(&out, c.f[k]) // valid JSON
	return out.Bytes()
}

func (c *checker) required(k string, body fields) {
	if !c.f.has(k) {
		in := map[string]any{}
		for key, raw := range body {
			in[key] = decodeAny(raw)
		}
		c.errs = append(c.errs, api.Required(k, in)...)
	}
}

// only refuses fields outside allowed (Prefect's action models forbid extras).
func (c *checker) only(allowed ...string) {
	var extra []string
	for k := range c.f {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		c.errs = append(c.errs, api.FieldError{Type: "extra_forbidden", Loc: []any{"body", k},
			Msg: "Extra inputs are not permitted", Input: decodeAny(c.f[k])})
	}
}

// name checks Prefect's Name (and NonEmptyishName when nonEmpty).
func (c *checker) name(k string, nonEmpty bool) string {
	s := c.str(k)
	if s == nil {
		if c.f.isNull(k) {
			c.typeErr(k, "string_type", "Input should be a valid string")
		}
		return ""
	}
	if errs := api.CheckName(k, *s); len(errs) > 0 {
		c.errs = append(c.errs, errs...)
		return *s
	}
	if nonEmpty && strings.TrimSpace(*s) == "" {
		c.errs = append(c.errs, valueError(k, "name cannot be an empty string", *s))
	}
	return *s
}

func valueError(field, msg string, input any) api.FieldError {
	return api.FieldError{Type: "value_error", Loc: []any{"body", field}, Msg: "Value error, " + msg,
		Input: input, Ctx: map[string]any{"error": map[string]any{}}}
}

// placeholder is Prefect's PLACEHOLDER_CAPTURE_REGEX.
var placeholder = regexp.MustCompile(`{{\s*([\w.\-\[\]$]+)\s*}}`)

// checkBaseJobTemplate is Prefect's validate_base_job_template: {} or an
// object with job_configuration and variables, every {{ placeholder }} of
// the configuration declared as a property of the variables schema.
func (c *checker) baseJobTemplate(k string) json.RawMessage {
	raw := c.object(k)
	if raw == nil {
		return nil
	}
	tmpl := decodeAny(raw).(map[string]any)
	if len(tmpl) == 0 {
		return raw
	}
	config, _ := tmpl["job_configuration"].(map[string]any)
	vars, _ := tmpl["variables"].(map[string]any)
	if len(config) == 0 || len(vars) == 0 {
		c.errs = append(c.errs, valueError(k, "The `base_job_template` must contain both a `job_configuration` key and a `variables` key.", tmpl))
		return nil
	}
	props, _ := vars["properties"].(map[string]any)
	var missing []string
	seen := map[string]bool{}
	for _, v := range config {
		b, _ := json.Marshal(v) // decoded JSON always encodes
		for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
			if _, ok := props[m[1]]; !ok && !seen[m[1]] {
				seen[m[1]] = true
				missing = append(missing, m[1])
			}
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		c.errs = append(c.errs, valueError(k, "The variables specified in the job configuration template must be present as "+
			"properties in the variables schema. Your job configuration uses the following undeclared variable(s): "+
			strings.Join(missing, " ,")+".", tmpl))
		return nil
	}
	return raw
}

// storage reads Prefect's WorkPoolStorageConfiguration (extra keys forbidden).
func (c *checker) storage(k string) *storageConfig {
	if !c.f.has(k) || c.f.isNull(k) {
		return nil
	}
	var s storageConfig
	if err := api.DecodeRaw(c.f[k], &s, k); err != nil {
		if verr, ok := err.(*api.ValidationError); ok {
			c.errs = append(c.errs, verr.Errors...)
			return nil
		}
		c.typeErr(k, "model_type", "Input should be a valid dictionary or instance of WorkPoolStorageConfiguration")
		return nil
	}
	return &s
}

// readFields decodes a body into fields, or a 422 for a non-object.
func readFields(raw []byte) (fields, error) {
	var f fields
	if err := json.Unmarshal(raw, &f); err != nil || f == nil {
		return nil, &api.ValidationError{Errors: []api.FieldError{{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: decodeAny(raw)}}}
	}
	return f, nil
}

// poolCreate is Prefect's WorkPoolCreate.
type poolCreate struct{ spec poolSpec }

func (p *poolCreate) UnmarshalJSON(b []byte) error {
	f, err := readFields(b)
	if err != nil {
		return err
	}
	c := &checker{f: f}
	c.only("name", "description", "type", "base_job_template", "is_paused", "concurrency_limit", "storage_configuration")
	c.required("name", f)
	p.spec.Name = c.name("name", true)
	p.spec.Description = c.str("description")
	p.spec.Type = agentPoolType
	if t := c.str("type"); t != nil {
		p.spec.Type = *t
	}
	p.spec.BaseJobTemplate = c.baseJobTemplate("base_job_template")
	if b := c.boolean("is_paused"); b != nil {
		p.spec.IsPaused = *b
	}
	p.spec.ConcurrencyLimit = c.integer("concurrency_limit", 0)
	if s := c.storage("storage_configuration"); s != nil {
		p.spec.StorageConfiguration = *s
	}
	if len(c.errs) > 0 {
		return &api.ValidationError{Errors: c.errs}
	}
	return nil
}

// poolUpdate is Prefect's WorkPoolUpdate: only the fields sent are set.
type poolUpdate struct {
	sent                 fields
	description          *string
	isPaused             *bool
	baseJobTemplate      json.RawMessage
	concurrencyLimit     *int
	storageConfiguration *storageConfig
}

func (p *poolUpdate) UnmarshalJSON(b []byte) error {
	f, err := readFields(b)
	if err != nil {
		return err
	}
	c := &checker{f: f}
	c.only("description", "is_paused", "base_job_template", "concurrency_limit", "storage_configuration")
	p.sent = f
	p.description = c.str("description")
	p.isPaused = c.boolean("is_paused")
	p.baseJobTemplate = c.baseJobTemplate("base_job_template")
	p.concurrencyLimit = c.integer("concurrency_limit", 0)
	p.storageConfiguration = c.storage("storage_configuration")
	if len(c.errs) > 0 {
		return &api.ValidationError{Errors: c.errs}
	}
	return nil
}

// queueCreate is Prefect's WorkQueueCreate (plus work_pool_name on the
// legacy route, ignored there as Prefect's WorkQueueCreate has no such field
// — the client never sends it).
type queueCreate struct{ spec queueSpec }

func (q *queueCreate) UnmarshalJSON(b []byte) error {
	f, err := readFields(b)
	if err != nil {
		return err
	}
	c := &checker{f: f}
	c.only("name", "description", "is_paused", "concurrency_limit", "priority", "filter")
	c.required("name", f)
	q.spec.Name = c.name("name", false)
	q.spec.Description = c.str("description")
	if d := q.spec.Description; d == nil && !f.isNull("description") {
		empty := ""
		q.spec.Description = &empty
	}
	if b := c.boolean("is_paused"); b != nil {
		q.spec.IsPaused = *b
	}
	q.spec.ConcurrencyLimit = c.integer("concurrency_limit", 0)
	q.spec.Priority = c.integer("priority", 1)
	q.spec.Filter = c.queueFilter("filter")
	if len(c.errs) > 0 {
		return &api.ValidationError{Errors: c.errs}
	}
	return nil
}

// queueFilter reads the deprecated QueueFilter {tags, deployment_ids}.
func (c *checker) queueFilter(k string) json.RawMessage {
	if !c.f.has(k) || c.f.isNull(k) {
		return nil
	}
	var qf struct {
		Tags          *[]string    `json:"tags"`
		DeploymentIDs *[]uuid.UUID `json:"deployment_ids"`
	}
	if err := api.DecodeRaw(c.f[k], &qf, k); err != nil {
		if verr, ok := err.(*api.ValidationError); ok {
			c.errs = append(c.errs, verr.Errors...)
		}
		return nil
	}
	b, _ := json.Marshal(qf) // plain struct
	return b
}

// queueUpdate is Prefect's WorkQueueUpdate: only the fields sent are set.
type queueUpdate struct {
	sent             fields
	name             *string
	description      *string
	isPaused         *bool
	concurrencyLimit *int
	priority         *int
	lastPolled       *types.DateTime
	filter           json.RawMessage
}

func (q *queueUpdate) UnmarshalJSON(b []byte) error {
	f, err := readFields(b)
	if err != nil {
		return err
	}
	c := &checker{f: f}
	c.only("name", "description", "is_paused", "concurrency_limit", "priority", "last_polled", "filter")
	q.sent = f
	q.name = c.str("name")
	q.description = c.str("description")
	q.isPaused = c.boolean("is_paused")
	q.concurrencyLimit = c.integer("concurrency_limit", 0)
	q.priority = c.integer("priority", 1)
	if f.has("last_polled") && !f.isNull("last_polled") {
		var t types.DateTime
		if err := json.Unmarshal(f["last_polled"], &t); err != nil {
			c.typeErr("last_polled", "datetime_type", "Input should be a valid datetime")
		} else {
			q.lastPolled = &t
		}
	}
	q.filter = c.queueFilter("filter")
	if len(c.errs) > 0 {
		return &api.ValidationError{Errors: c.errs}
	}
	return nil
}

// nullRequired reports a null sent for a column that cannot be null.
func (q *queueUpdate) nullRequired() bool {
	for _, k := range []string{"name", "description", "is_paused", "priority"} {
		if q.sent.isNull(k) {
			return true
		}
	}
	return false
}
