// Package sigma is Rampart's Sigma rule engine: it loads Sigma rules
// (detection, filter and correlation documents, spec v2.1) from YAML files,
// compiles them once into an indexed matcher (logsource routing, then
// per-field matchers with precomputed lower-case patterns), and runs them
// as the "sigma" detector. Per event, one Aho-Corasick pass per needed
// field finds every literal the rules test on it (ac.go, atoms.go): the
// rules none of whose required literals occur are skipped and the literal
// matchers answer from that table. The differential test (diff_test.go)
// holds the result equal to a slow reference path and to a golden file.
//
// Every rule either compiles with each modifier and condition honoured or
// fails to load with file:line and a reason; nothing is silently degraded.
// Field names are resolved through the mapping in fields.go so that
// SigmaHQ's Windows, Linux, web, proxy and Zeek rules run unchanged on
// events that follow docs/fields.md.
package sigma
