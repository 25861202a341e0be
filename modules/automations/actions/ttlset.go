package actions

import (
	"sync"
	"time"
)

// ttlSet remembers keys for a while, at most size of them (oldest out
// first), as Prefect's TTLCache of recent actions.
type ttlSet struct {
	ttl  time.Duration
	size int

	mu    sync.Mutex
	at    map[string]time.Time
	order []string
}

func newTTLSet(ttl time.Duration, size int) *ttlSet {
	return &ttlSet{ttl: ttl, size: size, at: map[string]time.Time{}}
}

func (s *ttlSet) add(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(time.Now())
	if _, ok := s.at[key]; !ok {
		s.order = append(s.order, key)
	}
	s.at[key] = time.Now()
}

func (s *ttlSet) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.at[key]
	return ok && time.Since(t) <= s.ttl
}

// expire drops keys past the TTL or beyond the size, oldest first.
func (s *ttlSet) expire(now time.Time) {
	drop := 0
	for drop < len(s.order) && (len(s.order)-drop >= s.size || now.Sub(s.at[s.order[drop]]) > s.ttl) {
		delete(s.at, s.order[drop])
		drop++
	}
	s.order = s.order[drop:]
}
