package main

import "github.com/prefect-server/prefect-server/modules/concurrency"

// concurrency is core: in every build (tagged tasks and flows call it).
func init() { register("concurrency", concurrency.Module) }
