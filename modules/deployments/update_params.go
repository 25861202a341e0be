package deployments

import (
	"fmt"
	"net/http"

	"github.com/prefect-server/prefect-server/platform/api"
)

// updateParameters is what Prefect's update_deployment does with
// parameters before it writes: new parameters are hydrated (Jinja rendered,
// variables read) and stored hydrated; then, when the schema is enforced,
// the new (or kept) parameters must satisfy the new (or kept) schema, with
// "required" ignored. It returns the parameters to store (nil: unchanged)
// (nil: unchanged).
func (h *handlers) updateParameters(r *http.Request, existing *Deployment, b *deploymentUpdate) (map[string]any, error) {
	var err error
	params := existing.Parameters
	var hydrated map[string]any
	if b.Parameters != nil {
		if hydrated, err = h.hydrate(r, b.Parameters); err != nil {
			return nil, api.BadRequest(fmt.Sprintf("Error hydrating deployment parameters: %v", err)).Wrap(err)
		}
		params = hydrated
	}
	enforce := existing.EnforceParameterSchema
	if b.EnforceParameterSchema != nil {
		enforce = *b.EnforceParameterSchema
	}
	if !enforce {
		return hydrated, nil
	}
	schema := existing.ParameterOpenAPISchema
	if len(b.ParameterOpenAPISchema) > 0 {
		schema = b.ParameterOpenAPISchema
	}
	if schema == nil {
		return nil, api.Conflict("Error updating deployment: Cannot update parameters because parameter schema enforcement is enabled and the deployment does not have a valid parameter schema.")
	}
	if params == nil {
		params = map[string]any{}
	}
	if err := validateSchema(params, schema, schemaOptions{preprocess: true, ignoreRequired: true}); err != nil {
		return nil, api.Conflict("Error updating deployment: " + err.Error()).Wrap(err)
	}
	return hydrated, nil
}
