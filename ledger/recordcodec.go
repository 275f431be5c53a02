package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/gavel/gavel/decision"
)

// On SQLite the decisions table holds each record as zstd-compressed JSON.
// A record is mostly its input document, signals, detector statuses and
// reasons with their catalog texts: about 8.6 KB of JSON for a decision
// with six detectors, which SQLite spreads over two overflow pages besides
// the row's own, every one of them written to the WAL at the COMMIT and
// read back by replay. Compressed it is about 2.2 KB. PostgreSQL stores
// json (and compresses large values itself), so records there stay JSON:
// json, not jsonb, whose conversion to its binary form was the largest
// cost of a decision's INSERT (migration 0025).
//
// Records are told apart by their first bytes: a zstd frame starts with its
// magic number, JSON with '{'. Ledgers written before compression, and
// those opened with SQLitePlainRecords, read the same.

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var (
	// One encoder per core: records are encoded by the goroutines
	// committing them (Commit), not by the one writer.
	recordEncoder = mustZstd(zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true)))
	recordDecoder = mustZstd(zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(64<<20)))
)

func mustZstd[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("zstd: %v", err)) // fixed, valid options
	}
	return v
}

// encodeRecord returns the value stored in decisions.record for st. The JSON
// is what json.Marshal gives (the input document last: recordJSON),
// written into a pooled buffer that packRecord
// copies from (compressed, or as a string): a record is kilobytes, and a
// slice of its own per decision was a twentieth of what a decision with
// detectors allocates.
func (l *Ledger) encodeRecord(st *decision.Record) (any, error) {
	buf := recordBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledRecord {
			recordBuffers.Put(buf)
		}
	}()
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(recordJSON{Record: st}); err != nil {
		return nil, err
	}
	if err := writeRecordInput(buf, st.Input); err != nil {
		return nil, err
	}
	return l.packRecord(buf.Bytes()), nil
}

var recordBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledRecord bounds the buffers kept: one rare huge record (evidence
// near its limits) is not held on to.
const maxPooledRecord = 256 << 10

// packRecord returns the value stored in decisions.record for the JSON
// body of a record; it keeps no reference to body.
func (l *Ledger) packRecord(body []byte) any {
	if l.d.name != SQLite || l.cfg.SQLitePlainRecords {
		return string(body)
	}
	return recordEncoder.EncodeAll(body, make([]byte, 0, len(body)/3))
}

// unpackRecord returns the JSON of a stored record.
func unpackRecord(stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, zstdMagic) {
		return stored, nil
	}
	body, err := recordDecoder.DecodeAll(stored, nil)
	if err != nil {
		return nil, fmt.Errorf("decompress stored record: %w", err)
	}
	return body, nil
}
