package events

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// trimConfig is the events part of Prefect's db_vacuum service: delete
// events (and their resources) older than the retention period, or than a
// shorter per-event-type override. It runs inside the persister, as Prefect
// runs it only when the persister is enabled.
type trimConfig struct {
	enabled   bool
	every     time.Duration
	retention time.Duration
	overrides map[string]time.Duration
	batch     int
}

// Prefect's db_vacuum settings that concern events.
const (
	envVacuumEnabled   = "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED"
	envVacuumLoop      = "PREFECT_SERVER_SERVICES_DB_VACUUM_LOOP_SECONDS"
	envVacuumBatch     = "PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE"
	envVacuumOverrides = "PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES"
)

func loadTrimConfig(svc config.Services, ev config.Events) (trimConfig, error) {
	c := trimConfig{enabled: true, retention: ev.RetentionPeriod,
		overrides: map[string]time.Duration{"prefect.flow-run.heartbeat": 7 * 24 * time.Hour}}
	if v, ok := svc.Env(envVacuumEnabled); ok {
		// A set of vacuum kinds; "true" means all and "false" still means events.
		v = strings.ToLower(strings.Trim(strings.TrimSpace(v), "[]"))
		c.enabled = v == "true" || v == "false"
		for _, kind := range strings.Split(v, ",") {
			c.enabled = c.enabled || strings.Trim(strings.TrimSpace(kind), `"'`) == "events"
		}
	}
	var err error
	if c.every, err = svc.Duration(envVacuumLoop, time.Hour); err != nil {
		return c, err
	}
	if c.batch, err = svc.Int(envVacuumBatch, 200); err != nil {
		return c, err
	}
	if c.every <= 0 || c.batch <= 0 {
		return c, fmt.Errorf("%s and %s must be positive", envVacuumLoop, envVacuumBatch)
	}
	if v, ok := svc.Env(envVacuumOverrides); ok && strings.TrimSpace(v) != "" {
		var raw map[string]any
		if err := json.Unmarshal([]byte(v), &raw); err != nil {
			return c, fmt.Errorf("%s: not a JSON object: %w", envVacuumOverrides, err)
		}
		c.overrides = map[string]time.Duration{}
		for name, val := range raw {
			d, err := parseRetention(val)
			if err != nil {
				return c, fmt.Errorf("%s: %q: %w", envVacuumOverrides, name, err)
			}
			c.overrides[name] = d
		}
	}
	return c, nil
}

var isoDuration = regexp.MustCompile(`^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$`)

// parseRetention reads seconds or an ISO 8601 duration such as "P7D".
func parseRetention(v any) (time.Duration, error) {
	switch x := v.(type) {
	case float64:
		return time.Duration(x * float64(time.Second)), nil
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return time.Duration(f * float64(time.Second)), nil
		}
		m := isoDuration.FindStringSubmatch(strings.ToUpper(x))
		if m == nil || x == "P" {
			break
		}
		units := []time.Duration{7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute, time.Second}
		var d time.Duration
		for i, u := range units {
			if m[i+1] != "" {
				f, _ := strconv.ParseFloat(m[i+1], 64)
				d += time.Duration(f * float64(u))
			}
		}
		return d, nil
	}
	return 0, fmt.Errorf("%v is not a duration", v)
}

// loop trims at start and then every c.every until ctx is done.
func (c trimConfig) loop(ctx context.Context, r *repo, log *zap.Logger) {
	if !c.enabled || c.retention <= 0 {
		return
	}
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		if n, err := r.trim(ctx, c, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("could not trim old events; retrying next interval", zap.Error(err))
		} else if n > 0 {
			log.Info("trimmed old events", zap.Int("events", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// trim deletes what is past retention, batch by batch (each its own short
// transaction), and returns how many events went.
func (r *repo) trim(ctx context.Context, c trimConfig, now time.Time) (int, error) {
	cutoff := types.From(now.Add(-c.retention))
	rowRef := "rowid"
	if r.db.IsPostgres() {
		rowRef = "ctid"
	}
	if _, err := r.deleteBatches(ctx, "DELETE FROM event_resources WHERE "+rowRef+" IN (SELECT "+rowRef+
		" FROM event_resources WHERE occurred < ? LIMIT ?)", cutoff, c.batch); err != nil {
		return 0, err
	}
	total, err := r.deleteBatches(ctx, "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE occurred < ? LIMIT ?)", cutoff, c.batch)
	if err != nil {
		return total, err
	}
	for name, keep := range c.overrides {
		typeCutoff := types.From(now.Add(-min(keep, c.retention)))
		for {
			var ids []string
			if err := r.db.NewSelect().TableExpr("events").Column("id").Where("event = ?", name).
				Where("occurred < ?", typeCutoff).Limit(int64(c.batch)).Scan(ctx, &ids); err != nil {
				return total, fmt.Errorf("find %s events to trim: %w", name, db.Translate(err))
			}
			if len(ids) == 0 {
				break
			}
			if _, err := r.db.ExecContext(ctx, "DELETE FROM event_resources WHERE event_id IN (?)", bun.In(ids)); err != nil {
				return total, fmt.Errorf("trim %s event resources: %w", name, db.Translate(err))
			}
			if _, err := r.db.ExecContext(ctx, "DELETE FROM events WHERE id IN (?)", bun.In(ids)); err != nil {
				return total, fmt.Errorf("trim %s events: %w", name, db.Translate(err))
			}
			total += len(ids)
		}
	}
	return total, nil
}

func (r *repo) deleteBatches(ctx context.Context, q string, cutoff types.DateTime, batch int) (int, error) {
	total := 0
	for {
		res, err := r.db.ExecContext(ctx, q, cutoff, batch)
		if err != nil {
			return total, fmt.Errorf("trim events: %w", db.Translate(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < int64(batch) || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}
