// Package modelreg is Rampart's on-disk model registry: a folder (by
// default <data_dir>/models) of versioned model artifacts in the ml/model
// format, one sub-folder per model name, and a small index file recording
// which version of each name is active. Loading always verifies the
// artifact's hash (ml/model.Decode) and that the file is the name and
// version its path says, so a swapped or edited file is refused with the
// reason. A newly trained version becomes active only when none is (or on
// request): later versions wait beside the active one as challengers for
// promotion (issue 4).
//
// Layout:
//
//	<dir>/index.json            {"active":{"payload":"2",...}}
//	<dir>/<name>/<version>.model
//
// A Registry is safe for use by one process at a time; writes go through a
// temporary file and a rename so a crash never leaves half a model.
package modelreg

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/model"
)

// IndexFile is the name of the index inside the registry folder.
const IndexFile = "index.json"

// maxIndexBytes bounds the index file.
const maxIndexBytes = 1 << 20

// ErrNotFound means no such model or version (or no active version).
var ErrNotFound = errors.New("model not found")

// validName restricts names and versions to what is safe as a path element.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Registry is a models folder.
type Registry struct {
	dir string
}

// Open returns the registry in dir. The folder is created by the first
// Save, so reading commands on a fresh node leave no trace.
func Open(dir string) (*Registry, error) {
	if dir == "" {
		return nil, errors.New("opening model registry: empty folder")
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("opening model registry: %s is not a folder", dir)
	}
	return &Registry{dir: dir}, nil
}

// Dir is the registry folder.
func (r *Registry) Dir() string { return r.dir }

// DefaultDir is the registry folder under a data folder.
func DefaultDir(dataDir string) string { return filepath.Join(dataDir, "models") }

type index struct {
	Active map[string]string `json:"active"`
}

func (r *Registry) readIndex() (index, error) {
	ix := index{Active: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(r.dir, IndexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return ix, nil
	}
	if err != nil {
		return ix, fmt.Errorf("reading model index: %w", err)
	}
	if len(data) > maxIndexBytes {
		return ix, fmt.Errorf("reading model index: larger than %d bytes", maxIndexBytes)
	}
	if err := json.Unmarshal(data, &ix); err != nil {
		return ix, fmt.Errorf("reading model index %s: %w", filepath.Join(r.dir, IndexFile), err)
	}
	if ix.Active == nil {
		ix.Active = map[string]string{}
	}
	return ix, nil
}

func (r *Registry) writeIndex(ix index) error {
	data, err := json.MarshalIndent(ix, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding model index: %w", err)
	}
	return writeAtomic(filepath.Join(r.dir, IndexFile), append(data, '\n'))
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// CheckName reports whether s is a valid model name or version.
func CheckName(what, s string) error {
	if !validName.MatchString(s) {
		return fmt.Errorf("invalid model %s %q (want lower-case letters, digits, '.', '_', '-'; at most 64)", what, s)
	}
	return nil
}

// NextVersion returns the version a new artifact of name should carry:
// one more than the highest numeric version present ("1" for the first).
func (r *Registry) NextVersion(name string) (string, error) {
	if err := CheckName("name", name); err != nil {
		return "", err
	}
	vs, err := r.versions(name)
	if err != nil {
		return "", err
	}
	hi := 0
	for _, v := range vs {
		if n, err := strconv.Atoi(v); err == nil && n > hi {
			hi = n
		}
	}
	return strconv.Itoa(hi + 1), nil
}

func (r *Registry) versions(name string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(r.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing model %s: %w", name, err)
	}
	var out []string
	for _, e := range ents {
		if v, ok := strings.CutSuffix(e.Name(), ".model"); ok && !e.IsDir() {
			out = append(out, v)
		}
	}
	sortVersions(out)
	return out, nil
}

// sortVersions orders numeric versions numerically, then the rest by text.
func sortVersions(vs []string) {
	sort.Slice(vs, func(i, j int) bool {
		a, ea := strconv.Atoi(vs[i])
		b, eb := strconv.Atoi(vs[j])
		switch {
		case ea == nil && eb == nil:
			return a < b
		case ea == nil:
			return true
		case eb == nil:
			return false
		}
		return vs[i] < vs[j]
	})
}

func (r *Registry) path(name, version string) string {
	return filepath.Join(r.dir, name, version+".model")
}

// Save writes a as <name>/<version>.model. It refuses to overwrite an
// existing version (versions are immutable). When the name has no active
// version, or activate is true, a becomes the active version. It returns
// the file path and whether a was activated.
func (r *Registry) Save(a *model.Artifact, activate bool) (string, bool, error) {
	name, version := a.Body.Name, a.Body.Version
	if err := CheckName("name", name); err != nil {
		return "", false, err
	}
	if err := CheckName("version", version); err != nil {
		return "", false, err
	}
	data, err := a.Encode()
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Join(r.dir, name), 0o750); err != nil {
		return "", false, fmt.Errorf("saving model %s: %w", name, err)
	}
	p := r.path(name, version)
	if _, err := os.Stat(p); err == nil {
		return "", false, fmt.Errorf("saving model %s@%s: version exists (versions are immutable)", name, version)
	}
	if err := writeAtomic(p, data); err != nil {
		return "", false, err
	}
	ix, err := r.readIndex()
	if err != nil {
		return p, false, err
	}
	if _, has := ix.Active[name]; has && !activate {
		return p, false, nil
	}
	ix.Active[name] = version
	return p, true, r.writeIndex(ix)
}

// Activate makes version the active version of name, after verifying it loads.
func (r *Registry) Activate(name, version string) error {
	if _, err := r.Load(name, version); err != nil {
		return err
	}
	ix, err := r.readIndex()
	if err != nil {
		return err
	}
	ix.Active[name] = version
	return r.writeIndex(ix)
}

// Active returns the active version of name.
func (r *Registry) Active(name string) (string, error) {
	ix, err := r.readIndex()
	if err != nil {
		return "", err
	}
	v, ok := ix.Active[name]
	if !ok {
		return "", fmt.Errorf("model %s has no active version in %s: %w", name, r.dir, ErrNotFound)
	}
	return v, nil
}

// ParseRef splits "NAME[@VERSION]".
func ParseRef(ref string) (name, version string, err error) {
	name, version, _ = strings.Cut(ref, "@")
	if err := CheckName("name", name); err != nil {
		return "", "", err
	}
	if version != "" {
		if err := CheckName("version", version); err != nil {
			return "", "", err
		}
	}
	return name, version, nil
}

// Load reads and verifies name@version ("" for the active version). It
// refuses a file whose hash does not verify, or whose body names another
// model or version than its path, and says why.
func (r *Registry) Load(name, version string) (*model.Artifact, error) {
	if err := CheckName("name", name); err != nil {
		return nil, err
	}
	if version == "" {
		v, err := r.Active(name)
		if err != nil {
			return nil, err
		}
		version = v
	}
	if err := CheckName("version", version); err != nil {
		return nil, err
	}
	p := r.path(name, version)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("model %s@%s: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("opening model %s@%s: %w", name, version, err)
	}
	defer f.Close()
	a, err := model.Load(f)
	if err != nil {
		return nil, fmt.Errorf("refusing model file %s: %w", p, err)
	}
	if a.Body.Name != name || a.Body.Version != version {
		return nil, fmt.Errorf("refusing model file %s: it holds %s@%s, not %s@%s", p, a.Body.Name, a.Body.Version, name, version)
	}
	return a, nil
}

// Entry is one model version in a listing.
type Entry struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Active  bool      `json:"active"`
	Kind    string    `json:"kind,omitempty"`
	Hash    string    `json:"hash,omitempty"`
	Created time.Time `json:"created,omitzero"`
	Bytes   int64     `json:"bytes"`
	// Error is why the file failed verification ("" when it verified).
	Error string `json:"error,omitempty"`
}

// List returns every version of every model, each verified, sorted by name
// then version. A file that fails verification is listed with its error.
func (r *Registry) List() ([]Entry, error) {
	ix, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(r.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing models: %w", err)
	}
	var out []Entry
	for _, e := range ents {
		if !e.IsDir() || CheckName("name", e.Name()) != nil {
			continue
		}
		vs, err := r.versions(e.Name())
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			en := Entry{Name: e.Name(), Version: v, Active: ix.Active[e.Name()] == v}
			if st, err := os.Stat(r.path(e.Name(), v)); err == nil {
				en.Bytes = st.Size()
			}
			a, err := r.Load(e.Name(), v)
			if err != nil {
				en.Error = err.Error()
			} else {
				en.Kind, en.Hash, en.Created = a.Body.Kind, a.Hash, a.Body.Created
			}
			out = append(out, en)
		}
	}
	return out, nil
}
