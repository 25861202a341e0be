package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// redisOrdering is prefect_redis.ordering: the same algorithm as the memory
// ordering, with its state in Redis so that several server processes share
// it. The keys are Prefect's, under "<scope>:":
//
//	processing:<id>  a lock while the event is handled (SET NX, 2 x the in-flight timeout)
//	seen:<id>        the event was handled (expires after SeenFor)
//	event:<id>       a parked follower, as JSON
//	followers:<id>   the ids of the followers parked for leader <id> (a set)
//	waitlist         the parked followers, scored by their received time (seconds)
type redisOrdering struct {
	client rueidis.Client
	scope  string
	opts   OrderingOptions
	now    func() time.Time
}

// NewRedisOrdering returns a causal ordering kept in Redis under scope, shared
// by every process that uses the same Redis and scope.
func NewRedisOrdering(c rueidis.Client, scope string, opts OrderingOptions) CausalOrdering {
	return &redisOrdering{client: c, scope: scope, opts: opts.withDefaults(), now: time.Now}
}

// unlockScript deletes a processing lock only if this holder still owns it
// (it may have expired and been taken by another process).
var unlockScript = rueidis.NewLuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// parkScript parks a follower unless its leader has been seen. Being atomic,
// it cannot interleave with the leader recording itself as seen and then
// reading its followers: either the leader finds the follower, or the
// follower finds the leader seen (the memory ordering's re-check under lock).
var parkScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
return 1`)

func (o *redisOrdering) key(k string) string {
	if o.scope == "" {
		return k
	}
	return o.scope + ":" + k
}

func (o *redisOrdering) idKey(kind string, id uuid.UUID) string {
	return o.key(kind + ":" + id.String())
}

func (o *redisOrdering) Process(ctx context.Context, e *Event, h Handler) error {
	return o.process(ctx, e, h, 0)
}

func (o *redisOrdering) process(ctx context.Context, e *Event, h Handler, depth int) error {
	if depth > o.opts.MaxDepth {
		return fmt.Errorf("event %s: %w", e.ID, ErrMaxDepth)
	}
	token, err := o.lock(ctx, e.ID)
	if err != nil {
		return err
	}
	err = o.handle(ctx, e, h)
	if uerr := o.unlock(ctx, e.ID, token); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	followers, err := o.followersOf(ctx, e.ID)
	if err != nil {
		return err
	}
	for _, f := range followers {
		err := o.process(ctx, f, h, depth+1)
		switch {
		case errors.Is(err, ErrMaxDepth):
			return nil // the rest stay parked until they are lost, as in Prefect
		case errors.Is(err, ErrBeingProcessed):
		case err != nil:
			return err
		}
	}
	if e.Follows != nil && *e.Follows != e.ID {
		return o.forgetFollower(ctx, e)
	}
	return nil
}

// lock takes e's processing lock, returning its token, or ErrBeingProcessed.
func (o *redisOrdering) lock(ctx context.Context, id uuid.UUID) (string, error) {
	token := uuid.NewString()
	ttl := max(2*o.opts.InFlightTimeout, time.Millisecond)
	err := o.client.Do(ctx, o.client.B().Set().Key(o.idKey("processing", id)).Value(token).Nx().Px(ttl).Build()).Error()
	switch {
	case rueidis.IsRedisNil(err):
		return "", fmt.Errorf("event %s: %w", id, ErrBeingProcessed)
	case err != nil:
		return "", fmt.Errorf("lock event %s: %w", id, err)
	}
	return token, nil
}

// unlock releases the lock even when ctx is done (else it lingers until it
// expires and holds up redeliveries).
func (o *redisOrdering) unlock(ctx context.Context, id uuid.UUID, token string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := unlockScript.Exec(ctx, o.client, []string{o.idKey("processing", id)}, []string{token}).Error(); err != nil {
		return fmt.Errorf("unlock event %s: %w", id, err)
	}
	return nil
}

// handle waits for e's leader, runs h and records e as seen.
func (o *redisOrdering) handle(ctx context.Context, e *Event, h Handler) error {
	if err := o.waitForLeader(ctx, e); err != nil {
		return err
	}
	if err := h(ctx, e); err != nil {
		return err
	}
	ttl := max(o.opts.SeenFor, time.Millisecond)
	if err := o.client.Do(ctx, o.client.B().Set().Key(o.idKey("seen", e.ID)).Value("1").Px(ttl).Build()).Error(); err != nil {
		return fmt.Errorf("record event %s as seen: %w", e.ID, err)
	}
	return nil
}

func (o *redisOrdering) exists(ctx context.Context, key string) (bool, error) {
	n, err := o.client.Do(ctx, o.client.B().Exists().Key(key).Build()).AsInt64()
	return n == 1, err
}

func (o *redisOrdering) waitForLeader(ctx context.Context, e *Event) error {
	if e.Follows == nil || *e.Follows == e.ID || o.now().Sub(e.Received.Time) >= o.opts.Lookback {
		return nil
	}
	leader := *e.Follows
	seen, err := o.exists(ctx, o.idKey("seen", leader))
	if err != nil || seen {
		return err
	}
	inFlight, err := o.exists(ctx, o.idKey("processing", leader))
	if err != nil {
		return err
	}
	if inFlight {
		seen, err := o.pollSeen(ctx, leader)
		if err != nil || seen {
			return err
		}
	}
	return o.park(ctx, e)
}

// pollSeen waits up to the in-flight timeout for leader to be seen.
func (o *redisOrdering) pollSeen(ctx context.Context, leader uuid.UUID) (bool, error) {
	deadline := time.NewTimer(o.opts.InFlightTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(o.opts.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil // treat the leader as lost
		case <-tick.C:
			seen, err := o.exists(ctx, o.idKey("seen", leader))
			if err != nil || seen {
				return seen, err
			}
		}
	}
}

// park puts e on the waitlist of its leader, unless the leader was seen
// meanwhile; it returns ErrArrivedEarly when e was parked.
func (o *redisOrdering) park(ctx context.Context, e *Event) error {
	leader := *e.Follows
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	keys := []string{o.idKey("seen", leader), o.idKey("event", e.ID), o.idKey("followers", leader), o.key("waitlist")}
	args := []string{string(body), e.ID.String(), score(e.Received.Time)}
	parked, err := parkScript.Exec(ctx, o.client, keys, args).AsInt64()
	if err != nil {
		return fmt.Errorf("park event %s: %w", e.ID, err)
	}
	if parked == 0 {
		return nil
	}
	return fmt.Errorf("event %s follows %s: %w", e.ID, leader, ErrArrivedEarly)
}

// score is a waitlist score: seconds since the epoch, as Prefect writes it.
func score(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64)
}

// followersOf returns the events parked for leader, oldest first.
func (o *redisOrdering) followersOf(ctx context.Context, leader uuid.UUID) ([]*Event, error) {
	ids, err := o.client.Do(ctx, o.client.B().Smembers().Key(o.idKey("followers", leader)).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("read followers of %s: %w", leader, err)
	}
	return o.eventsByID(ctx, ids)
}

// eventsByID reads parked events, oldest first, skipping forgotten ones.
func (o *redisOrdering) eventsByID(ctx context.Context, ids []string) ([]*Event, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		cmds[i] = o.client.B().Get().Key(o.key("event:" + id)).Build()
	}
	var out []*Event
	for i, r := range o.client.DoMulti(ctx, cmds...) {
		body, err := r.AsBytes()
		if rueidis.IsRedisNil(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read parked event %s: %w", ids[i], err)
		}
		var e Event
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, fmt.Errorf("decode parked event %s: %w", ids[i], err)
		}
		out = append(out, &e)
	}
	sortByOccurred(out)
	return out, nil
}

func (o *redisOrdering) forgetFollower(ctx context.Context, e *Event) error {
	id := e.ID.String()
	for _, r := range o.client.DoMulti(ctx,
		o.client.B().Zrem().Key(o.key("waitlist")).Member(id).Build(),
		o.client.B().Srem().Key(o.idKey("followers", *e.Follows)).Member(id).Build(),
		o.client.B().Del().Key(o.idKey("event", e.ID)).Build(),
	) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("forget follower %s: %w", e.ID, err)
		}
	}
	return nil
}

// LostFollowers claims the followers received before the lookback: each is
// removed from the waitlist by exactly one caller (ZREM answers 1 once), so
// two processes never both return the same one.
func (o *redisOrdering) LostFollowers(ctx context.Context) ([]*Event, error) {
	cutoff := score(o.now().Add(-o.opts.Lookback))
	waitlist := o.key("waitlist")
	ids, err := o.client.Do(ctx, o.client.B().Zrangebyscore().Key(waitlist).Min("-inf").Max(cutoff).Build()).AsStrSlice()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	claims := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		claims[i] = o.client.B().Zrem().Key(waitlist).Member(id).Build()
	}
	var mine []string
	for i, r := range o.client.DoMulti(ctx, claims...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, fmt.Errorf("claim lost follower %s: %w", ids[i], err)
		}
		if n == 1 {
			mine = append(mine, ids[i])
		}
	}
	lost, err := o.eventsByID(ctx, mine)
	if err != nil {
		return nil, err
	}
	for _, e := range lost {
		if err := o.forgetFollower(ctx, e); err != nil {
			return nil, err
		}
	}
	return lost, nil
}
