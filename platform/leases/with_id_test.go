package leases_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/leases"
)

func TestCreateWithID(t *testing.T) {
	for _, st := range storages {
		t.Run(st.name, func(t *testing.T) {
			s := st.new(t)
			id, res := uuid.New(), uuid.New()
			meta := json.RawMessage(`{"slots":1}`)
			l, err := s.(leases.IDCreator).CreateWithID(ctx, id, []uuid.UUID{res}, time.Minute, meta)
			if err != nil {
				t.Fatal(err)
			}
			got := read(t, s, id)
			if l.ID != id || got == nil || got.ID != id || !slices.Equal(got.ResourceIDs, []uuid.UUID{res}) ||
				string(got.Metadata) != string(meta) || !got.Expiration.Equal(l.Expiration) {
				t.Fatalf("created %+v, read %+v", l, got)
			}
			equalIDs(t, "by resource", byResource(t, s, res), []uuid.UUID{id})
			equalIDs(t, "active", active(t, s, 0, 0), []uuid.UUID{id})
			revoke(t, s, id)
			equalIDs(t, "by resource after revoke", byResource(t, s, res), []uuid.UUID{})
		})
	}
}
