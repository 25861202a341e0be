package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat; it is
// 100 on every Linux build this harness runs on.
const clockTicks = 100

var pageSize = int64(os.Getpagesize())

// procUsage is the summed RSS and CPU time of a process group: the Python
// server is `prefect server start` plus uvicorn and its children, so only the
// whole group is comparable with our single process.
type procUsage struct {
	RSSBytes int64
	CPU      time.Duration
}

// groupUsage reads /proc for every process whose process group is pgid.
func groupUsage(pgid int) procUsage {
	var u procUsage
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return u
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces; fields start after its ')'.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 22 {
			continue
		}
		// fields[0] is field 3 (state): pgrp is field 5, utime 14, stime 15, rss 24.
		if g, _ := strconv.Atoi(fields[2]); g != pgid && pid != pgid {
			continue
		}
		utime, _ := strconv.ParseInt(fields[11], 10, 64)
		stime, _ := strconv.ParseInt(fields[12], 10, 64)
		rss, _ := strconv.ParseInt(fields[21], 10, 64)
		u.CPU += time.Duration(utime+stime) * time.Second / clockTicks
		u.RSSBytes += rss * pageSize
	}
	return u
}

// sampler polls a process group's usage and keeps the peak RSS.
type sampler struct {
	pgid int
	mu   sync.Mutex
	peak int64
	last procUsage
	stop chan struct{}
	done chan struct{}
}

func startSampler(pgid int) *sampler {
	s := &sampler{pgid: pgid, stop: make(chan struct{}), done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() procUsage {
	u := groupUsage(s.pgid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.RSSBytes > 0 {
		s.last = u
	}
	s.peak = max(s.peak, u.RSSBytes)
	return u
}

// window starts a measurement: it resets the peak and returns a function
// that reports the peak RSS and the CPU time used since.
func (s *sampler) window() func() (peakRSS int64, cpu time.Duration) {
	s.mu.Lock()
	start := s.last
	s.peak = start.RSSBytes
	s.mu.Unlock()
	return func() (int64, time.Duration) {
		u := s.sample()
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.peak, u.CPU - start.CPU
	}
}

func (s *sampler) Stop() {
	close(s.stop)
	<-s.done
}
