package main

import "github.com/prefect-server/prefect-server/modules/logs"

// logs is core: in every build.
func init() { register("logs", logs.Module) }
