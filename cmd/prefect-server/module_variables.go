//go:build !slim || variables

package main

import "github.com/prefect-server/prefect-server/modules/variables"

// variables is optional: left out of slim builds unless tagged in.
func init() { register("variables", variables.Module) }
