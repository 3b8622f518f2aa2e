//go:build !linux

package redistest

import "os/exec"

func serverCmd(bin string, args ...string) *exec.Cmd { return exec.Command(bin, args...) }
