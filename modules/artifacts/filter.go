package artifacts

import (
	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/filter"
)

// artifactFilter is Prefect's ArtifactFilter and, with LatestID instead of
// ID, its ArtifactCollectionFilter: the same fields on another table.
type artifactFilter struct {
	Operator  filter.Operator `json:"operator"`
	ID        *idFilter       `json:"id"`
	LatestID  *idFilter       `json:"latest_id"`
	Key       *keyFilter      `json:"key"`
	FlowRunID *idFilter       `json:"flow_run_id"`
	TaskRunID *idFilter       `json:"task_run_id"`
	Type      *typeFilter     `json:"type"`
}

// collectionFilter is Prefect's ArtifactCollectionFilter: no "id" field.
type collectionFilter struct {
	Operator  filter.Operator `json:"operator"`
	LatestID  *idFilter       `json:"latest_id"`
	Key       *keyFilter      `json:"key"`
	FlowRunID *idFilter       `json:"flow_run_id"`
	TaskRunID *idFilter       `json:"task_run_id"`
	Type      *typeFilter     `json:"type"`
}

// ownFilter is Prefect's ArtifactFilter: no "latest_id" field.
type ownFilter struct {
	Operator  filter.Operator `json:"operator"`
	ID        *idFilter       `json:"id"`
	Key       *keyFilter      `json:"key"`
	FlowRunID *idFilter       `json:"flow_run_id"`
	TaskRunID *idFilter       `json:"task_run_id"`
	Type      *typeFilter     `json:"type"`
}

func (f *ownFilter) common() *artifactFilter {
	if f == nil {
		return nil
	}
	return &artifactFilter{Operator: f.Operator, ID: f.ID, Key: f.Key, FlowRunID: f.FlowRunID, TaskRunID: f.TaskRunID, Type: f.Type}
}

func (f *collectionFilter) common() *artifactFilter {
	if f == nil {
		return nil
	}
	return &artifactFilter{Operator: f.Operator, LatestID: f.LatestID, Key: f.Key, FlowRunID: f.FlowRunID, TaskRunID: f.TaskRunID, Type: f.Type}
}

type idFilter struct {
	Any *[]uuid.UUID `json:"any_"`
}

type keyFilter struct {
	Any    *[]string `json:"any_"`
	Like   *string   `json:"like_"`
	Exists *bool     `json:"exists_"`
}

type typeFilter struct {
	Any    *[]string `json:"any_"`
	NotAny []string  `json:"not_any_"`
}

// where renders the filter on table ("artifact" or "artifact_collection")
// as Prefect's _get_filter_list does. A field given with no condition in it
// is TRUE, which matters under "or_".
func (f *artifactFilter) where(table string) *filter.Where {
	if f == nil {
		return nil
	}
	w := filter.WithOperator(string(f.Operator))
	ids := func(col string, x *idFilter) {
		if x == nil {
			return
		}
		c := filter.And()
		if x.Any != nil {
			c.In(table+"."+col, *x.Any, len(*x.Any))
		}
		criterion(w, c)
	}
	ids("id", f.ID)
	ids("latest_id", f.LatestID)
	if f.Key != nil {
		c := filter.And()
		if f.Key.Any != nil {
			c.In(table+".key", *f.Key.Any, len(*f.Key.Any))
		}
		if f.Key.Like != nil && *f.Key.Like != "" {
			c.ILike(table+".key", *f.Key.Like)
		}
		if f.Key.Exists != nil {
			c.IsNull(table+".key", !*f.Key.Exists)
		}
		criterion(w, c)
	}
	ids("flow_run_id", f.FlowRunID)
	ids("task_run_id", f.TaskRunID)
	if f.Type != nil {
		c := filter.And()
		if f.Type.Any != nil {
			c.In(table+".type", *f.Type.Any, len(*f.Type.Any))
		}
		c.NotIn(table+".type", f.Type.NotAny, len(f.Type.NotAny))
		criterion(w, c)
	}
	return w
}

// criterion adds one field's conditions to w: TRUE when it has none.
func criterion(w, c *filter.Where) {
	if c.Empty() {
		w.Add("1 = 1")
		return
	}
	w.Group(c)
}
