// Package ml holds what Rampart's machine-learning models share: the
// explanation every ML score carries (top contributing features or tokens,
// as structured fields and as one sentence a person reads). The algorithms
// live in subpackages (drain, seq, linear, iforest) and model artifacts in
// ml/model.
package ml
