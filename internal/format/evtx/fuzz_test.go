package evtx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/format"
)

// maxFuzzInput caps fuzz inputs (a few chunks).
const maxFuzzInput = 4 << 20

func addSeeds(f *testing.F, asChunk bool) {
	files, _ := filepath.Glob("testdata/*.evtx")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if asChunk && len(b) > fileHeaderSize {
			b = bytes.TrimRight(b[fileHeaderSize:], "\x00")
		}
		f.Add(b)
	}
	c := buildChunk(1, simpleEvent(4688, "cmd.exe /c whoami"), simpleEvent(1, "x"))
	if asChunk {
		f.Add(bytes.TrimRight(c, "\x00"))
	} else {
		f.Add(buildFile(c))
	}
}

// drain reads every record: it must end, never panic, and yield valid JSON
// or typed errors.
func drain(t *testing.T, data []byte) {
	r, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return
	}
	for i := 0; ; i++ {
		if i > 1<<20 {
			t.Fatal("reader does not end")
		}
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		var re *format.RecordError
		if errors.As(err, &re) {
			if re.Reason == "parser_panic" {
				t.Fatalf("parser panicked: %s", re.Detail)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %q", b)
		}
	}
}

// FuzzEvtx feeds whole files.
func FuzzEvtx(f *testing.F) {
	addSeeds(f, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip()
		}
		drain(t, data)
	})
}

// FuzzChunk feeds one chunk with valid checksums, so mutations reach the
// record and BinXML parsers instead of stopping at the chunk CRC.
func FuzzChunk(f *testing.F) {
	addSeeds(f, true)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > chunkSize {
			data = data[:chunkSize]
		}
		c := make([]byte, chunkSize)
		copy(c, data)
		copy(c, magicChunk)
		free := binary.LittleEndian.Uint32(c[48:])
		if free >= chunkHeaderSize && free <= chunkSize {
			binary.LittleEndian.PutUint32(c[52:], crc32.ChecksumIEEE(c[chunkHeaderSize:free]))
		}
		fixChunkCRC(c)
		drain(t, buildFile(c))
	})
}
