package concurrency

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// The v1 tag-limit routes, served as Prefect 3.9.1 serves them: by the
// global limit named "tag:<tag>", with task-run leases for holders.

const tagNotFound = "Concurrency limit not found"

func (h *handlers) tagResponse(r *http.Request, l *Limit) (tagLimit, error) {
	runs, err := h.slots.taskRuns(r.Context(), l.ID)
	if err != nil {
		return tagLimit{}, err
	}
	return tagLimit{ID: l.ID, Created: l.Created, Updated: l.Updated, Tag: l.Name[len(tagPrefix):],
		ConcurrencyLimit: l.Limit, ActiveSlots: runs}, nil
}

// writeTag answers one tag limit.
func (h *handlers) writeTag(w http.ResponseWriter, r *http.Request, status int, l *Limit) error {
	out, err := h.tagResponse(r, l)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, status, out)
}

// createTag creates the tag's limit, or sets the limit of an existing one.
func (h *handlers) createTag(w http.ResponseWriter, r *http.Request) error {
	var body tagLimitCreate
	if err := api.Decode(r, &body); err != nil {
		return err
	}
	name := tagPrefix + *body.Tag
	ok, err := h.repo.update(r.Context(), byName(name), &limitUpdate{Limit: opt[int]{set: true, v: *body.ConcurrencyLimit}})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !ok {
		now := types.Now()
		l := &Limit{ID: uuid.New(), Created: now, Updated: now, Active: true, Name: name,
			Limit: *body.ConcurrencyLimit, AvgSlotOccupancySeconds: 2.0}
		if err := h.repo.create(r.Context(), l); err != nil {
			return conflictOr(err)
		}
		status = http.StatusCreated
	}
	l, err := h.repo.read(r.Context(), byName(name))
	if err != nil {
		return err
	}
	return h.writeTag(w, r, status, l)
}

// readTagLimit reads a limit for the v1 routes; tagOnly refuses limits that
// are not tag limits.
func (h *handlers) readTagLimit(r *http.Request, k key, tagOnly bool) (*Limit, error) {
	l, err := h.repo.read(r.Context(), k)
	if err != nil {
		return nil, notFoundOr(err, tagNotFound)
	}
	if tagOnly && !isTagLimit(l.Name) {
		return nil, api.NotFound(tagNotFound)
	}
	return l, nil
}

func (h *handlers) readTagByID(w http.ResponseWriter, r *http.Request) error {
	l, err := h.readTagLimit(r, byID(uuid.MustParse(api.PathVar(r, "id"))), true) // the route's pattern is a UUID
	if err != nil {
		return err
	}
	return h.writeTag(w, r, http.StatusOK, l)
}

func (h *handlers) readTag(w http.ResponseWriter, r *http.Request) error {
	l, err := h.readTagLimit(r, byName(tagPrefix+api.PathVar(r, "tag")), true)
	if err != nil {
		return err
	}
	return h.writeTag(w, r, http.StatusOK, l)
}

// filterTags pages as Prefect does: it reads the first limit+offset global
// limits by name, keeps the tag limits among them and slices those.
func (h *handlers) filterTags(w http.ResponseWriter, r *http.Request) error {
	var page api.Page
	if err := api.DecodeParams(r, page.Params()); err != nil {
		return err
	}
	limit, err := page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	ls, err := h.repo.list(r.Context(), limit+page.Offset, 0)
	if err != nil {
		return err
	}
	out := []tagLimit{}
	for i := range ls {
		if !isTagLimit(ls[i].Name) {
			continue
		}
		t, err := h.tagResponse(r, &ls[i])
		if err != nil {
			return err
		}
		out = append(out, t)
	}
	out = out[min(page.Offset, len(out)):min(page.Offset+limit, len(out))]
	return api.WriteJSON(w, http.StatusOK, out)
}

// resetTag gives back every slot of the tag's limit, then gives one to each
// task run of slot_override.
func (h *handlers) resetTag(w http.ResponseWriter, r *http.Request) error {
	var override *[]string
	raw, err := decodeParams(r, api.Params{"slot_override": &override})
	if err != nil {
		return err
	}
	var runs []uuid.UUID
	if override != nil {
		var errs []api.FieldError
		for i, s := range *override {
			id, ierrs := uuidField([]any{"body", "slot_override", i}, s)
			runs, errs = append(runs, id), append(errs, ierrs...)
		}
		if err := invalid(raw, errs); err != nil {
			return err
		}
	}
	name := tagPrefix + api.PathVar(r, "tag")
	l, err := h.readTagLimit(r, byName(name), false)
	if err != nil {
		return err
	}
	if err := h.slots.releaseHolders(r.Context(), l.ID); err != nil {
		return err
	}
	// Slots taken without a lease are reset too (Prefect leaves every slot
	// taken: it revokes the leases without giving their slots back).
	if _, err := h.repo.update(r.Context(), byID(l.ID), &limitUpdate{ActiveSlots: opt[int]{set: true}}); err != nil {
		return err
	}
	for _, run := range runs {
		spec := &leaseSpec{ttl: v1LeaseTTL, activeOnly: true, meta: leaseMetadata{Slots: 1, Holder: &holder{Type: "task_run", ID: run}}}
		if _, err := h.slots.take(r.Context(), []string{name}, 1, nil, spec); err != nil {
			return err
		}
	}
	return api.WriteJSON(w, http.StatusOK, nil)
}

func (h *handlers) deleteTag(w http.ResponseWriter, r *http.Request) error {
	return h.deleteTagLimit(w, r, byName(tagPrefix+api.PathVar(r, "tag")))
}

// deleteTagByID deletes any global limit by id, as Prefect's v1 route does.
func (h *handlers) deleteTagByID(w http.ResponseWriter, r *http.Request) error {
	return h.deleteTagLimit(w, r, byID(uuid.MustParse(api.PathVar(r, "id"))))
}

// deleteTagLimit gives back the slots of the limit's leases (all their
// limits: Prefect only revokes them) and deletes it.
func (h *handlers) deleteTagLimit(w http.ResponseWriter, r *http.Request, k key) error {
	l, err := h.readTagLimit(r, k, false)
	if err != nil {
		return err
	}
	if err := h.slots.releaseHolders(r.Context(), l.ID); err != nil {
		return err
	}
	if _, err := h.repo.delete(r.Context(), byID(l.ID)); err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, nil)
}

// decodeTagSlots reads the v1 increment/decrement body: tags and a task run.
func decodeTagSlots(r *http.Request) ([]string, uuid.UUID, error) {
	var (
		names *[]string
		run   *string
	)
	raw, err := decodeParams(r, api.Params{"names": &names, "task_run_id": &run})
	if err != nil {
		return nil, uuid.Nil, err
	}
	var errs []api.FieldError
	if names == nil {
		errs = append(errs, api.Required("names", nil)...)
	}
	var id uuid.UUID
	if run == nil {
		errs = append(errs, api.Required("task_run_id", nil)...)
	} else {
		var ierrs []api.FieldError
		id, ierrs = uuidField([]any{"body", "task_run_id"}, *run)
		errs = append(errs, ierrs...)
	}
	if err := invalid(raw, errs); err != nil {
		return nil, uuid.Nil, err
	}
	seen := map[string]bool{}
	var tags []string
	for _, t := range *names {
		if !seen[t] {
			seen[t] = true
			tags = append(tags, t)
		}
	}
	return tags, id, nil
}

func tagNames(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = tagPrefix + t
	}
	return out
}

// errTagsFull carries the first full tag out of take's check.
var errTagsFull = errors.New("tag concurrency limit reached")

// incrementTags takes a slot of every tag's active limit for a task run,
// under a lease that v1 clients never renew.
func (h *handlers) incrementTags(w http.ResponseWriter, r *http.Request) error {
	tags, run, err := decodeTagSlots(r)
	if err != nil {
		return err
	}
	var full string // the first tag with an active limit: the one Prefect names
	byTag := map[string]Limit{}
	check := func(all, _ []Limit) error {
		for _, l := range all {
			byTag[l.Name[len(tagPrefix):]] = l
		}
		for _, t := range tags {
			if l, ok := byTag[t]; ok && l.Limit == 0 {
				return &api.Error{Status: http.StatusLocked,
					Detail: fmt.Sprintf("The concurrency limit on tag %q is 0 and will deadlock if the task tries to run again.", t)}
			}
		}
		for _, t := range tags {
			if l, ok := byTag[t]; ok && l.Active && full == "" {
				full = t
			}
		}
		return nil
	}
	spec := &leaseSpec{ttl: v1LeaseTTL, activeOnly: true, meta: leaseMetadata{Slots: 1, Holder: &holder{Type: "task_run", ID: run}}}
	t, err := h.slots.take(r.Context(), tagNames(tags), 1, check, spec)
	if err != nil {
		return err
	}
	if !t.ok {
		return &api.Error{Status: http.StatusLocked, Detail: fmt.Sprintf("Concurrency limit for the %s tag has been reached", full),
			Headers: map[string]string{"Retry-After": formatFloat(h.slots.settings.TagWait.Seconds())}}
	}
	out := []minimal{}
	for _, tag := range tags {
		if l, ok := byTag[tag]; ok && l.Active {
			out = append(out, minimal{ID: l.ID, Name: tag, Limit: l.Limit})
		}
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// decrementTags gives back the slots the task run holds on the tags' limits.
func (h *handlers) decrementTags(w http.ResponseWriter, r *http.Request) error {
	tags, run, err := decodeTagSlots(r)
	if err != nil {
		return err
	}
	ls, err := h.repo.byNames(r.Context(), h.repo.db.Read, tagNames(tags), false)
	if err != nil {
		return err
	}
	released := map[uuid.UUID]bool{}
	for _, l := range ls {
		hs, err := h.slots.holders(r.Context(), l.ID)
		if err != nil {
			return err
		}
		for _, hd := range hs {
			if hd.holder.ID != run || released[hd.leaseID] {
				continue
			}
			released[hd.leaseID] = true
			if err := h.slots.releaseAndRevoke(r.Context(), hd.leaseID, false); err != nil {
				return err
			}
		}
	}
	return api.WriteJSON(w, http.StatusOK, minimals(ls))
}
