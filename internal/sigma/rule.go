package sigma

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Input limits: a rule file or document beyond these is refused rather than
// read into memory or compiled.
const (
	MaxFileSize      = 4 << 20 // bytes per rule file
	MaxDocsPerFile   = 1000
	MaxValuesPerItem = 10000 // values (after windash/base64offset expansion) per field item
	MaxRegexLen      = 4096  // bytes of one regular expression
	MaxConditionLen  = 8192
)

// Kind is the kind of a Sigma document.
type Kind string

// Document kinds.
const (
	KindDetection   Kind = "detection"
	KindFilter      Kind = "filter"
	KindCorrelation Kind = "correlation"
)

// Logsource is a rule's logsource section.
type Logsource struct {
	Product, Category, Service, Definition string
}

// Related is one entry of a rule's related list.
type Related struct {
	ID, Type string
}

// Meta is a rule's metadata, decoded into typed fields (dates stay strings).
type Meta struct {
	Kind           Kind
	ID             string
	Name           string
	Title          string
	Status         string
	Description    string
	Author         string
	Date           string
	Modified       string
	Level          string
	License        string
	References     []string
	Tags           []string
	FalsePositives []string
	Fields         []string
	Related        []Related
	Logsource      Logsource
	// Path and Line locate the document; Version is a content hash of it.
	Path    string
	Line    int
	Version string
}

// Doc is one YAML document of a rule file.
type Doc struct {
	Meta
	Node *yaml.Node // the document's mapping node
}

// PosError is an error at a position in a rule file.
type PosError struct {
	Path string
	Line int
	Msg  string
	raw  bool // Msg already starts with the line ("12: …")
}

func (e *PosError) Error() string {
	if e.raw {
		return e.Path + ":" + e.Msg
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

func posErr(path string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &PosError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// RuleFiles lists the .yml/.yaml files under paths (files are taken as
// given), sorted, without duplicates.
func RuleFiles(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading rules: %w", err)
		}
		if !st.IsDir() {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			ext := strings.ToLower(filepath.Ext(path))
			if (ext == ".yml" || ext == ".yaml") && !seen[path] {
				seen[path] = true
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("walking rules %s: %w", p, err)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadFile parses every YAML document of one rule file. A document that
// cannot be read is reported in errs (with file:line) and the others are
// still returned. A file-level error (unreadable, too large, bad YAML
// stream) is returned as one error in errs with no docs.
func ReadFile(path string) (docs []*Doc, errs []error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []error{&PosError{Path: path, Msg: "opening: " + err.Error()}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, []error{&PosError{Path: path, Msg: "reading: " + err.Error()}}
	}
	if len(data) > MaxFileSize {
		return nil, []error{&PosError{Path: path, Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}}
	}
	return ParseDocs(path, data)
}

// ParseDocs parses the YAML documents in data (see ReadFile).
func ParseDocs(path string, data []byte) (docs []*Doc, errs []error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	for i := 0; ; i++ {
		if i >= MaxDocsPerFile {
			errs = append(errs, &PosError{Path: path, Msg: fmt.Sprintf("more than %d documents", MaxDocsPerFile)})
			return docs, errs
		}
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, errs
		}
		if err != nil {
			// A YAML syntax error ends the stream: the decoder cannot resync.
			errs = append(errs, &PosError{Path: path, Msg: "yaml: " + strings.TrimPrefix(err.Error(), "yaml: ")})
			return docs, errs
		}
		if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
			continue
		}
		root := n.Content[0]
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // empty document ("---" at the end of a file)
		}
		d, err := newDoc(path, root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, d)
	}
}

func newDoc(path string, root *yaml.Node) (*Doc, error) {
	if root.Kind != yaml.MappingNode {
		return nil, posErr(path, root, "document is not a mapping")
	}
	d := &Doc{Node: root}
	d.Path, d.Line = path, root.Line
	if err := checkDupKeys(path, root, 0); err != nil {
		return nil, err
	}
	out, err := yaml.Marshal(root)
	if err == nil {
		sum := sha256.Sum256(out)
		d.Version = hex.EncodeToString(sum[:8])
	}
	switch {
	case mapGet(root, "action") != nil:
		return nil, posErr(path, mapGet(root, "action"), "rule collections with action (global/reset/repeat) are not supported")
	case mapGet(root, "correlation") != nil:
		d.Kind = KindCorrelation
	case mapGet(root, "filter") != nil && mapGet(root, "detection") == nil:
		d.Kind = KindFilter
	case mapGet(root, "detection") != nil:
		d.Kind = KindDetection
	default:
		return nil, posErr(path, root, "document has no detection, filter or correlation section")
	}
	if err := decodeMeta(path, root, &d.Meta); err != nil {
		return nil, err
	}
	return d, nil
}

// checkDupKeys refuses duplicate mapping keys: YAML forbids them and a
// silently overridden selection would change a rule's meaning.
func checkDupKeys(path string, n *yaml.Node, depth int) error {
	if depth > 64 {
		return posErr(path, n, "nesting deeper than 64")
	}
	if n.Kind == yaml.MappingNode {
		seen := make(map[string]bool, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if seen[k] {
				return posErr(path, n.Content[i], "duplicate key %q", k)
			}
			seen[k] = true
		}
	}
	for _, c := range n.Content {
		if err := checkDupKeys(path, c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func decodeMeta(path string, root *yaml.Node, m *Meta) error {
	var err error
	str := func(key string) string {
		n := mapGet(root, key)
		if n == nil || err != nil {
			return ""
		}
		if n.Kind != yaml.ScalarNode {
			err = posErr(path, n, "%s must be a scalar", key)
			return ""
		}
		if n.Tag == "!!null" {
			return ""
		}
		return n.Value
	}
	list := func(key string) []string {
		n := mapGet(root, key)
		if n == nil || err != nil {
			return nil
		}
		switch n.Kind {
		case yaml.ScalarNode:
			if n.Tag == "!!null" {
				return nil
			}
			return []string{n.Value}
		case yaml.SequenceNode:
			out := make([]string, 0, len(n.Content))
			for _, c := range n.Content {
				if c.Kind != yaml.ScalarNode {
					err = posErr(path, c, "%s entries must be scalars", key)
					return nil
				}
				out = append(out, c.Value)
			}
			return out
		}
		err = posErr(path, n, "%s must be a list", key)
		return nil
	}
	m.ID, m.Name, m.Title, m.Status = str("id"), str("name"), str("title"), str("status")
	m.Description, m.Date, m.Modified = str("description"), str("date"), str("modified")
	m.Level, m.License = strings.ToLower(str("level")), str("license")
	if a := mapGet(root, "author"); a != nil && a.Kind == yaml.SequenceNode {
		m.Author = strings.Join(list("author"), ", ")
	} else {
		m.Author = str("author")
	}
	m.References, m.Tags, m.FalsePositives, m.Fields = list("references"), list("tags"), list("falsepositives"), list("fields")
	if err != nil {
		return err
	}
	if m.Title == "" {
		return posErr(path, root, "missing title")
	}
	if rel := mapGet(root, "related"); rel != nil {
		if rel.Kind != yaml.SequenceNode {
			return posErr(path, rel, "related must be a list")
		}
		for _, r := range rel.Content {
			if r.Kind != yaml.MappingNode {
				return posErr(path, r, "related entries must be mappings")
			}
			m.Related = append(m.Related, Related{ID: scalar(mapGet(r, "id")), Type: scalar(mapGet(r, "type"))})
		}
	}
	if ls := mapGet(root, "logsource"); ls != nil {
		if ls.Kind != yaml.MappingNode {
			return posErr(path, ls, "logsource must be a mapping")
		}
		m.Logsource = Logsource{
			Product:    strings.ToLower(scalar(mapGet(ls, "product"))),
			Category:   strings.ToLower(scalar(mapGet(ls, "category"))),
			Service:    strings.ToLower(scalar(mapGet(ls, "service"))),
			Definition: scalar(mapGet(ls, "definition")),
		}
	} else if m.Kind == KindDetection {
		return posErr(path, root, "missing logsource")
	}
	switch m.Level {
	case "", "informational", "low", "medium", "high", "critical":
	default:
		return posErr(path, mapGet(root, "level"), "unknown level %q", m.Level)
	}
	return nil
}

// mapGet returns the value node of key in mapping n, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return ""
	}
	return n.Value
}
