// Package mleval registers the `rampart eval` suites of the ML layer:
// loghub (template mining), hdfs (sequence anomalies), http-params and
// nsl-kdd (supervised and unsupervised classifiers) and zeek-flows
// (unsupervised scan/probe scoring of flows, internal/ml/flow). Each suite reads DIR in the layout of its
// folder under ../shared/data, so the same command scores other data laid
// out the same way; labels are read only by the scorer.
package mleval
