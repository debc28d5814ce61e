package main

// Evaluation suites register themselves with internal/eval.
import (
	_ "github.com/rampart-ids/rampart/internal/eval/adversarial"
	_ "github.com/rampart-ids/rampart/internal/eval/evtxeval"
	_ "github.com/rampart-ids/rampart/internal/eval/mleval"
	_ "github.com/rampart-ids/rampart/internal/eval/sigmaeval"
)
