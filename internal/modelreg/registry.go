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
// Every saved artifact is signed (ed25519, ml/model signing) with the
// active key of a key directory kept outside the models folder and the
// database, by default <dir>/../keys/models (so <data_dir>/keys/models),
// created with a first key on the first Save (private keys 0600). Load
// refuses an unsigned artifact, one signed by a key the directory does not
// hold, or one whose signature does not verify, and says which. Rotation
// (RotateKey) keeps old public keys, so models signed before it still load.
//
// Layout:
//
//	<dir>/index.json            {"active":{"payload":"2",...}}
//	<dir>/<name>/<version>.model
//	<dir>/<name>/<version>.model.sig
//	<keys>/<id>.key, <id>.pub, active
//
// A Registry is safe for use by one process at a time; writes go through a
// temporary file and a rename so a crash never leaves half a model.
package modelreg

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// maxSigBytes bounds a .sig file (ml/model bounds it again when decoding).
const maxSigBytes = 64 << 10

// Registry is a models folder and the key directory that signs its models.
type Registry struct {
	dir     string
	keyDir  string
	auditor Auditor // optional: decisions also go to the audit log
}

// Open returns the registry in dir with its keys in DefaultKeyDir(dir).
// The folders are created by the first Save, so reading commands on a
// fresh node leave no trace.
func Open(dir string) (*Registry, error) { return OpenKeys(dir, "") }

// OpenKeys is Open with the signing key directory given ("" for
// DefaultKeyDir(dir)).
func OpenKeys(dir, keyDir string) (*Registry, error) {
	if dir == "" {
		return nil, errors.New("opening model registry: empty folder")
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("opening model registry: %s is not a folder", dir)
	}
	if keyDir == "" {
		keyDir = DefaultKeyDir(dir)
	}
	return &Registry{dir: dir, keyDir: keyDir}, nil
}

// DefaultKeyDir is the signing key directory of a models folder: beside
// it, not inside it, so copying or replacing the models folder does not
// carry the keys along (<data_dir>/models → <data_dir>/keys/models).
func DefaultKeyDir(modelsDir string) string {
	return filepath.Join(filepath.Dir(filepath.Clean(modelsDir)), "keys", "models")
}

// Dir is the registry folder.
func (r *Registry) Dir() string { return r.dir }

// KeyDir is the signing key directory.
func (r *Registry) KeyDir() string { return r.keyDir }

// signer opens the key directory, creating it with a first key if needed.
func (r *Registry) signer() (*model.KeyRing, error) {
	kr, err := model.InitKeyRing(r.keyDir, rand.Reader, time.Now())
	if err != nil {
		return nil, fmt.Errorf("model signing keys in %s: %w", r.keyDir, err)
	}
	return kr, nil
}

// Keys opens the key directory for reading (it is not created).
func (r *Registry) Keys() (*model.KeyRing, error) {
	kr, err := model.OpenKeyRing(r.keyDir)
	if err != nil {
		return nil, fmt.Errorf("model signing keys: %w", err)
	}
	return kr, nil
}

// RotateKey makes a new active signing key (creating the key directory if
// needed) and returns its id. Old public keys stay, so models they signed
// still load; new Saves use the new key.
func (r *Registry) RotateKey() (string, error) {
	if _, err := os.Stat(filepath.Join(r.keyDir, "active")); errors.Is(err, fs.ErrNotExist) {
		// A first key is created, not rotated into.
		kr, err := r.signer()
		if err != nil {
			return "", err
		}
		return kr.ActiveKeyID(), nil
	}
	kr, err := r.signer()
	if err != nil {
		return "", err
	}
	id, err := kr.Rotate(rand.Reader, time.Now())
	if err != nil {
		return "", fmt.Errorf("rotating model signing key in %s: %w", r.keyDir, err)
	}
	return id, nil
}

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

// names are the model folders' names, sorted; none when the registry
// folder does not exist yet. The error is not wrapped.
func (r *Registry) names() ([]string, error) {
	ents, err := os.ReadDir(r.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() && CheckName("name", e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
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
	p := r.path(name, version)
	if _, err := os.Stat(p); err == nil {
		return "", false, fmt.Errorf("saving model %s@%s: version exists (versions are immutable)", name, version)
	}
	kr, err := r.signer()
	if err != nil {
		return "", false, err
	}
	sig, err := kr.Sign(a)
	if err != nil {
		return "", false, err
	}
	sb, err := sig.Encode()
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Join(r.dir, name), 0o750); err != nil {
		return "", false, fmt.Errorf("saving model %s: %w", name, err)
	}
	// Signature first: a crash in between leaves a stray .sig (overwritten
	// by the next Save of that version), never an unsigned model.
	if err := writeAtomic(model.SigPath(p), sb); err != nil {
		return "", false, err
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
// refuses a file whose hash does not verify, whose body names another
// model or version than its path, or whose signature is missing, made by a
// key not in the key directory, or does not verify, and says why.
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
	a, _, err := r.load(name, version)
	return a, err
}

// load reads, verifies and returns name@version and the id of the key that
// signed it. Order of checks: hash, identity, signature, so the reason
// given is the most specific one.
func (r *Registry) load(name, version string) (*model.Artifact, string, error) {
	p := r.path(name, version)
	data, err := readLimited(p, model.MaxFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("model %s@%s: %w", name, version, ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("refusing model file %s: %w", p, err)
	}
	a, err := model.Decode(data)
	if err != nil {
		return nil, "", fmt.Errorf("refusing model file %s: %w", p, err)
	}
	if a.Body.Name != name || a.Body.Version != version {
		return nil, "", fmt.Errorf("refusing model file %s: it holds %s@%s, not %s@%s", p, a.Body.Name, a.Body.Version, name, version)
	}
	sp := model.SigPath(p)
	sb, err := readLimited(sp, maxSigBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("refusing model file %s: %w (no %s)", p, model.ErrUnsigned, filepath.Base(sp))
	}
	if err != nil {
		return nil, "", fmt.Errorf("refusing model file %s: %w", p, err)
	}
	sig, err := model.DecodeSignature(sb)
	if err != nil {
		return nil, "", fmt.Errorf("refusing model file %s: %w", p, err)
	}
	kr, err := model.OpenKeyRing(r.keyDir)
	if err != nil {
		return nil, "", fmt.Errorf("refusing model file %s: cannot verify its signature: %w", p, err)
	}
	if err := kr.Verify(a, sig); err != nil {
		return nil, "", fmt.Errorf("refusing model file %s: %w", p, err)
	}
	return a, sig.KeyID, nil
}

// readLimited reads path, refusing more than limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", path, limit)
	}
	return data, nil
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
	// KeyID is the signing key that verified the file.
	KeyID string `json:"key_id,omitempty"`
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
	names, err := r.names()
	if err != nil {
		return nil, fmt.Errorf("listing models: %w", err)
	}
	var out []Entry
	for _, name := range names {
		vs, err := r.versions(name)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			en := Entry{Name: name, Version: v, Active: ix.Active[name] == v}
			if st, err := os.Stat(r.path(name, v)); err == nil {
				en.Bytes = st.Size()
			}
			a, kid, err := r.load(name, v)
			if err != nil {
				en.Error = err.Error()
			} else {
				en.Kind, en.Hash, en.Created, en.KeyID = a.Body.Kind, a.Hash, a.Body.Created, kid
			}
			out = append(out, en)
		}
	}
	return out, nil
}
