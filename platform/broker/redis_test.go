package broker

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

var bg = context.Background()

func redisGroups(t *testing.T, r *Redis, topic string) []string {
	t.Helper()
	groups, err := r.client.Do(bg, r.client.B().XinfoGroups().Key(topic).Build()).ToArray()
	if err != nil && strings.Contains(err.Error(), "no such key") {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range groups {
		info, err := g.AsMap()
		if err != nil {
			t.Fatal(err)
		}
		name, err := field(info, "name").ToString()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func redisConsumers(t *testing.T, r *Redis, topic, group string) []string {
	t.Helper()
	list, err := r.client.Do(bg, r.client.B().XinfoConsumers().Key(topic).Group(group).Build()).ToArray()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		info, err := c.AsMap()
		if err != nil {
			t.Fatal(err)
		}
		name, err := field(info, "name").ToString()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func do(t *testing.T, c rueidis.Client, cmd rueidis.Completed) rueidis.RedisResult {
	t.Helper()
	res := c.Do(bg, cmd)
	if err := res.Error(); err != nil && !rueidis.IsRedisNil(err) {
		t.Fatal(err)
	}
	return res
}

func TestRedisEntryFormat(t *testing.T) {
	r, prefix := newTestRedis(t, RedisOptions{})
	topic := prefix + "topic"
	msg := Message{Data: []byte(`{"event":"x"}`), Attributes: map[string]string{"id": "1"}}
	if err := r.Publish(bg, topic, msg); err != nil {
		t.Fatal(err)
	}
	entries, err := r.client.Do(bg, r.client.B().Xrange().Key(topic).Start("-").End("+").Build()).AsXRange()
	if err != nil || len(entries) != 1 {
		t.Fatalf("xrange = %v, %v", entries, err)
	}
	var attrs map[string]string
	if err := json.Unmarshal([]byte(entries[0].FieldValues["attributes"]), &attrs); err != nil || attrs["id"] != "1" {
		t.Errorf("attributes field = %q", entries[0].FieldValues["attributes"])
	}
	if got := entries[0].FieldValues["data"]; got != string(msg.Data) {
		t.Errorf("data field = %q", got)
	}
}

func TestRedisMaxLen(t *testing.T) {
	r, prefix := newTestRedis(t, RedisOptions{MaxLen: 10})
	topic := prefix + "topic"
	publish(t, r, topic, names("m", 500)...)
	n, err := r.client.Do(bg, r.client.B().Xlen().Key(topic).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole stream nodes (100 entries by default).
	if n >= 500 || n < 10 {
		t.Errorf("stream length %d, want trimmed to about 10", n)
	}
}

// TestRedisCrashedConsumer: a consumer that read messages and died without
// acknowledging them loses them to a live consumer after ClaimTimeout.
func TestRedisCrashedConsumer(t *testing.T) {
	r, prefix := newTestRedis(t, RedisOptions{})
	topic := prefix + "topic"
	c := r.client
	do(t, c, c.B().XgroupCreate().Key(topic).Group("g").Id("$").Mkstream().Build())
	publish(t, r, topic, "a", "b", "c")
	read, err := c.Do(bg, c.B().Xreadgroup().Group("g", "dead").Count(10).Streams().Key(topic).Id(">").Build()).AsXRead()
	if err != nil || len(read[topic]) != 3 {
		t.Fatalf("crashed consumer read %v, %v", read, err)
	}

	rec := newRecorder(0)
	subscribe(t, r, topic, SubscribeOptions{Group: "g", Consumer: "live"}, rec.handle)
	eventually(t, "claimed messages", func() bool { return len(rec.data()) == 3 })
	if got := rec.data(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("live consumer got %v", got)
	}
	eventually(t, "nothing pending", func() bool {
		summary, err := c.Do(bg, c.B().Xpending().Key(topic).Group("g").Build()).ToArray()
		if err != nil || len(summary) == 0 {
			t.Fatalf("xpending = %v, %v", summary, err)
		}
		count, err := summary[0].AsInt64()
		return err == nil && count == 0
	})
}

// TestRedisCleanup: ephemeral groups of crashed processes are destroyed and
// idle consumers with nothing pending leave durable groups.
func TestRedisCleanup(t *testing.T) {
	r, prefix := newTestRedis(t, RedisOptions{EphemeralIdle: 200 * time.Millisecond, CleanupInterval: 50 * time.Millisecond})
	topic := prefix + "topic"
	c := r.client
	for _, g := range []string{EphemeralPrefix + "dead", EphemeralPrefix + "empty", "durable"} {
		do(t, c, c.B().XgroupCreate().Key(topic).Group(g).Id("$").Mkstream().Build())
	}
	publish(t, r, topic, "m")
	do(t, c, c.B().Xreadgroup().Group(EphemeralPrefix+"dead", "x").Count(1).Streams().Key(topic).Id(">").Build())
	do(t, c, c.B().XgroupCreateconsumer().Key(topic).Group("durable").Consumer("old").Build())
	do(t, c, c.B().Xreadgroup().Group("durable", "busy").Count(1).Streams().Key(topic).Id(">").Build())
	if got := redisConsumers(t, r, topic, EphemeralPrefix+"dead"); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("consumers of the dead group = %v", got)
	}
	time.Sleep(250 * time.Millisecond)

	rec := newRecorder(0)
	subscribe(t, r, topic, SubscribeOptions{Group: "live"}, rec.handle)
	eventually(t, "ephemeral groups removed", func() bool {
		return slices.Equal(redisGroups(t, r, topic), []string{"durable", "live"})
	})
	// "busy" still holds a message, so it stays until another takes it.
	eventually(t, "idle consumer removed", func() bool {
		return slices.Equal(redisConsumers(t, r, topic, "durable"), []string{"busy"})
	})
}

// TestRedisGroupRecreated: a subscription whose group vanished (flushed,
// destroyed) creates it again and keeps going.
func TestRedisGroupRecreated(t *testing.T) {
	r, prefix := newTestRedis(t, RedisOptions{})
	topic := prefix + "topic"
	rec := newRecorder(0)
	subscribe(t, r, topic, SubscribeOptions{Group: "g"}, rec.handle)
	waitReady(t, r, topic, rec)
	do(t, r.client, r.client.B().Del().Key(topic).Build())
	eventually(t, "group recreated", func() bool { return slices.Equal(redisGroups(t, r, topic), []string{"g"}) })
	publish(t, r, topic, "m")
	eventually(t, "message", func() bool { return slices.Equal(rec.data(), []string{"m"}) })
}

// TestRedisSharedEphemeralGroup: an ephemeral group shared by two
// subscriptions lives until the last one ends.
func TestRedisSharedEphemeralGroup(t *testing.T) {
	r, prefix := newTestRedis(t, RedisOptions{})
	topic := prefix + "topic"
	a, b := newRecorder(0), newRecorder(0)
	stopA := subscribe(t, r, topic, SubscribeOptions{Group: "e", Ephemeral: true, Consumer: "a"}, a.handle)
	stopB := subscribe(t, r, topic, SubscribeOptions{Group: "e", Ephemeral: true, Consumer: "b"}, b.handle)
	waitReady(t, r, topic, a, b)
	stopA()
	if got := redisGroups(t, r, topic); !slices.Equal(got, []string{EphemeralPrefix + "e"}) {
		t.Errorf("groups after first left = %v", got)
	}
	stopB()
	if got := redisGroups(t, r, topic); len(got) != 0 {
		t.Errorf("groups after last left = %v", got)
	}
}
