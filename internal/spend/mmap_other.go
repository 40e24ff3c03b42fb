//go:build !linux

package spend

import (
	"errors"
	"os"
)

var errNoMmap = errors.New("mapped journal segments are implemented on Linux only")

func mapSegment(*os.File, int64) ([]byte, error)   { return nil, errNoMmap }
func syncMapped([]byte, int64, int64, int64) error { return errNoMmap }
func unmapSegment([]byte) error                    { return nil }
func prefault([]byte)                              {}
