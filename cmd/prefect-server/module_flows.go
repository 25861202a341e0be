package main

import "github.com/prefect-server/prefect-server/modules/flows"

// flows is core: in every build.
func init() { register("flows", flows.Module) }
