package events

import (
	"errors"
	"fmt"
	"sync"

	"github.com/redis/rueidis"

	"github.com/prefect-server/prefect-server/platform/config"
)

// Orderings gives each consumer the causal ordering of its scope (Prefect
// names the triggers' one "triggers"). The events module provides it through
// fx, in memory or in Redis as PREFECT_SERVER_EVENTS_CAUSAL_ORDERING says.
type Orderings interface {
	For(scope string) CausalOrdering
}

const envCausalOrdering = "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING"

// newOrderings picks the implementation from the config. A Redis setting
// without a Redis client is an error, never a fall-back to memory: the
// processes would silently stop sharing their state.
func newOrderings(ev config.Events, rc rueidis.Client) (Orderings, error) {
	switch ev.CausalOrdering {
	case config.KindMemory, "":
		return &memoryOrderings{byScope: map[string]CausalOrdering{}}, nil
	case config.KindRedis:
		if rc == nil {
			return nil, fmt.Errorf("%s: the Redis causal ordering needs a Redis connection: %w", envCausalOrdering, errNoRedis)
		}
		return redisOrderings{client: rc}, nil
	default:
		return nil, fmt.Errorf("%s: unknown causal ordering %q", envCausalOrdering, ev.CausalOrdering)
	}
}

var errNoRedis = errors.New("no Redis client")

// memoryOrderings keeps one ordering per scope for the process, as Prefect's
// memory CausalOrdering is a singleton per scope.
type memoryOrderings struct {
	mu      sync.Mutex
	byScope map[string]CausalOrdering
}

func (m *memoryOrderings) For(scope string) CausalOrdering {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.byScope[scope]
	if !ok {
		o = NewMemoryOrdering(OrderingOptions{})
		m.byScope[scope] = o
	}
	return o
}

type redisOrderings struct{ client rueidis.Client }

func (r redisOrderings) For(scope string) CausalOrdering {
	return NewRedisOrdering(r.client, scope, OrderingOptions{})
}
