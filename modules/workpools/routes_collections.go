package workpools

import (
	"embed"
	"encoding/json"
	"net/http"

	"github.com/prefect-server/prefect-server/platform/api"
)

// collectionsFS holds the collection-registry views Prefect's server bundles
// (prefect/server/api/collections_data/views). Prefect fetches views from
// GitHub first; this server never reaches the network and always answers
// from the bundled copy, which is what Prefect falls back to offline.
//
//go:embed collections/*.json
var collectionsFS embed.FS

// knownViews are Prefect's KNOWN_VIEWS; only aggregate-worker-metadata is
// bundled with Prefect 3.9.1.
var knownViews = map[string]bool{
	"aggregate-block-metadata": true, "aggregate-flow-metadata": true,
	"aggregate-worker-metadata": true, "demo-flows": true,
}

// readView serves GET /collections/views/{view}.
func readView(w http.ResponseWriter, r *http.Request) error {
	view := api.PathVar(r, "view")
	if !knownViews[view] {
		return api.NotFound("View " + view + " not found in registry")
	}
	b, err := collectionsFS.ReadFile("collections/" + view + ".json")
	if err != nil {
		// Prefect offline has no copy of these either (it answers 500).
		return api.NotFound("Requested content missing for view " + view)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(json.RawMessage(b))
	return err
}
