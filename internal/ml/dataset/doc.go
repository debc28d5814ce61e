// Package dataset reads the labeled public data sets Rampart's ML layer is
// evaluated and trained on, in the folder layouts of /work/shared/data:
// NSL-KDD connection records, the HttpParamsDataset payload CSV, HDFS
// (DeepLog) sessions of log keys and Loghub-2k raw logs with their ground
// truth. It also holds the NSL-KDD featuriser and model fit, so the eval
// suites (internal/eval/...) and the model registry (internal/modelreg)
// share one implementation and therefore produce the same artifacts.
//
// Every reader takes a row limit: a file with more rows is refused with an
// error, never cut short. Bad input gives an error naming the file and line.
package dataset
