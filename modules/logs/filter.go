package logs

import (
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// logFilter is Prefect's LogFilter.
type logFilter struct {
	Operator  filter.Operator     `json:"operator"`
	Level     *logFilterLevel     `json:"level"`
	Timestamp *logFilterTimestamp `json:"timestamp"`
	FlowRunID *logFilterFlowRunID `json:"flow_run_id"`
	TaskRunID *logFilterTaskRunID `json:"task_run_id"`
	Text      *logFilterText      `json:"text"`
}

type logFilterLevel struct {
	GE *int `json:"ge_"`
	LE *int `json:"le_"`
}

type logFilterTimestamp struct {
	Before *types.DateTime `json:"before_"`
	After  *types.DateTime `json:"after_"`
}

type logFilterFlowRunID struct {
	Any *[]uuid.UUID `json:"any_"`
}

type logFilterTaskRunID struct {
	Any    *[]uuid.UUID `json:"any_"`
	IsNull *bool        `json:"is_null_"`
}

// logFilterText is Prefect's LogFilterTextSearch.
type logFilterText struct {
	Query *string `json:"query"`
}

// maxQueryLength is LogFilterTextSearch.query's max_length.
const maxQueryLength = 200

func (f *logFilter) Validate() []api.FieldError {
	if f.Text == nil {
		return nil
	}
	if f.Text.Query == nil {
		return []api.FieldError{{Type: "missing", Loc: []any{"body", "text", "query"}, Msg: "Field required", Input: map[string]any{}}}
	}
	if n := utf8.RuneCountInString(*f.Text.Query); n > maxQueryLength {
		return []api.FieldError{{Type: "string_too_long", Loc: []any{"body", "text", "query"},
			Msg: "String should have at most 200 characters", Input: *f.Text.Query, Ctx: map[string]any{"max_length": maxQueryLength}}}
	}
	return nil
}

// where renders the filter on the "log" table as LogFilter._get_filter_list
// does. A criterion given with no condition in it is TRUE in Prefect, which
// matters under "or_".
func (f *logFilter) where() *filter.Where {
	if f == nil {
		return filter.And()
	}
	w := filter.WithOperator(string(f.Operator))
	if f.Level != nil {
		c := filter.And()
		if f.Level.GE != nil {
			c.Add("log.level >= ?", *f.Level.GE)
		}
		if f.Level.LE != nil {
			c.Add("log.level <= ?", *f.Level.LE)
		}
		criterion(w, c)
	}
	if f.Timestamp != nil {
		c := filter.And()
		if f.Timestamp.Before != nil {
			c.Add("log.timestamp <= ?", *f.Timestamp.Before)
		}
		if f.Timestamp.After != nil {
			c.Add("log.timestamp >= ?", *f.Timestamp.After)
		}
		criterion(w, c)
	}
	if f.FlowRunID != nil {
		c := filter.And()
		if f.FlowRunID.Any != nil {
			c.In("log.flow_run_id", *f.FlowRunID.Any, len(*f.FlowRunID.Any))
		}
		criterion(w, c)
	}
	if f.TaskRunID != nil {
		c := filter.And()
		if f.TaskRunID.Any != nil {
			c.In("log.task_run_id", *f.TaskRunID.Any, len(*f.TaskRunID.Any))
		}
		if f.TaskRunID.IsNull != nil {
			c.IsNull("log.task_run_id", *f.TaskRunID.IsNull)
		}
		criterion(w, c)
	}
	if f.Text != nil && f.Text.Query != nil {
		// Prefect adds the text conditions one by one, not as one criterion.
		textWhere(w, parseTextQuery(*f.Text.Query))
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

// matches reports whether a new log passes the filter, as Prefect's
// stream.log_matches_filter decides for the websocket (which ignores the
// operator and the text search).
func (f *logFilter) matches(l *Log) bool {
	if f == nil {
		return true
	}
	if f.Level != nil && ((f.Level.GE != nil && l.Level < *f.Level.GE) || (f.Level.LE != nil && l.Level > *f.Level.LE)) {
		return false
	}
	if f.Timestamp != nil && ((f.Timestamp.Before != nil && l.Timestamp.After(f.Timestamp.Before.Time)) ||
		(f.Timestamp.After != nil && l.Timestamp.Before(f.Timestamp.After.Time))) {
		return false
	}
	if f.FlowRunID != nil && f.FlowRunID.Any != nil && !contains(*f.FlowRunID.Any, l.FlowRunID) {
		return false
	}
	if f.TaskRunID != nil {
		if f.TaskRunID.Any != nil && !contains(*f.TaskRunID.Any, l.TaskRunID) {
			return false
		}
		if f.TaskRunID.IsNull != nil && *f.TaskRunID.IsNull != (l.TaskRunID == nil) {
			return false
		}
	}
	return true
}

func contains(ids []uuid.UUID, id *uuid.UUID) bool {
	if id == nil {
		return false
	}
	for _, x := range ids {
		if x == *id {
			return true
		}
	}
	return false
}
