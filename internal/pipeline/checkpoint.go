package pipeline

import "context"

// Checkpointer makes stateful detectors' state and the inputs' offsets
// durable together (aligned checkpoints), so after a crash the state
// restored and the records read again meet exactly: no record is counted
// twice into a bucket or a baseline, and none is skipped.
//
// Every Options.CheckpointEvery, and when the pipeline closes, the detect
// goroutine calls Capture between two records, so the captured state
// covers exactly the records before that point. The writer, which commits
// records in order as their batches are stored, calls Complete when it
// reaches that point: the inputs' committed positions are then those of
// exactly the records before it, and Complete records them with the state.
// A restart resumes inputs from the checkpoint's positions (records after
// them are read again and stored idempotently) with its state. Only inputs
// that can be rewound take part (internal/app: file offsets); records of
// the others (syslog, HTTP, NATS acknowledged on commit) are not re-read.
type Checkpointer interface {
	// Capture saves the detectors' state; the detect goroutine calls it
	// between records, so nothing changes the state meanwhile.
	Capture() (Checkpoint, error)
}

// Checkpoint is a captured state waiting for its records to be stored.
type Checkpoint interface {
	// Complete makes the state durable with the offsets the inputs have
	// committed (those of exactly the records before the capture).
	Complete(ctx context.Context) error
	// Abort discards the state: a record before it could not be stored, so
	// its offsets cannot pass that record and would not match the state.
	Abort()
}
