package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// ackTimeout bounds an XACK, which still runs after the subscription's
// context ended so that handled messages are not delivered again.
const ackTimeout = 5 * time.Second

// redisConsumer is one Subscribe's read loop.
type redisConsumer struct {
	r       *Redis
	topic   string
	group   string
	name    string
	count   int64
	handler Handler
	log     *zap.Logger

	ownAt   time.Time // when to read this consumer's own pending messages; zero: none known
	claimAt time.Time // when to look for other consumers' stale messages
	cursor  string    // XAUTOCLAIM position
}

func (c *redisConsumer) run(ctx context.Context) {
	now := time.Now()
	// Start with what this consumer name left pending, then claim stale ones.
	c.ownAt, c.claimAt, c.cursor = now, now, "0-0"
	var b backoff
	for ctx.Err() == nil {
		c.r.maybeSweep(ctx, c.topic)
		batch, err := c.next(ctx)
		if err != nil && isNoGroup(err) {
			// Destroyed under us (cleanup, a flushed database): join it again.
			err = c.r.createGroup(ctx, c.topic, c.group)
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("read from redis stream failed; retrying", zap.Error(err))
			if !b.wait(ctx) {
				return
			}
			continue
		}
		b.reset()
		if len(batch) > 0 {
			c.handle(ctx, batch)
		}
	}
}

// next returns the next batch: own failed messages when due, then messages
// claimed from stale consumers, then new messages (waiting for them).
func (c *redisConsumer) next(ctx context.Context) ([]Message, error) {
	now := time.Now()
	if !c.ownAt.IsZero() && !now.Before(c.ownAt) {
		msgs, n, err := c.read(ctx, "0", 0)
		if err != nil || n > 0 {
			return msgs, err
		}
		c.ownAt = time.Time{}
	}
	if !now.Before(c.claimAt) {
		msgs, n, err := c.autoclaim(ctx)
		if err != nil || n > 0 {
			return msgs, err
		}
	}
	until := c.claimAt
	if !c.ownAt.IsZero() && c.ownAt.Before(until) {
		until = c.ownAt
	}
	block := max(min(c.r.opts.Block, time.Until(until)), time.Millisecond)
	msgs, _, err := c.read(ctx, ">", block)
	return msgs, err
}

// read runs XREADGROUP from id (">" for new messages, "0" for this consumer's
// pending ones), blocking up to block when it is positive. n counts the
// entries read, including ones trimmed from the stream meanwhile.
func (c *redisConsumer) read(ctx context.Context, id string, block time.Duration) ([]Message, int, error) {
	b := c.r.client.B().Xreadgroup().Group(c.group, c.name).Count(c.count)
	var cmd rueidis.Completed
	if block > 0 {
		cmd = b.Block(block.Milliseconds()).Streams().Key(c.topic).Id(id).Build()
	} else {
		cmd = b.Streams().Key(c.topic).Id(id).Build()
	}
	res, err := c.r.client.Do(ctx, cmd).AsXRead()
	if rueidis.IsRedisNil(err) {
		return nil, 0, nil // BLOCK timed out
	}
	if err != nil {
		return nil, 0, fmt.Errorf("xreadgroup %s: %w", c.topic, err)
	}
	entries := res[c.topic]
	return c.decode(ctx, entries), len(entries), nil
}

// autoclaim takes over up to count messages idle longer than ClaimTimeout.
func (c *redisConsumer) autoclaim(ctx context.Context) ([]Message, int, error) {
	cmd := c.r.client.B().Xautoclaim().Key(c.topic).Group(c.group).Consumer(c.name).
		MinIdleTime(fmt.Sprint(c.r.opts.ClaimTimeout.Milliseconds())).Start(c.cursor).
		Count(c.count).Build()
	vals, err := c.r.client.Do(ctx, cmd).ToArray()
	if err != nil {
		return nil, 0, fmt.Errorf("xautoclaim %s: %w", c.topic, err)
	}
	if len(vals) < 2 {
		return nil, 0, fmt.Errorf("xautoclaim %s: reply has %d elements", c.topic, len(vals))
	}
	cursor, err := vals[0].ToString()
	if err != nil {
		return nil, 0, fmt.Errorf("xautoclaim %s: cursor: %w", c.topic, err)
	}
	entries, err := vals[1].AsXRange()
	if err != nil {
		return nil, 0, fmt.Errorf("xautoclaim %s: entries: %w", c.topic, err)
	}
	c.cursor = cursor
	if cursor == "0-0" {
		c.claimAt = time.Now().Add(c.r.opts.ClaimInterval)
	}
	return c.decode(ctx, entries), len(entries), nil
}

// decode turns entries into messages. Entries trimmed from the stream while
// pending come without fields; they are acknowledged and left out.
func (c *redisConsumer) decode(ctx context.Context, entries []rueidis.XRangeEntry) []Message {
	msgs := make([]Message, 0, len(entries))
	var gone []string
	for _, e := range entries {
		if e.FieldValues == nil {
			gone = append(gone, e.ID)
			continue
		}
		msg := Message{ID: e.ID}
		if data := e.FieldValues[fieldData]; data != "" {
			msg.Data = []byte(data)
		}
		if attrs := e.FieldValues[fieldAttributes]; attrs != "" {
			if err := json.Unmarshal([]byte(attrs), &msg.Attributes); err != nil {
				c.log.Warn("bad message attributes; delivering without them",
					zap.String("id", e.ID), zap.Error(err))
			}
		}
		msgs = append(msgs, msg)
	}
	if len(gone) > 0 {
		c.ack(ctx, gone)
	}
	return msgs
}

// handle runs the handler and acknowledges the batch when it succeeds; a
// failed batch stays pending and is read again after RetryDelay.
func (c *redisConsumer) handle(ctx context.Context, batch []Message) {
	ids := make([]string, len(batch))
	for i, m := range batch {
		ids[i] = m.ID
	}
	if err := c.handler(ctx, batch); err != nil {
		if ctx.Err() == nil {
			c.log.Warn("message handler failed; will retry", zap.Int("messages", len(ids)), zap.Error(err))
		}
		c.ownAt = time.Now().Add(c.r.opts.RetryDelay)
		return
	}
	c.ack(ctx, ids)
}

func (c *redisConsumer) ack(ctx context.Context, ids []string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	cmd := c.r.client.B().Xack().Key(c.topic).Group(c.group).Id(ids...).Build()
	if err := c.r.client.Do(ctx, cmd).Error(); err != nil {
		c.log.Warn("xack failed; messages will be delivered again", zap.Strings("ids", ids), zap.Error(err))
	}
}

func isNoGroup(err error) bool {
	var re *rueidis.RedisError
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOGROUP")
}

// backoff spaces out retries after errors: 100ms doubling up to 5s.
type backoff struct{ d time.Duration }

func (b *backoff) reset() { b.d = 0 }

// wait sleeps for the next delay; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	b.d = min(max(2*b.d, 100*time.Millisecond), 5*time.Second)
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
