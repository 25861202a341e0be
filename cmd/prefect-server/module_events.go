package main

import "github.com/prefect-server/prefect-server/modules/events"

// events is core: in every build.
func init() { register("events", events.Module) }
