//go:build !slim || workpools || deployments

package main

import "github.com/prefect-server/prefect-server/modules/workpools"

// workpools is optional: left out of slim builds unless tagged in (or
// brought in by deployments, which resolves its queues through it).
func init() { register("workpools", workpools.Module) }
