// Package redisx builds the Redis client shared by the Redis broker, cache and
// lease storage from the server's Redis settings.
package redisx

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/rueidis"
)

// Default connection parts, used when Options leaves them empty.
const (
	DefaultHost = "localhost"
	DefaultPort = 6379
)

// Options says where Redis is. A non-empty URL (redis://user:pass@host:port/db
// or rediss:// for TLS) wins over the separate parts.
type Options struct {
	URL      string
	Host     string
	Port     int
	DB       int
	Username string
	Password string
	SSL      bool
}

// NewClient connects to Redis. The caller owns the client and must Close it.
func NewClient(o Options) (rueidis.Client, error) {
	opt, err := ClientOption(o)
	if err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("connect to redis at %s: %w", strings.Join(opt.InitAddress, ","), err)
	}
	return c, nil
}

// ClientOption turns o into rueidis options without connecting.
func ClientOption(o Options) (rueidis.ClientOption, error) {
	var opt rueidis.ClientOption
	if o.URL != "" {
		var err error
		if opt, err = rueidis.ParseURL(o.URL); err != nil {
			return opt, fmt.Errorf("parse redis URL: %w", redact(err))
		}
	} else {
		host := o.Host
		if host == "" {
			host = DefaultHost
		}
		port := o.Port
		if port == 0 {
			port = DefaultPort
		}
		opt.InitAddress = []string{net.JoinHostPort(host, strconv.Itoa(port))}
		opt.Username = o.Username
		opt.Password = o.Password
		opt.SelectDB = o.DB
		if o.SSL {
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	// Client-side caching is not used, and disabling it keeps servers
	// without CLIENT TRACKING (RESP2-only, some managed services) working.
	opt.DisableCache = true
	return opt, nil
}

// redact drops the URL (which may hold a password) from a url.Parse error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
