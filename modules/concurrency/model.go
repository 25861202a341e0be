package concurrency

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Limit is a global concurrency limit as stored and as POST returns it
// (Prefect's ConcurrencyLimitV2). Tag limits are limits named "tag:<tag>".
type Limit struct {
	bun.BaseModel `bun:"table:concurrency_limit_v2,alias:cl"`

	ID                      uuid.UUID      `bun:"id,pk,type:uuid" json:"id"`
	Created                 types.DateTime `bun:"created,notnull" json:"created"`
	Updated                 types.DateTime `bun:"updated,notnull" json:"updated"`
	Active                  bool           `bun:"active,notnull" json:"active"`
	Name                    string         `bun:"name,notnull" json:"name"`
	Limit                   int            `bun:"limit,notnull" json:"limit"`
	ActiveSlots             int            `bun:"active_slots,notnull" json:"active_slots"`
	DeniedSlots             int            `bun:"denied_slots,notnull" json:"denied_slots"`
	SlotDecayPerSecond      pyFloat        `bun:"slot_decay_per_second,notnull" json:"slot_decay_per_second"`
	AvgSlotOccupancySeconds pyFloat        `bun:"avg_slot_occupancy_seconds,notnull" json:"avg_slot_occupancy_seconds"`
}

// tagPrefix starts the names of the limits behind the v1 tag routes.
const tagPrefix = "tag:"

// limitResponse is what GET and filter return (Prefect's
// GlobalConcurrencyLimitResponse): active_slots after decay, no counters.
type limitResponse struct {
	ID                 uuid.UUID      `json:"id"`
	Created            types.DateTime `json:"created"`
	Updated            types.DateTime `json:"updated"`
	Active             bool           `json:"active"`
	Name               string         `json:"name"`
	Limit              int            `json:"limit"`
	ActiveSlots        int            `json:"active_slots"`
	SlotDecayPerSecond pyFloat        `json:"slot_decay_per_second"`
}

func (l *Limit) response() limitResponse {
	return limitResponse{ID: l.ID, Created: l.Created, Updated: l.Updated, Active: l.Active, Name: l.Name,
		Limit: l.Limit, ActiveSlots: l.ActiveSlots, SlotDecayPerSecond: l.SlotDecayPerSecond}
}

// minimal is Prefect's MinimalConcurrencyLimitResponse.
type minimal struct {
	ID    uuid.UUID `json:"id"`
	Name  string    `json:"name"`
	Limit int       `json:"limit"`
}

func minimals(ls []Limit) []minimal {
	out := make([]minimal, len(ls))
	for i, l := range ls {
		out[i] = minimal{ID: l.ID, Name: l.Name, Limit: l.Limit}
	}
	return out
}

// withLease is Prefect's ConcurrencyLimitWithLeaseResponse.
type withLease struct {
	LeaseID uuid.UUID `json:"lease_id"`
	Limits  []minimal `json:"limits"`
}

// tagLimit is a tag limit in the v1 shape (Prefect's core.ConcurrencyLimit):
// active_slots lists the task runs holding a slot.
type tagLimit struct {
	ID               uuid.UUID      `json:"id"`
	Created          types.DateTime `json:"created"`
	Updated          types.DateTime `json:"updated"`
	Tag              string         `json:"tag"`
	ConcurrencyLimit int            `json:"concurrency_limit"`
	ActiveSlots      []uuid.UUID    `json:"active_slots"`
}

// hold records the slots a lease holds (see the migration); LimitIDs are the
// active limits whose slots were taken.
type hold struct {
	bun.BaseModel `bun:"table:concurrency_lease_hold,alias:h"`

	LeaseID  uuid.UUID      `bun:"lease_id,pk,type:uuid"`
	LimitIDs []uuid.UUID    `bun:"limit_ids,notnull"`
	Slots    int            `bun:"slots,notnull"`
	Created  types.DateTime `bun:"created,notnull"`
}

// holder is Prefect's ConcurrencyLeaseHolder.
type holder struct {
	Type string    `json:"type"`
	ID   uuid.UUID `json:"id"`
}

// leaseMetadata is Prefect's ConcurrencyLimitLeaseMetadata, stored with the lease.
type leaseMetadata struct {
	Slots  int     `json:"slots"`
	Holder *holder `json:"holder"`
}

func (m leaseMetadata) raw() json.RawMessage {
	b, _ := json.Marshal(m) // always marshals
	return b
}

// v1LeaseTTL is Prefect's V1_LEASE_TTL: v1 clients cannot renew leases.
const v1LeaseTTL = 100 * 365 * 24 * time.Hour

// limitCreate is the body of POST /v2/concurrency_limits/ (ConcurrencyLimitV2Create).
type limitCreate struct {
	Active             *bool    `json:"active"`
	Name               *string  `json:"name"`
	Limit              *int     `json:"limit"`
	ActiveSlots        *int     `json:"active_slots"`
	DeniedSlots        *int     `json:"denied_slots"`
	SlotDecayPerSecond *float64 `json:"slot_decay_per_second"`
}

func (c *limitCreate) Validate() []api.FieldError {
	var errs []api.FieldError
	if c.Name == nil {
		errs = append(errs, api.Required("name", nil)...)
	} else {
		errs = append(errs, api.CheckName("name", *c.Name)...)
	}
	if c.Limit == nil {
		errs = append(errs, api.Required("limit", nil)...)
	}
	errs = append(errs, geInt("limit", c.Limit, 0)...)
	errs = append(errs, geInt("active_slots", c.ActiveSlots, 0)...)
	errs = append(errs, geInt("denied_slots", c.DeniedSlots, 0)...)
	return append(errs, geFloat("slot_decay_per_second", c.SlotDecayPerSecond, 0)...)
}

// limitUpdate is the body of PATCH /v2/concurrency_limits/{id_or_name}
// (ConcurrencyLimitV2Update): only the fields sent are set.
type limitUpdate struct {
	Active             opt[bool]    `json:"active"`
	Name               opt[string]  `json:"name"`
	Limit              opt[int]     `json:"limit"`
	ActiveSlots        opt[int]     `json:"active_slots"`
	DeniedSlots        opt[int]     `json:"denied_slots"`
	SlotDecayPerSecond opt[float64] `json:"slot_decay_per_second"`
}

func (u *limitUpdate) Validate() []api.FieldError {
	var errs []api.FieldError
	if u.Name.set && !u.Name.null {
		errs = append(errs, api.CheckName("name", u.Name.v)...)
	}
	errs = append(errs, geInt("limit", u.Limit.ptr(), 0)...)
	errs = append(errs, geInt("active_slots", u.ActiveSlots.ptr(), 0)...)
	errs = append(errs, geInt("denied_slots", u.DeniedSlots.ptr(), 0)...)
	return append(errs, geFloat("slot_decay_per_second", u.SlotDecayPerSecond.ptr(), 0)...)
}

// hasNull reports a field sent as null: Prefect then writes NULL into a NOT
// NULL column and answers 409.
func (u *limitUpdate) hasNull() bool {
	return u.Active.null || u.Name.null || u.Limit.null || u.ActiveSlots.null || u.DeniedSlots.null || u.SlotDecayPerSecond.null
}

// tagLimitCreate is the body of POST /concurrency_limits/ (ConcurrencyLimitCreate).
type tagLimitCreate struct {
	Tag              *string `json:"tag"`
	ConcurrencyLimit *int    `json:"concurrency_limit"`
}

func (c *tagLimitCreate) Validate() []api.FieldError {
	var errs []api.FieldError
	if c.Tag == nil {
		errs = append(errs, api.Required("tag", nil)...)
	} else if strings.ContainsAny(*c.Tag, "/%&><") {
		// Prefect fails with a 500 here (the limit name "tag:<tag>" is not a
		// valid Name); we say why instead.
		errs = append(errs, api.CheckName("tag", *c.Tag)...)
	}
	if c.ConcurrencyLimit == nil {
		errs = append(errs, api.Required("concurrency_limit", nil)...)
	}
	return errs
}
