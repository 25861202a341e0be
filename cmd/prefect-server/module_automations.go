//go:build !slim || automations

package main

import "github.com/prefect-server/prefect-server/modules/automations"

// automations is optional: left out of slim builds unless tagged in.
func init() { register("automations", automations.Module) }
