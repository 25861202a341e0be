package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// Defaults of RedisOptions.
const (
	DefaultMaxLen          = 100_000
	DefaultBlock           = time.Second
	DefaultClaimTimeout    = 30 * time.Second
	DefaultEphemeralIdle   = 10 * time.Minute
	DefaultCleanupInterval = time.Minute
)

// Stream entry fields.
const (
	fieldData       = "data"
	fieldAttributes = "attributes"
)

// RedisOptions tunes the Redis broker; zero values take the defaults.
type RedisOptions struct {
	// MaxLen caps each stream approximately (XADD MAXLEN ~); default
	// DefaultMaxLen, negative for no cap. Entries trimmed away before a group
	// read them are lost to that group.
	MaxLen int64
	// Block is the longest one XREADGROUP waits for new messages.
	Block time.Duration
	// ClaimTimeout is how long a delivered message may stay unacknowledged
	// before another consumer of the group claims it (XAUTOCLAIM), e.g. after
	// its consumer crashed.
	ClaimTimeout time.Duration
	// ClaimInterval is how often each consumer looks for such messages;
	// default ClaimTimeout/2.
	ClaimInterval time.Duration
	// RetryDelay is how long a consumer waits before handling its own failed
	// batch again; default DefaultRetryDelay.
	RetryDelay time.Duration
	// EphemeralIdle is how long all consumers of an ephemeral group (one left
	// by a crashed process) must have been idle before the group is removed;
	// consumers without pending messages idle that long are removed from
	// durable groups too. A live subscription whose handler runs longer than
	// this may see its ephemeral group removed; it then re-creates it at new
	// messages.
	EphemeralIdle time.Duration
	// CleanupInterval is how often a topic is checked for such leftovers.
	CleanupInterval time.Duration
	// Logger reports errors a subscription recovers from; default no-op.
	Logger *zap.Logger
}

func (o RedisOptions) withDefaults() RedisOptions {
	if o.MaxLen == 0 {
		o.MaxLen = DefaultMaxLen
	}
	if o.Block <= 0 {
		o.Block = DefaultBlock
	}
	if o.ClaimTimeout <= 0 {
		o.ClaimTimeout = DefaultClaimTimeout
	}
	if o.ClaimInterval <= 0 {
		o.ClaimInterval = o.ClaimTimeout / 2
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.EphemeralIdle <= 0 {
		o.EphemeralIdle = DefaultEphemeralIdle
	}
	if o.CleanupInterval <= 0 {
		o.CleanupInterval = DefaultCleanupInterval
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// Redis is the broker on Redis Streams: a topic is a stream, a group a
// consumer group. New groups start at new messages ("$"); existing groups
// resume where they stopped. Delivery is at least once per group: a message
// is acknowledged (XACK) only after its handler returned nil, a failed batch
// stays pending and is retried by its consumer after RetryDelay, and messages
// of a consumer that went away are claimed by another one after
// ClaimTimeout. Ephemeral groups are destroyed when their last Subscribe
// returns, or by a later cleanup when their process crashed.
//
// Each Subscribe holds one connection of the client's blocking pool.
type Redis struct {
	client rueidis.Client
	opts   RedisOptions
	life   *lifetime

	mu     sync.Mutex
	sweeps map[string]*sweepState // per topic
}

// NewRedis returns a broker using client. The caller keeps ownership of the
// client: Close does not close it.
func NewRedis(client rueidis.Client, opts RedisOptions) *Redis {
	return &Redis{
		client: client,
		opts:   opts.withDefaults(),
		life:   newLifetime(),
		sweeps: make(map[string]*sweepState),
	}
}

var _ Broker = (*Redis)(nil)

// Publish adds msgs to the topic's stream in one round trip.
func (r *Redis) Publish(ctx context.Context, topic string, msgs ...Message) error {
	if r.life.isClosed() {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	cmds := make(rueidis.Commands, 0, len(msgs))
	for _, msg := range msgs {
		cmd, err := r.xadd(topic, msg)
		if err != nil {
			return fmt.Errorf("publish to %s: %w", topic, err)
		}
		cmds = append(cmds, cmd)
	}
	for _, res := range r.client.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return fmt.Errorf("publish to %s: xadd: %w", topic, err)
		}
	}
	return nil
}

func (r *Redis) xadd(topic string, msg Message) (rueidis.Completed, error) {
	// A builder is used once: each branch starts its own.
	b := r.client.B().Xadd().Key(topic)
	var entry = b.Id("*").FieldValue().FieldValue(fieldData, rueidis.BinaryString(msg.Data))
	if r.opts.MaxLen > 0 {
		entry = r.client.B().Xadd().Key(topic).Maxlen().Almost().
			Threshold(strconv.FormatInt(r.opts.MaxLen, 10)).Id("*").
			FieldValue().FieldValue(fieldData, rueidis.BinaryString(msg.Data))
	}
	if len(msg.Attributes) > 0 {
		attrs, err := json.Marshal(msg.Attributes)
		if err != nil {
			return rueidis.Completed{}, fmt.Errorf("encode attributes: %w", err)
		}
		entry = entry.FieldValue(fieldAttributes, string(attrs))
	}
	return entry.Build(), nil
}

// Subscribe joins (creating if needed) the consumer group and delivers the
// topic's messages to h until ctx is done or the broker is closed.
func (r *Redis) Subscribe(ctx context.Context, topic string, opts SubscribeOptions, h Handler) error {
	opts, err := normalize(opts)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	ctx, leave, err := r.life.enter(ctx)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	defer leave()
	if err := r.createGroup(ctx, topic, opts.Group); err != nil {
		return fmt.Errorf("subscribe to %s as group %s: %w", topic, opts.Group, err)
	}
	defer r.release(topic, opts.Group, opts.Consumer, opts.Ephemeral)
	if opts.Ready != nil {
		opts.Ready()
	}
	c := &redisConsumer{
		r:       r,
		topic:   topic,
		group:   opts.Group,
		name:    opts.Consumer,
		count:   int64(opts.BatchSize),
		handler: h,
		log: r.opts.Logger.With(zap.String("topic", topic), zap.String("group", opts.Group),
			zap.String("consumer", opts.Consumer)),
	}
	c.run(ctx)
	return nil
}

// Close stops every subscription and waits for them; the client stays open.
func (r *Redis) Close() error {
	r.life.close()
	return nil
}
