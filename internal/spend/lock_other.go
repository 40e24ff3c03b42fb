//go:build !unix

package spend

import "os"

func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(dir+"/LOCK", os.O_CREATE|os.O_RDWR, 0o600)
}

func syncDir(string) error { return nil }
