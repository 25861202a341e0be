package main

import "github.com/prefect-server/prefect-server/modules/admin"

// admin is core: in every build.
func init() { register("admin", admin.Module) }
