package redisx

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestClientOption(t *testing.T) {
	type want struct {
		addr, user, pass string
		db               int
		tls              bool
	}
	tests := []struct {
		name string
		give Options
		want want
	}{
		{"defaults", Options{}, want{addr: "localhost:6379"}},
		{"parts", Options{Host: "redis.local", Port: 6380, DB: 2, Username: "u", Password: "p"},
			want{addr: "redis.local:6380", user: "u", pass: "p", db: 2}},
		{"ssl", Options{Host: "redis.local", SSL: true}, want{addr: "redis.local:6379", tls: true}},
		{"url wins", Options{URL: "redis://a:b@h:7000/3", Host: "ignored", Port: 1, DB: 9},
			want{addr: "h:7000", user: "a", pass: "b", db: 3}},
		{"rediss url", Options{URL: "rediss://h"}, want{addr: "h:6379", tls: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := ClientOption(tt.give)
			if err != nil {
				t.Fatal(err)
			}
			got := want{
				addr: strings.Join(opt.InitAddress, ","), user: opt.Username, pass: opt.Password,
				db: opt.SelectDB, tls: opt.TLSConfig != nil,
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !opt.DisableCache {
				t.Error("client-side caching should be off")
			}
		})
	}
}

func TestClientOptionTLSServerName(t *testing.T) {
	opt, err := ClientOption(Options{Host: "redis.local", SSL: true})
	if err != nil {
		t.Fatal(err)
	}
	if opt.TLSConfig.ServerName != "redis.local" || opt.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("tls config = %+v", opt.TLSConfig)
	}
}

func TestClientOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{"bad port", "redis://u:secret@host:notaport", "parse redis URL: invalid port"},
		{"bad scheme", "http://u:secret@host", "parse redis URL: redis: invalid URL scheme"},
		{"bad db", "redis://u:secret@host/x", "parse redis URL: redis: invalid database number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ClientOption(Options{URL: tt.give})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || strings.Contains(err.Error(), "secret") {
				t.Errorf("error = %v, want prefix %q and no password", err, tt.want)
			}
		})
	}
}

func TestNewClientUnreachable(t *testing.T) {
	_, err := NewClient(Options{Host: "127.0.0.1", Port: 1})
	if err == nil || !strings.HasPrefix(err.Error(), "connect to redis at 127.0.0.1:1: ") {
		t.Errorf("error = %v", err)
	}
}
