//go:build !slim || deployments

package main

import "github.com/prefect-server/prefect-server/modules/deployments"

// deployments is optional: left out of slim builds unless tagged in (it
// brings workpools in, see module_workpools.go).
func init() { register("deployments", deployments.Module) }
