package ioc

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gaissmai/bart"
)

// maxKeptErrors bounds the bad-line records kept in Stats (all are counted).
const maxKeptErrors = 100

// maxReasons bounds distinct unsupported-pattern reasons (the rest go to "other").
const maxReasons = 200

// Stats describes what the last successful load read.
type Stats struct {
	Files int
	// Indicators counts loaded indicators by type.
	Indicators map[Type]int
	// Duplicates counts indicators listed twice in the same list.
	Duplicates int
	// Revoked counts STIX indicators skipped because they are revoked.
	Revoked int
	// BadLines counts bad lines and bad STIX objects; Errors keeps the first
	// of them with file:line.
	BadLines int
	Errors   []LineError
	// Unsupported counts STIX patterns (or OR branches of them) outside the
	// supported subset, by reason.
	Unsupported map[string]int
}

// Total is the number of loaded indicators.
func (s Stats) Total() int {
	n := 0
	for _, c := range s.Indicators {
		n += c
	}
	return n
}

// tables are the immutable lookup structures of one load.
type tables struct {
	ips     *bart.Table[[]*Indicator]
	domains map[string][]*Indicator
	urls    map[string][]*Indicator
	hashes  map[string][]*Indicator
	seen    map[string]struct{} // dedup keys, dropped after load
	stats   Stats
	max     int
}

func newTables(max int) *tables {
	return &tables{
		ips:     new(bart.Table[[]*Indicator]),
		domains: map[string][]*Indicator{},
		urls:    map[string][]*Indicator{},
		hashes:  map[string][]*Indicator{},
		seen:    map[string]struct{}{},
		stats:   Stats{Indicators: map[Type]int{}, Unsupported: map[string]int{}},
		max:     max,
	}
}

var errTooMany = errors.New("too many indicators")

func (t *tables) add(ind *Indicator) error {
	key := ind.Source + "\x00" + string(ind.Type) + "\x00" + ind.Value
	for _, a := range ind.AllOf {
		key += "\x00" + a.Value
	}
	if _, dup := t.seen[key]; dup {
		t.stats.Duplicates++
		return nil
	}
	if t.stats.Total() >= t.max {
		return fmt.Errorf("%w: limit %d", errTooMany, t.max)
	}
	t.seen[key] = struct{}{}
	switch ind.Type {
	case TypeIP:
		cur, _ := t.ips.Get(ind.Prefix)
		t.ips.Insert(ind.Prefix, append(cur, ind))
	case TypeDomain:
		t.domains[ind.Value] = append(t.domains[ind.Value], ind)
	case TypeURL:
		t.urls[ind.Value] = append(t.urls[ind.Value], ind)
	default:
		t.hashes[ind.Value] = append(t.hashes[ind.Value], ind)
	}
	t.stats.Indicators[ind.Type]++
	return nil
}

func (t *tables) badLine(file string, line int, err error) {
	t.stats.BadLines++
	if len(t.stats.Errors) < maxKeptErrors {
		t.stats.Errors = append(t.stats.Errors, LineError{File: file, Line: line, Err: err.Error()})
	}
}

func (t *tables) unsupported(reason string) {
	if _, ok := t.stats.Unsupported[reason]; !ok && len(t.stats.Unsupported) >= maxReasons {
		reason = "other"
	}
	t.stats.Unsupported[reason]++
}

// listExts are the extensions loaded from folders.
var listExts = map[string]bool{".txt": true, ".list": true, ".ioc": true, ".csv": true, ".json": true, ".stix": true}

// load builds fresh tables from the configured lists.
func load(opts Options) (*tables, error) {
	t := newTables(opts.MaxIndicators)
	for _, l := range opts.Lists {
		files, err := listFiles(l.Path)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := t.loadFile(l, f, opts); err != nil {
				return nil, err
			}
		}
	}
	t.seen = nil
	return t, nil
}

// listFiles expands a path into the files to load, sorted.
func listFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading indicator list: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != path && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && listExts[strings.ToLower(filepath.Ext(name))] {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking indicator folder %s: %w", path, err)
	}
	sort.Strings(files)
	return files, nil
}

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("file larger than %d bytes", max)
	}
	return data, nil
}

func (t *tables) loadFile(l ListConfig, path string, opts Options) error {
	data, err := readLimited(path, opts.MaxFileBytes)
	if err != nil {
		return fmt.Errorf("reading indicator file %s: %w", path, err)
	}
	t.stats.Files++
	sum := sha256.Sum256(data)
	version := hex.EncodeToString(sum[:6])
	name := l.Name
	if name == "" {
		base := filepath.Base(path)
		name = strings.TrimSuffix(base, filepath.Ext(base))
	}
	level := l.Level
	if level == "" {
		level = opts.DefaultLevel
	}
	format := l.Format
	if format == "" {
		format = sniffFormat(path, data)
	}
	var addErr error
	addTerm := func(pt parsedTerm) {
		if addErr != nil {
			return
		}
		addErr = t.add(&Indicator{Type: pt.Type, Value: pt.Value, Prefix: pt.Prefix, Original: pt.Raw,
			Source: name, Level: level, Version: version})
	}
	bad := func(line int, err error) { t.badLine(path, line, err) }
	switch format {
	case "plain":
		parsePlain(data, addTerm, bad)
	case "csv":
		if err := parseCSV(data, addTerm, bad); err != nil {
			return fmt.Errorf("loading indicator file %s: %w", path, err)
		}
	case "stix":
		err := parseSTIX(data, stixSink{
			add: func(si stixIndicator) {
				if addErr != nil {
					return
				}
				first := si.terms[0]
				labels := append(append([]string(nil), si.obj.Labels...), si.obj.IndicatorTypes...)
				addErr = t.add(&Indicator{Type: first.Type, Value: first.Value, Prefix: first.Prefix,
					Original: first.Raw, Source: name, Level: level, Version: version,
					STIXID: si.obj.ID, Name: si.obj.Name, Labels: labels, ValidUntil: si.until,
					AllOf: si.terms[1:]})
			},
			bad:         bad,
			unsupported: t.unsupported,
			revoked:     func() { t.stats.Revoked++ },
		})
		if err != nil {
			return fmt.Errorf("loading indicator file %s: %w", path, err)
		}
	default:
		return fmt.Errorf("loading indicator file %s: unknown format %q", path, format)
	}
	if addErr != nil {
		return fmt.Errorf("loading indicator file %s: %w", path, addErr)
	}
	return nil
}

// sniffFormat picks a format from the extension, then the first byte.
func sniffFormat(path string, data []byte) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv"
	case ".json", ".stix":
		return "stix"
	}
	if b := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n"); len(b) > 0 && b[0] == '{' {
		return "stix"
	}
	return "plain"
}

// prefixOf is the host prefix of an address.
func prefixOf(a netip.Addr) netip.Prefix { return netip.PrefixFrom(a, a.BitLen()) }
