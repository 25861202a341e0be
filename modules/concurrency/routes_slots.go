package concurrency

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Prefect's bounds of lease_duration, in seconds.
const (
	defaultLeaseSeconds = 300
	minLeaseSeconds     = 60
	maxLeaseSeconds     = 24 * 60 * 60
)

// slotsBody holds the body parameters of the increment and decrement
// endpoints; each endpoint reads the ones it takes.
type slotsBody struct {
	Slots           *int
	Names           *[]string
	Mode            string
	CreateIfMissing *bool // deprecated by Prefect and ignored: limits are never created
	LeaseDuration   *float64
	Holder          *holderBody
	Occupancy       *float64
	raw             any
}

type holderBody struct {
	Type *string `json:"type"`
	ID   *string `json:"id"`
}

// decodeSlots reads the parameters named in keys and validates them in that
// order (Prefect's signature order, which its 422s follow).
func decodeSlots(r *http.Request, keys ...string) (*slotsBody, *holder, error) {
	b := &slotsBody{Mode: "concurrency"}
	all := api.Params{"slots": &b.Slots, "names": &b.Names, "mode": &b.Mode, "create_if_missing": &b.CreateIfMissing,
		"lease_duration": &b.LeaseDuration, "holder": &b.Holder, "occupancy_seconds": &b.Occupancy}
	params := api.Params{}
	for _, k := range keys {
		params[k] = all[k]
	}
	raw, err := decodeParams(r, params)
	if err != nil {
		return nil, nil, err
	}
	b.raw = raw
	var errs []api.FieldError
	var h *holder
	for _, k := range keys {
		switch k {
		case "slots":
			if b.Slots == nil {
				errs = append(errs, api.Required("slots", nil)...)
			} else {
				errs = append(errs, gtZero("slots", *b.Slots, *b.Slots > 0, 0)...)
			}
		case "names":
			if b.Names == nil {
				errs = append(errs, api.Required("names", nil)...)
			} else if len(*b.Names) == 0 {
				errs = append(errs, api.FieldError{Type: "too_short", Loc: []any{"body", "names"},
					Msg: "List should have at least 1 item after validation, not 0", Input: []string{},
					Ctx: map[string]any{"field_type": "List", "min_length": 1, "actual_length": 0}})
			}
		case "mode":
			errs = append(errs, literal([]any{"body", "mode"}, b.Mode, "concurrency", "rate_limit")...)
		case "lease_duration":
			errs = append(errs, geFloat("lease_duration", b.LeaseDuration, minLeaseSeconds)...)
			errs = append(errs, leFloat("lease_duration", b.LeaseDuration, maxLeaseSeconds)...)
		case "holder":
			var herrs []api.FieldError
			h, herrs = b.Holder.validate()
			errs = append(errs, herrs...)
		case "occupancy_seconds":
			if b.Occupancy != nil {
				errs = append(errs, gtZero("occupancy_seconds", *b.Occupancy, *b.Occupancy > 0, pyFloat(0))...)
			}
		}
	}
	return b, h, invalid(raw, errs)
}

// validate checks a ConcurrencyLeaseHolder; nil when none was sent.
func (hb *holderBody) validate() (*holder, []api.FieldError) {
	if hb == nil {
		return nil, nil
	}
	var errs []api.FieldError
	h := &holder{}
	if hb.Type == nil {
		errs = append(errs, api.FieldError{Type: "missing", Loc: []any{"body", "holder", "type"}, Msg: "Field required"})
	} else {
		h.Type = *hb.Type
		errs = append(errs, literal([]any{"body", "holder", "type"}, *hb.Type, "flow_run", "task_run", "deployment")...)
	}
	if hb.ID == nil {
		errs = append(errs, api.FieldError{Type: "missing", Loc: []any{"body", "holder", "id"}, Msg: "Field required"})
	} else {
		var ierrs []api.FieldError
		h.ID, ierrs = uuidField([]any{"body", "holder", "id"}, *hb.ID)
		errs = append(errs, ierrs...)
	}
	return h, errs
}

func (b *slotsBody) leaseTTL() time.Duration {
	secs := float64(defaultLeaseSeconds)
	if b.LeaseDuration != nil {
		secs = *b.LeaseDuration
	}
	return time.Duration(secs * float64(time.Second))
}

// v2Check is Prefect's _acquire_concurrency_slots refusals.
func v2Check(n int, mode string) func(all, active []Limit) error {
	return func(_, active []Limit) error {
		for _, l := range active {
			if l.Limit < n {
				return &api.Error{Status: http.StatusUnprocessableEntity, Detail: "Slots requested is greater than the limit"}
			}
		}
		if mode != "rate_limit" {
			return nil
		}
		var steady []string
		for _, l := range active {
			if l.SlotDecayPerSecond == 0 {
				steady = append(steady, l.Name)
			}
		}
		if len(steady) == 0 {
			return nil
		}
		return &api.Error{Status: http.StatusUnprocessableEntity, Detail: "Only concurrency limits with slot decay can be used for " +
			"rate limiting. The following limits do not have a decay configured: " + pyRepr(strings.Join(steady, ","))}
	}
}

func (h *handlers) increment(w http.ResponseWriter, r *http.Request) error {
	b, _, err := decodeSlots(r, "slots", "names", "mode", "create_if_missing")
	if err != nil {
		return err
	}
	t, err := h.slots.take(r.Context(), *b.Names, *b.Slots, v2Check(*b.Slots, b.Mode), nil)
	if err != nil {
		return err
	}
	if !t.ok {
		return h.slots.locked(r.Context(), t, *b.Slots)
	}
	return api.WriteJSON(w, http.StatusOK, minimals(t.limits))
}

func (h *handlers) incrementWithLease(w http.ResponseWriter, r *http.Request) error {
	b, hd, err := decodeSlots(r, "slots", "names", "mode", "lease_duration", "holder")
	if err != nil {
		return err
	}
	spec := &leaseSpec{ttl: b.leaseTTL(), meta: leaseMetadata{Slots: *b.Slots, Holder: hd}}
	t, err := h.slots.take(r.Context(), *b.Names, *b.Slots, v2Check(*b.Slots, b.Mode), spec)
	if err != nil {
		return err
	}
	if !t.ok {
		return h.slots.locked(r.Context(), t, *b.Slots)
	}
	return api.WriteJSON(w, http.StatusOK, withLease{LeaseID: t.leaseID, Limits: minimals(t.limits)})
}

func (h *handlers) decrement(w http.ResponseWriter, r *http.Request) error {
	b, _, err := decodeSlots(r, "slots", "names", "occupancy_seconds", "create_if_missing")
	if err != nil {
		return err
	}
	occupancy := 0.0
	if b.Occupancy != nil {
		occupancy = *b.Occupancy
	}
	var ls []Limit
	err = h.repo.db.Tx(r.Context(), func(ctx context.Context, tx bun.Tx) error {
		if ls, err = h.repo.byNames(ctx, tx, *b.Names, false); err != nil {
			return err
		}
		return h.repo.sql.give(ctx, tx, idsOf(activeOf(ls)), *b.Slots, occupancy, true, types.Now())
	})
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, minimals(ls))
}

func (h *handlers) decrementWithLease(w http.ResponseWriter, r *http.Request) error {
	var leaseID *string
	raw, err := decodeParams(r, api.Params{"lease_id": &leaseID})
	if err != nil {
		return err
	}
	if leaseID == nil {
		return invalid(raw, api.Required("lease_id", nil))
	}
	id, errs := uuidField([]any{"body", "lease_id"}, *leaseID)
	if err := invalid(raw, errs); err != nil {
		return err
	}
	if err := h.slots.releaseAndRevoke(r.Context(), id, true); err != nil {
		return err
	}
	return api.NoContent(w)
}

func (h *handlers) renew(w http.ResponseWriter, r *http.Request) error {
	b, _, err := decodeSlots(r, "lease_duration")
	if err != nil {
		return err
	}
	id, errs := uuidField([]any{"path", "lease_id"}, api.PathVar(r, "lease_id"))
	if err := invalid(b.raw, errs); err != nil {
		return err
	}
	ok, err := h.slots.leases.Renew(r.Context(), id, b.leaseTTL())
	if err != nil {
		return err
	}
	if !ok {
		return &api.Error{Status: http.StatusGone, Detail: "Lease not found - it may have expired or been revoked"}
	}
	return api.NoContent(w)
}
