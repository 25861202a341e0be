package broker

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"
)

// EphemeralPrefix starts the name under which an ephemeral group is kept, so
// ephemeral and durable groups never share a name and groups left behind by a
// crashed process can be recognised and removed.
const EphemeralPrefix = "ephemeral-"

// errNoGroup is returned by Subscribe for a durable subscription without a group.
var errNoGroup = errors.New("a durable subscription needs a group name")

// normalize fills the defaults of opts and returns the group name the broker
// keeps: Group for durable groups, EphemeralPrefix+Group (or a random name when
// Group is empty) for ephemeral ones.
func normalize(opts SubscribeOptions) (SubscribeOptions, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 1
	}
	if opts.Consumer == "" {
		opts.Consumer = uuid.NewString()
	}
	switch {
	case opts.Ephemeral && opts.Group == "":
		opts.Group = EphemeralPrefix + uuid.NewString()
	case opts.Ephemeral:
		opts.Group = EphemeralPrefix + opts.Group
	case opts.Group == "":
		return opts, errNoGroup
	}
	return opts, nil
}

// lifetime ties subscriptions to a broker: close cancels every running
// Subscribe and waits for them to return, so do not Close a broker from inside
// one of its handlers.
type lifetime struct {
	mu     sync.Mutex
	closed bool
	ctx    context.Context
	cancel context.CancelFunc
	subs   sync.WaitGroup
}

func newLifetime() *lifetime {
	ctx, cancel := context.WithCancel(context.Background())
	return &lifetime{ctx: ctx, cancel: cancel}
}

// enter registers a subscription. The returned context ends with parent or
// with close; leave must be called when the subscription has returned.
func (l *lifetime) enter(parent context.Context) (ctx context.Context, leave func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, ErrClosed
	}
	l.subs.Add(1)
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(l.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
		l.subs.Done()
	}, nil
}

func (l *lifetime) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// close stops every subscription and waits for them; later calls do nothing.
func (l *lifetime) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.subs.Wait()
}
