package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// MaxLineBytes bounds one line of a session or log file.
const MaxLineBytes = 4 << 20

// ReadSessions reads HDFS (DeepLog) sessions: one session per line, log
// keys separated by white space. Empty lines are sessions with no keys
// (kept: they are scored too). More than limit sessions is an error; an
// empty file gives no sessions and no error (callers decide).
func ReadSessions(path string, limit int) ([][]string, error) {
	var out [][]string
	err := scanLines(path, "sessions", func(l string) error {
		if len(out) >= limit {
			return fmt.Errorf("%s: more than %d sessions", path, limit)
		}
		out = append(out, strings.Fields(l))
		return nil
	})
	return out, err
}

// HDFSTrain is the training file of an HDFS (DeepLog) folder.
const HDFSTrain = "hdfs_train"

// HDFSFiles lists the held-out files of an HDFS (DeepLog) folder, by name
// and sorted: those whose name contains "abnormal", and the other ones
// containing "normal". HDFSTrain and sub-folders are not listed.
func HDFSFiles(dir string) (abnormal, normal []string, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading hdfs dir: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		switch {
		case e.IsDir() || n == HDFSTrain:
		case strings.Contains(n, "abnormal"):
			abnormal = append(abnormal, n)
		case strings.Contains(n, "normal"):
			normal = append(normal, n)
		}
	}
	sort.Strings(abnormal)
	sort.Strings(normal)
	return abnormal, normal, nil
}

// ReadLines reads a raw log file's lines, a trailing "\r" removed, empty
// lines kept (Loghub's ground truth numbers every line). More than limit
// lines is an error.
func ReadLines(path string, limit int) ([]string, error) {
	var out []string
	err := scanLines(path, "log", func(l string) error {
		if len(out) >= limit {
			return fmt.Errorf("%s: more than %d lines", path, limit)
		}
		out = append(out, strings.TrimRight(l, "\r"))
		return nil
	})
	return out, err
}

// ReadNonEmptyLines is ReadLines without the empty lines; limit counts
// the lines kept.
func ReadNonEmptyLines(path string, limit int) ([]string, error) {
	var out []string
	err := scanLines(path, "log", func(l string) error {
		if l = strings.TrimRight(l, "\r"); l == "" {
			return nil
		}
		if len(out) >= limit {
			return fmt.Errorf("%s: more than %d non-empty lines", path, limit)
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

func scanLines(path, what string, line func(string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", what, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	for sc.Scan() {
		if err := line(sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	return nil
}

// ReadLoghubTruth reads a Loghub *_structured.csv ground truth: the EventId
// and EventTemplate of every line, in order. More than limit rows, a short
// row or missing columns is an error.
func ReadLoghubTruth(path string, limit int) (ids, templates []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening ground truth: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("reading %s header: %w", path, err)
	}
	idCol, tplCol := -1, -1
	for i, h := range head {
		switch strings.TrimPrefix(h, "\ufeff") {
		case "EventId":
			idCol = i
		case "EventTemplate":
			tplCol = i
		}
	}
	if idCol < 0 || tplCol < 0 {
		return nil, nil, fmt.Errorf("%s: no EventId/EventTemplate columns", path)
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if len(rec) <= idCol || len(rec) <= tplCol {
			return nil, nil, fmt.Errorf("%s: short row %d", path, len(ids)+2)
		}
		if len(ids) >= limit {
			return nil, nil, fmt.Errorf("%s: more than %d rows", path, limit)
		}
		ids = append(ids, rec[idCol])
		templates = append(templates, rec[tplCol])
	}
	return ids, templates, nil
}
