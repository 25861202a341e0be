package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// releaseTimeout bounds the clean-up when a subscription ends.
const releaseTimeout = 5 * time.Second

// releaseScript removes consumer ARGV[2] from group ARGV[1] of stream KEYS[1]
// when it has no pending messages (they would be lost otherwise). With
// ARGV[3] == "1" (ephemeral) the whole group is destroyed instead when no
// other consumer is left. Returns 2 when the group was destroyed, 1 when the
// consumer was removed, 0 otherwise.
var releaseScript = rueidis.NewLuaScript(`
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local others = 0
for _, c in ipairs(consumers) do
  for i = 1, #c, 2 do
    if c[i] == 'name' and c[i + 1] ~= ARGV[2] then others = others + 1 end
  end
end
if ARGV[3] == '1' and others == 0 then
  redis.call('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
  return 2
end
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
`)

// createGroup creates the group at new messages ("$"), and the stream if
// needed; an existing group is kept as it is.
func (r *Redis) createGroup(ctx context.Context, topic, group string) error {
	cmd := r.client.B().XgroupCreate().Key(topic).Group(group).Id("$").Mkstream().Build()
	if err := r.client.Do(ctx, cmd).Error(); err != nil && !rueidis.IsRedisBusyGroup(err) {
		return fmt.Errorf("xgroup create: %w", err)
	}
	return nil
}

// release runs when a subscription ends: it removes the consumer when it has
// nothing pending, and an ephemeral group when it was its last consumer.
func (r *Redis) release(topic, group, consumer string, ephemeral bool) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	flag := "0"
	if ephemeral {
		flag = "1"
	}
	if err := releaseScript.Exec(ctx, r.client, []string{topic}, []string{group, consumer, flag}).Error(); err != nil {
		r.opts.Logger.Warn("leave consumer group failed", zap.String("topic", topic),
			zap.String("group", group), zap.String("consumer", consumer), zap.Error(err))
	}
}

// sweepState remembers, per topic, when to sweep next and since when
// ephemeral groups have had no consumer at all.
type sweepState struct {
	next       time.Time
	emptySince map[string]time.Time
}

// maybeSweep cleans the topic's groups when CleanupInterval has passed since
// the last time any subscription of this broker did.
func (r *Redis) maybeSweep(ctx context.Context, topic string) {
	now := time.Now()
	r.mu.Lock()
	s, ok := r.sweeps[topic]
	if !ok {
		s = &sweepState{}
		r.sweeps[topic] = s
	}
	if now.Before(s.next) {
		r.mu.Unlock()
		return
	}
	s.next = now.Add(r.opts.CleanupInterval)
	emptySince := s.emptySince
	r.mu.Unlock()

	emptySince, err := r.sweep(ctx, topic, emptySince)
	if err != nil && ctx.Err() == nil {
		r.opts.Logger.Warn("clean up consumer groups failed", zap.String("topic", topic), zap.Error(err))
	}
	r.mu.Lock()
	s.emptySince = emptySince
	r.mu.Unlock()
}

// sweep destroys ephemeral groups left by crashed processes (every consumer
// idle longer than EphemeralIdle, or no consumer for that long) and removes
// consumers idle that long with nothing pending from the other groups.
func (r *Redis) sweep(ctx context.Context, topic string, emptySince map[string]time.Time) (map[string]time.Time, error) {
	groups, err := r.client.Do(ctx, r.client.B().XinfoGroups().Key(topic).Build()).ToArray()
	if err != nil {
		return emptySince, fmt.Errorf("xinfo groups: %w", err)
	}
	now := time.Now()
	stillEmpty := make(map[string]time.Time)
	for _, g := range groups {
		info, err := g.AsMap()
		if err != nil {
			return emptySince, fmt.Errorf("xinfo groups: %w", err)
		}
		name, err := field(info, "name").ToString()
		if err != nil {
			return emptySince, fmt.Errorf("xinfo groups: name: %w", err)
		}
		consumers, err := r.idleConsumers(ctx, topic, name)
		if err != nil {
			return emptySince, err
		}
		ephemeral := strings.HasPrefix(name, EphemeralPrefix)
		switch {
		case ephemeral && consumers.total == 0:
			since, seen := emptySince[name]
			if !seen {
				since = now
			}
			if now.Sub(since) < r.opts.EphemeralIdle {
				stillEmpty[name] = since
				continue
			}
			err = r.destroyGroup(ctx, topic, name)
		case ephemeral && consumers.active == 0:
			err = r.destroyGroup(ctx, topic, name)
		default:
			for _, c := range consumers.stale {
				r.release(topic, name, c, false)
			}
		}
		if err != nil {
			return emptySince, err
		}
	}
	return stillEmpty, nil
}

// groupConsumers sums up XINFO CONSUMERS: how many consumers, how many were
// active within EphemeralIdle, and the idle ones with nothing pending.
type groupConsumers struct {
	total, active int
	stale         []string
}

func (r *Redis) idleConsumers(ctx context.Context, topic, group string) (groupConsumers, error) {
	var gc groupConsumers
	list, err := r.client.Do(ctx, r.client.B().XinfoConsumers().Key(topic).Group(group).Build()).ToArray()
	if err != nil {
		return gc, fmt.Errorf("xinfo consumers %s: %w", group, err)
	}
	for _, c := range list {
		info, err := c.AsMap()
		if err != nil {
			return gc, fmt.Errorf("xinfo consumers %s: %w", group, err)
		}
		name, err := field(info, "name").ToString()
		if err != nil {
			return gc, fmt.Errorf("xinfo consumers %s: name: %w", group, err)
		}
		idle, err := field(info, "idle").AsInt64()
		if err != nil {
			return gc, fmt.Errorf("xinfo consumers %s: idle: %w", group, err)
		}
		pending, err := field(info, "pending").AsInt64()
		if err != nil {
			return gc, fmt.Errorf("xinfo consumers %s: pending: %w", group, err)
		}
		gc.total++
		switch {
		case time.Duration(idle)*time.Millisecond < r.opts.EphemeralIdle:
			gc.active++
		case pending == 0:
			gc.stale = append(gc.stale, name)
		}
	}
	return gc, nil
}

func (r *Redis) destroyGroup(ctx context.Context, topic, group string) error {
	if err := r.client.Do(ctx, r.client.B().XgroupDestroy().Key(topic).Group(group).Build()).Error(); err != nil {
		return fmt.Errorf("xgroup destroy %s: %w", group, err)
	}
	r.opts.Logger.Info("removed idle ephemeral consumer group", zap.String("topic", topic), zap.String("group", group))
	return nil
}

// field returns an addressable copy of an XINFO reply field.
func field(info map[string]rueidis.RedisMessage, name string) *rueidis.RedisMessage {
	m := info[name]
	return &m
}
