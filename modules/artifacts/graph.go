package artifacts

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// graphArtifacts gives the runs module the artifacts of a flow run for its
// graph (GET /flow_runs/{id}/graph-v2).
type graphArtifacts struct {
	db *db.DB
}

// FlowRunGraphArtifacts lists the flow run's own artifacts but results,
// oldest first; is_latest says whether each is its key's latest (always
// for keyless ones), and only progress artifacts carry their data.
func (g *graphArtifacts) FlowRunGraphArtifacts(ctx context.Context, flowRunID uuid.UUID, limit int) ([]runs.GraphArtifact, error) {
	var rows []struct {
		ID        uuid.UUID       `bun:"id"`
		Created   types.DateTime  `bun:"created"`
		Key       *string         `bun:"key"`
		Type      *string         `bun:"type"`
		Data      json.RawMessage `bun:"data"`
		TaskRunID *uuid.UUID      `bun:"task_run_id"`
		LatestID  *uuid.UUID      `bun:"latest_in_collection_id"`
	}
	err := g.db.Read.NewSelect().TableExpr("artifact AS artifact").
		ColumnExpr("artifact.id, artifact.created, artifact.key, artifact.type, artifact.data, artifact.task_run_id").
		ColumnExpr("artifact_collection.id AS latest_in_collection_id").
		Join("LEFT JOIN artifact_collection AS artifact_collection ON artifact_collection.key = artifact.key AND artifact_collection.latest_id = artifact.id").
		Where("artifact.flow_run_id = ? AND artifact.type != 'result'", flowRunID).
		OrderExpr("artifact.created ASC").Limit(int64(limit)).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read graph artifacts of flow run %s: %w", flowRunID, db.Translate(err))
	}
	out := make([]runs.GraphArtifact, 0, len(rows))
	for _, r := range rows {
		a := runs.GraphArtifact{ID: r.ID, Created: r.Created, Key: r.Key, Type: r.Type, TaskRunID: r.TaskRunID,
			IsLatest: r.Key == nil || r.LatestID != nil}
		if r.Type != nil && *r.Type == "progress" {
			a.Data = r.Data
		}
		out = append(out, a)
	}
	return out, nil
}
