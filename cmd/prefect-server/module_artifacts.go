//go:build !slim || artifacts

package main

import "github.com/prefect-server/prefect-server/modules/artifacts"

// artifacts is optional: left out of slim builds unless tagged in.
func init() { register("artifacts", artifacts.Module) }
