// Package rules embeds Rampart's bundled rules: Sigma starter rules written
// for Rampart (sigma/), threshold rules (threshold/) and an example
// indicator list (ioc/). They are what runs when no rules are configured.
package rules

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed sigma threshold ioc
var bundled embed.FS

// FS returns the bundled rules.
func FS() fs.FS { return bundled }

// Extract writes the bundled rules under dir (dir/sigma, dir/threshold, dir/ioc).
func Extract(dir string) error {
	return fs.WalkDir(bundled, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := bundled.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return fmt.Errorf("extracting bundled rule %s: %w", p, err)
		}
		return nil
	})
}
