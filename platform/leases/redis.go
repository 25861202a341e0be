package leases

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/rueidis"
)

// DefaultKeyPrefix starts every key of the Redis lease storage.
const DefaultKeyPrefix = "prefect:leases:"

// RedisOptions tunes the Redis lease storage.
type RedisOptions struct {
	// KeyPrefix starts every key (default DefaultKeyPrefix). On Redis
	// Cluster use a hash tag, e.g. "{prefect:leases}:", so that the scripts'
	// keys share a slot.
	KeyPrefix string
}

// Redis keeps leases in Redis:
//
//	<prefix>lease:<id>        hash: data (the lease as JSON), expiration
//	                          (unix µs, wins over data's), resources (ids, comma-separated)
//	<prefix>expirations       sorted set of lease ids scored by expiration (unix µs)
//	<prefix>resource:<id>     set of the lease ids holding the resource
//
// Create, Renew and Revoke are Lua scripts, so each is atomic. Times are
// kept to the microsecond.
type Redis struct {
	client rueidis.Client
	prefix string
}

// NewRedis returns a lease storage on client; the caller keeps ownership of
// the client.
func NewRedis(client rueidis.Client, opts RedisOptions) *Redis {
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = DefaultKeyPrefix
	}
	return &Redis{client: client, prefix: opts.KeyPrefix}
}

var _ Storage = (*Redis)(nil)

var createScript = rueidis.NewLuaScript(`
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'expiration', ARGV[3], 'resources', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
for i = 3, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
return 1
`)

var renewScript = rueidis.NewLuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'expiration', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`)

// revokeScript's ARGV[2] is the resource key prefix: the resource keys are
// only known from the lease itself.
var revokeScript = rueidis.NewLuaScript(`
local res = redis.call('HGET', KEYS[1], 'resources')
if res then
  for r in string.gmatch(res, '[^,]+') do redis.call('SREM', ARGV[2] .. r, ARGV[1]) end
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`)

func (r *Redis) leaseKey(id uuid.UUID) string    { return r.prefix + "lease:" + id.String() }
func (r *Redis) expirationsKey() string          { return r.prefix + "expirations" }
func (r *Redis) resourcePrefix() string          { return r.prefix + "resource:" }
func (r *Redis) resourceKey(id uuid.UUID) string { return r.resourcePrefix() + id.String() }

// Create stores a new lease expiring after ttl (a ttl <= 0 makes it expired).
func (r *Redis) Create(ctx context.Context, resourceIDs []uuid.UUID, ttl time.Duration, metadata json.RawMessage) (Lease, error) {
	now := now()
	l := clone(Lease{
		ID:          uuid.New(),
		ResourceIDs: resourceIDs,
		Metadata:    metadata,
		Expiration:  now.Add(ttl).Truncate(time.Microsecond),
		CreatedAt:   now,
	})
	data, err := json.Marshal(l)
	if err != nil {
		return Lease{}, fmt.Errorf("create lease: encode: %w", err)
	}
	keys := []string{r.leaseKey(l.ID), r.expirationsKey()}
	res := make([]string, len(l.ResourceIDs))
	for i, id := range l.ResourceIDs {
		keys = append(keys, r.resourceKey(id))
		res[i] = id.String()
	}
	args := []string{l.ID.String(), string(data), micros(l.Expiration), strings.Join(res, ",")}
	if err := createScript.Exec(ctx, r.client, keys, args).Error(); err != nil {
		return Lease{}, fmt.Errorf("create lease: %w", err)
	}
	return l, nil
}

// Read returns the lease, expired or not, or nil when it does not exist.
func (r *Redis) Read(ctx context.Context, id uuid.UUID) (*Lease, error) {
	l, err := decodeLease(r.client.Do(ctx, r.hmget(id)))
	if err != nil {
		return nil, fmt.Errorf("read lease %s: %w", id, err)
	}
	return l, nil
}

func (r *Redis) hmget(id uuid.UUID) rueidis.Completed {
	return r.client.B().Hmget().Key(r.leaseKey(id)).Field("data", "expiration").Build()
}

// decodeLease decodes an HMGET data expiration reply; nil when the lease is gone.
func decodeLease(res rueidis.RedisResult) (*Lease, error) {
	vals, err := res.ToArray()
	if err != nil {
		return nil, err
	}
	if len(vals) != 2 || vals[0].IsNil() {
		return nil, nil
	}
	data, err := vals[0].ToString()
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	exp, err := vals[1].AsInt64()
	if err != nil {
		return nil, fmt.Errorf("expiration: %w", err)
	}
	var l Lease
	if err := json.Unmarshal([]byte(data), &l); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	l.Expiration = time.UnixMicro(exp).UTC()
	l.CreatedAt = l.CreatedAt.UTC()
	return &l, nil
}

// Renew moves the expiration to now+ttl.
func (r *Redis) Renew(ctx context.Context, id uuid.UUID, ttl time.Duration) (bool, error) {
	exp := now().Add(ttl).Truncate(time.Microsecond)
	n, err := renewScript.Exec(ctx, r.client,
		[]string{r.leaseKey(id), r.expirationsKey()}, []string{id.String(), micros(exp)}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("renew lease %s: %w", id, err)
	}
	return n == 1, nil
}

// Revoke deletes the lease.
func (r *Redis) Revoke(ctx context.Context, id uuid.UUID) error {
	err := revokeScript.Exec(ctx, r.client,
		[]string{r.leaseKey(id), r.expirationsKey()}, []string{id.String(), r.resourcePrefix()}).Error()
	if err != nil {
		return fmt.Errorf("revoke lease %s: %w", id, err)
	}
	return nil
}

// ActiveIDs pages through unexpired leases, soonest expiration first; limit
// <= 0 means no limit.
func (r *Redis) ActiveIDs(ctx context.Context, limit, offset int) ([]uuid.UUID, error) {
	ids, err := r.rangeIDs(ctx, "("+micros(now()), "+inf", limit, offset)
	if err != nil {
		return nil, fmt.Errorf("list active leases: %w", err)
	}
	return ids, nil
}

// ExpiredIDs returns up to limit expired leases, longest expired first; limit
// <= 0 means no limit.
func (r *Redis) ExpiredIDs(ctx context.Context, limit int) ([]uuid.UUID, error) {
	ids, err := r.rangeIDs(ctx, "-inf", micros(now()), limit, 0)
	if err != nil {
		return nil, fmt.Errorf("list expired leases: %w", err)
	}
	return ids, nil
}

func (r *Redis) rangeIDs(ctx context.Context, lo, hi string, limit, offset int) ([]uuid.UUID, error) {
	if limit <= 0 {
		limit = -1
	}
	cmd := r.client.B().Zrangebyscore().Key(r.expirationsKey()).Min(lo).Max(hi).
		Limit(int64(max(offset, 0)), int64(limit)).Build()
	members, err := r.client.Do(ctx, cmd).AsStrSlice()
	if err != nil {
		return nil, err
	}
	return parseIDs(members)
}

// ByResource returns the unexpired leases holding resourceID, oldest first.
func (r *Redis) ByResource(ctx context.Context, resourceID uuid.UUID) ([]Lease, error) {
	members, err := r.client.Do(ctx, r.client.B().Smembers().Key(r.resourceKey(resourceID)).Build()).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("list leases of %s: %w", resourceID, err)
	}
	ids, err := parseIDs(members)
	if err != nil {
		return nil, fmt.Errorf("list leases of %s: %w", resourceID, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make(rueidis.Commands, len(ids))
	for i, id := range ids {
		cmds[i] = r.hmget(id)
	}
	now := now()
	var out []Lease
	for i, res := range r.client.DoMulti(ctx, cmds...) {
		l, err := decodeLease(res)
		if err != nil {
			return nil, fmt.Errorf("list leases of %s: read %s: %w", resourceID, ids[i], err)
		}
		if l != nil && l.Expiration.After(now) {
			out = append(out, *l)
		}
	}
	sortByCreation(out)
	return out, nil
}

func parseIDs(members []string) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, len(members))
	for i, m := range members {
		id, err := uuid.Parse(m)
		if err != nil {
			return nil, fmt.Errorf("bad lease id %q: %w", m, err)
		}
		ids[i] = id
	}
	return ids, nil
}

func micros(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }
