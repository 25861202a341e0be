package deployments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/api"
)

// defaultAgentPool is the legacy pool whose job variables Prefect's create
// never validates.
const defaultAgentPool = "default-agent-pool"

// checkJobVariables is Prefect's _validate_work_pool_job_variables: the
// pool's variable defaults overlaid with vars (in order) must satisfy the
// template's variables schema, with null allowed where a default exists.
// Defaults that do not satisfy it themselves are dropped, and then required
// fields are not checked either. A default that references a block document
// is skipped (this server has no blocks). Nil when the pool has no variables
// schema.
func checkJobVariables(template map[string]any, ignoreRequired bool, vars ...map[string]any) error {
	schema, _ := template["variables"].(map[string]any)
	if len(schema) == 0 {
		return nil
	}
	props, _ := schema["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	all := map[string]any{}
	invalidDefaults := false
	for _, name := range names {
		prop, _ := props[name].(map[string]any)
		def, has := prop["default"]
		if !has {
			continue
		}
		if ref, isMap := def.(map[string]any); isMap && ref["$ref"] != nil {
			continue
		}
		if validateSchema(map[string]any{name: def}, schema, schemaOptions{ignoreRequired: true}) != nil {
			invalidDefaults = true
			continue
		}
		all[name] = def
	}
	for _, v := range vars {
		for k, e := range v {
			all[k] = e
		}
	}
	return validateSchema(all, schema, schemaOptions{preprocess: true, ignoreRequired: ignoreRequired || invalidDefaults, allowNoneWithDefault: true})
}

// poolTemplate is the base job template of the named pool; nil, nil when
// there is no such pool (the queue resolution answers that 404 later).
func (h *handlers) poolTemplate(ctx context.Context, pool string) (map[string]any, error) {
	tmpl, err := h.repo.pools.BaseJobTemplate(ctx, h.repo.db.Read, pool)
	if errors.Is(err, workpools.ErrPoolNotFound) {
		return nil, nil
	}
	return tmpl, err
}

// checkCreateJobVariables is Prefect's validate_job_variables_for_deployment
// on create: the deployment's job variables against its pool's template,
// required fields aside.
func (h *handlers) checkCreateJobVariables(ctx context.Context, pool *string, vars map[string]any) error {
	if pool == nil || *pool == "" || *pool == defaultAgentPool || len(vars) == 0 {
		return nil
	}
	tmpl, err := h.poolTemplate(ctx, *pool)
	if err != nil {
		return err
	}
	if err := checkJobVariables(tmpl, true, vars); err != nil {
		return &api.Error{Status: http.StatusUnprocessableEntity, Detail: "Error creating deployment: " + err.Error()}
	}
	return nil
}

// checkUpdateJobVariables is DeploymentUpdate.check_valid_configuration,
// run by Prefect's PATCH when it names a work pool: the sent job variables
// alone (no defaults) against the pool's variables schema, required fields
// aside; a 409.
func (h *handlers) checkUpdateJobVariables(ctx context.Context, pool *string, vars map[string]any) error {
	if pool == nil || *pool == "" || vars == nil {
		return nil
	}
	tmpl, err := h.poolTemplate(ctx, *pool)
	if err != nil {
		return err
	}
	schema, isMap := tmpl["variables"].(map[string]any)
	if !isMap {
		return nil
	}
	err = validateSchema(vars, schema, schemaOptions{preprocess: true, ignoreRequired: true})
	var serr *schemaError
	if errors.As(err, &serr) {
		// Prefect shows the repr of jsonschema's error here.
		return api.Conflict(fmt.Sprintf(`Error creating deployment: <ValidationError: "%s">`, serr.reason)).Wrap(err)
	}
	return err
}

// checkRunJobVariables is Prefect's validate_job_variables_for_deployment_flow_run:
// the pool's defaults, the deployment's and the run's job variables
// together, required fields included.
func (h *handlers) checkRunJobVariables(ctx context.Context, d *Deployment, vars map[string]any) *runFailure {
	if d.WorkPoolName == nil {
		return nil
	}
	tmpl, err := h.poolTemplate(ctx, *d.WorkPoolName)
	if err != nil {
		return &runFailure{err, err.Error()}
	}
	if err := checkJobVariables(tmpl, false, d.JobVariables, vars); err != nil {
		msg := "Error creating flow run: " + err.Error()
		return &runFailure{&api.Error{Status: http.StatusUnprocessableEntity, Detail: msg}, msg}
	}
	return nil
}
