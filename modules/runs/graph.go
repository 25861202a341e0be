package runs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// maxGraphNodes and maxGraphArtifacts are Prefect's defaults of
// PREFECT_API_MAX_FLOW_RUN_GRAPH_NODES and _ARTIFACTS.
const (
	maxGraphNodes     = 10000
	maxGraphArtifacts = 10000
)

type graphEdge struct {
	ID uuid.UUID `json:"id"`
}

// GraphArtifact is an artifact as a flow run graph shows it (Prefect's
// GraphArtifact); TaskRunID says which node it belongs to (nil: the run).
type GraphArtifact struct {
	ID        uuid.UUID       `json:"id"`
	Created   types.DateTime  `json:"created"`
	Key       *string         `json:"key"`
	Type      *string         `json:"type"`
	IsLatest  bool            `json:"is_latest"`
	Data      json.RawMessage `json:"data"`
	TaskRunID *uuid.UUID      `json:"-"`
}

// GraphArtifacts lists a flow run's artifacts (not result artifacts, not
// its subflows'), oldest first, at most limit. The artifacts module
// provides it; a build without that module draws graphs without artifacts.
type GraphArtifacts interface {
	FlowRunGraphArtifacts(ctx context.Context, flowRunID uuid.UUID, limit int) ([]GraphArtifact, error)
}

type graphNode struct {
	Kind          string          `json:"kind"`
	ID            uuid.UUID       `json:"id"`
	Label         string          `json:"label"`
	StateType     *o.StateType    `json:"state_type"`
	StartTime     types.DateTime  `json:"start_time"`
	EndTime       *types.DateTime `json:"end_time"`
	Parents       []graphEdge     `json:"parents"`
	Children      []graphEdge     `json:"children"`
	Encapsulating []graphEdge     `json:"encapsulating"`
	Artifacts     []GraphArtifact `json:"artifacts"`
	inputs        rawJSON
}

type graphState struct {
	ID        uuid.UUID      `json:"id"`
	Timestamp types.DateTime `json:"timestamp"`
	Type      o.StateType    `json:"type"`
	Name      string         `json:"name"`
}

// graph is Prefect's Graph; nodes are [id, node] pairs.
type graph struct {
	StartTime   *types.DateTime `json:"start_time"`
	EndTime     *types.DateTime `json:"end_time"`
	RootNodeIDs []uuid.UUID     `json:"root_node_ids"`
	Nodes       [][2]any        `json:"nodes"`
	Artifacts   []GraphArtifact `json:"artifacts"`
	States      []graphState    `json:"states"`
}

// graphRow is a task run of the flow run, with the subflow run it is the
// parent task run of, if any.
type graphRow struct {
	ID           uuid.UUID       `bun:"id"`
	Name         string          `bun:"name"`
	StateType    *o.StateType    `bun:"state_type"`
	StartTime    *types.DateTime `bun:"start_time"`
	Expected     *types.DateTime `bun:"expected_start_time"`
	EndTime      *types.DateTime `bun:"end_time"`
	TaskInputs   rawJSON         `bun:"task_inputs"`
	SubID        *uuid.UUID      `bun:"sub_id"`
	SubName      *string         `bun:"sub_name"`
	SubStateType *o.StateType    `bun:"sub_state_type"`
	SubStartTime *types.DateTime `bun:"sub_start_time"`
	SubExpected  *types.DateTime `bun:"sub_expected_start_time"`
	SubEndTime   *types.DateTime `bun:"sub_end_time"`
	SubFlowName  *string         `bun:"sub_flow_name"`
}

// node turns the row into a graph node as Prefect's graph query does; nil
// when it has no time to place it at.
func (r *graphRow) node() *graphNode {
	start := firstTime(r.SubStartTime, r.SubExpected, r.StartTime, r.Expected)
	if start == nil {
		return nil
	}
	n := &graphNode{Kind: "task-run", ID: r.ID, Label: r.Name, StateType: r.StateType, StartTime: *start,
		Parents: []graphEdge{}, Children: []graphEdge{}, Encapsulating: []graphEdge{}, Artifacts: []GraphArtifact{}, inputs: r.TaskInputs}
	if r.SubID != nil {
		n.Kind, n.ID = "flow-run", *r.SubID
		if r.SubFlowName != nil && r.SubName != nil {
			n.Label = *r.SubFlowName + " / " + *r.SubName
		}
		if r.SubStateType != nil {
			n.StateType = r.SubStateType
		}
	}
	n.EndTime = firstTime(r.SubEndTime, r.EndTime)
	if n.EndTime == nil && r.StateType != nil && *r.StateType == o.Completed {
		n.EndTime = r.Expected
	}
	return n
}

func firstTime(ts ...*types.DateTime) *types.DateTime {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}

// graphV2 is GET /flow_runs/{id}/graph-v2.
func (h *featureHandlers) graphV2(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	var since *types.DateTime
	if s := r.URL.Query().Get("since"); s != "" {
		var d types.DateTime
		if err := d.UnmarshalJSON([]byte(`"` + s + `"`)); err != nil {
			return &api.ValidationError{Errors: []api.FieldError{{Type: "datetime_from_date_parsing", Loc: []any{"query", "since"},
				Msg: "Input should be a valid datetime or date, input is too short", Input: s}}}
		}
		since = &d
	}
	g, err := h.readGraph(r.Context(), id, since)
	if isNotFound(err) {
		return objectNotFound(w, fmt.Sprintf("Flow run %s not found", id))
	}
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, g)
}

func (h *featureHandlers) readGraph(ctx context.Context, id uuid.UUID, since *types.DateTime) (*graph, error) {
	run, err := h.repo.flowRun(ctx, id)
	if err != nil {
		return nil, err
	}
	g := &graph{StartTime: firstTime(run.StartTime, run.ExpectedStartTime), EndTime: run.EndTime,
		RootNodeIDs: []uuid.UUID{}, Nodes: [][2]any{}, Artifacts: []GraphArtifact{}, States: []graphState{}}
	var rows []graphRow
	err = h.repo.db.Read.NewSelect().TableExpr("task_run AS task_run").
		ColumnExpr("task_run.id, task_run.name, task_run.state_type, task_run.start_time, task_run.expected_start_time, task_run.end_time, task_run.task_inputs").
		ColumnExpr("fr.id AS sub_id, fr.name AS sub_name, fr.state_type AS sub_state_type, fr.start_time AS sub_start_time").
		ColumnExpr("fr.expected_start_time AS sub_expected_start_time, fr.end_time AS sub_end_time, flow.name AS sub_flow_name").
		Join("LEFT JOIN flow_run AS fr ON fr.parent_task_run_id = task_run.id").
		Join("LEFT JOIN flow AS flow ON flow.id = fr.flow_id").
		Where("task_run.flow_run_id = ?", id).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("read flow run graph: %w", db.Translate(err))
	}
	nodes := linkNodes(rows)
	artifacts, err := h.graphArtifacts(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, a := range artifacts {
		if a.TaskRunID == nil {
			g.Artifacts = append(g.Artifacts, a)
		}
	}
	byTask := map[uuid.UUID][]GraphArtifact{}
	for _, a := range artifacts {
		if a.TaskRunID != nil {
			byTask[*a.TaskRunID] = append(byTask[*a.TaskRunID], a)
		}
	}
	for _, n := range nodes {
		if since != nil && n.EndTime != nil && n.EndTime.Before(since.Time) {
			continue
		}
		if len(g.Nodes) == maxGraphNodes {
			return nil, api.BadRequest(fmt.Sprintf("The graph of flow run %s has more than %d nodes.", id, maxGraphNodes))
		}
		if a := byTask[n.ID]; a != nil {
			n.Artifacts = a
		}
		if len(n.Parents) == 0 {
			g.RootNodeIDs = append(g.RootNodeIDs, n.ID)
		}
		g.Nodes = append(g.Nodes, [2]any{n.ID, n})
	}
	states, err := h.repo.states(ctx, o.FlowRun, id)
	if err != nil {
		return nil, err
	}
	for _, s := range states {
		g.States = append(g.States, graphState{ID: s.ID, Timestamp: s.Timestamp, Type: s.Type, Name: s.Name})
	}
	return g, nil
}

func (h *featureHandlers) graphArtifacts(ctx context.Context, flowRunID uuid.UUID) ([]GraphArtifact, error) {
	if h.artifacts == nil {
		return nil, nil
	}
	a, err := h.artifacts.FlowRunGraphArtifacts(ctx, flowRunID, maxGraphArtifacts)
	if err != nil {
		return nil, fmt.Errorf("read flow run graph artifacts: %w", err)
	}
	return a, nil
}

// linkNodes builds the nodes and their edges from the task runs' inputs: an
// input naming another node is a parent edge, one under "__parents__" an
// encapsulating edge. Nodes come sorted by start then end time (open last);
// edges by their other end's start time.
func linkNodes(rows []graphRow) []*graphNode {
	var nodes []*graphNode
	byID := map[uuid.UUID]*graphNode{}
	for i := range rows {
		if n := rows[i].node(); n != nil && byID[n.ID] == nil {
			nodes = append(nodes, n)
			byID[n.ID] = n
		}
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodes[i], nodes[j]
		if !a.StartTime.Equal(b.StartTime.Time) {
			return a.StartTime.Before(b.StartTime.Time)
		}
		if (a.EndTime == nil) != (b.EndTime == nil) {
			return b.EndTime == nil
		}
		return a.EndTime != nil && a.EndTime.Before(b.EndTime.Time)
	})
	// Nodes are visited in start order, so edges come out in that order too.
	for _, child := range nodes {
		var inputs map[string][]struct {
			ID *uuid.UUID `json:"id"`
		}
		if len(child.inputs) == 0 || json.Unmarshal(child.inputs, &inputs) != nil {
			continue
		}
		seen := map[uuid.UUID]bool{}
		for key, args := range inputs {
			for _, arg := range args {
				if arg.ID == nil || byID[*arg.ID] == nil || seen[*arg.ID] && key != "__parents__" {
					continue
				}
				parent := byID[*arg.ID]
				if key == "__parents__" {
					child.Encapsulating = appendEdge(child.Encapsulating, parent.ID)
					continue
				}
				seen[parent.ID] = true
				child.Parents = append(child.Parents, graphEdge{parent.ID})
				parent.Children = append(parent.Children, graphEdge{child.ID})
			}
		}
	}
	order := map[uuid.UUID]int{}
	for i, n := range nodes {
		order[n.ID] = i
	}
	byStart := func(es []graphEdge) {
		sort.SliceStable(es, func(i, j int) bool { return order[es[i].ID] < order[es[j].ID] })
	}
	for _, n := range nodes {
		byStart(n.Parents)
		byStart(n.Encapsulating)
	}
	return nodes
}

func appendEdge(es []graphEdge, id uuid.UUID) []graphEdge {
	for _, e := range es {
		if e.ID == id {
			return es
		}
	}
	return append(es, graphEdge{id})
}
