package main

import "github.com/prefect-server/prefect-server/modules/runs"

// runs is core: in every build.
func init() { register("runs", runs.Module) }
