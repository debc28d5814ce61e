package sqlite

import (
	"testing"

	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

// BenchmarkFieldsCodec compares the chunk's binary fields with
// store.EncodeFields' JSON on real Windows events.
func BenchmarkFieldsCodec(b *testing.B) {
	evs := storetest.RealEvents(b, 2000)
	bin := make([][]byte, len(evs))
	js := make([][]byte, len(evs))
	for i, ev := range evs {
		bin[i], _ = appendFields(nil, ev.Fields)
		js[i], _ = store.EncodeFields(ev.Fields)
	}
	b.Run("encode/binary", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf, _ = appendFields(buf[:0], evs[i%len(evs)].Fields)
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			buf, _ = store.AppendFields(buf[:0], evs[i%len(evs)].Fields)
		}
	})
	b.Run("decode/binary", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := decodeFields(bin[i%len(bin)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := store.DecodeFields(js[i%len(js)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
