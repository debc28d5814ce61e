// Package ioc matches events against indicator-of-compromise lists: IP
// addresses and CIDRs, domains (a listed domain also matches its
// subdomains), URLs and file hashes (MD5, SHA-1, SHA-256).
//
// # Sources
//
// Plain lists (".txt", ".list", ".ioc" or any file not recognised below):
// one indicator per line; blank lines and lines starting with '#' are
// skipped, and " #" after a value starts a trailing comment. A line may carry
// a type prefix ("ip:", "cidr:", "domain:", "url:", "md5:", "sha1:",
// "sha256:", "hash:" and a few common aliases); without one the type is
// detected from the value. Defanged values ("hxxp://", "example[.]com") are
// refanged.
//
// CSV lists (".csv"): the first row is a header naming a value column
// ("value", "indicator", "ioc" or "observable") and optionally a "type"
// column; rows without a type are auto-detected.
//
// STIX 2.1 bundles (".json", ".stix", or any file starting with '{'):
// objects of type "indicator" with pattern_type "stix" (or none). Revoked
// indicators are skipped; valid_until is honoured against the event time
// (an expired indicator does not match; events without a time are matched).
// valid_from is deliberately not enforced so that replays of old logs find
// indicators published later.
//
// # Supported STIX pattern subset
//
//   - Comparison expressions with '=' (and IN (...), read as OR of '='), on
//     ipv4-addr:value, ipv6-addr:value (a CIDR value is a prefix),
//     domain-name:value, url:value, and file:hashes.MD5 / 'SHA-1' / 'SHA-256'
//     (algorithm names are matched case-insensitively, with or without dash).
//   - ISSUBSET on ipv4-addr:value and ipv6-addr:value with a CIDR.
//   - OR between comparison expressions and between observation expressions
//     ("[a] OR [b]"), AND inside one observation expression when every term
//     names the same object type (an event must contain all the values),
//     parentheses.
//
// Everything else is counted per reason in Stats.Unsupported and skipped:
// other object paths, other operators (!=, MATCHES, LIKE, >, <, ...), NOT,
// AND/FOLLOWEDBY between observation expressions, qualifiers (WITHIN,
// REPEATS, START/STOP), non-string literals, and patterns of other
// pattern_types. In an OR, the supported branches are still loaded (each of
// them alone implies the pattern); an AND with an unsupported term is skipped
// whole.
//
// # Matching
//
// Fields read (docs/fields.md): source.ip, destination.ip, related.ip;
// dns.question.name, url.domain, tls.server.sni, destination.domain (an
// address in one of these is checked as an IP);
// url.original (with url.domain when it holds only a path); file.hash.*,
// process.hash.*, related.hash and winlog.event_data.Hashes
// ("SHA256=…,MD5=…"). URLs are compared without their scheme and fragment,
// with the host lower-cased. Each distinct (list, indicator) hit on an event
// becomes one signal: Detector "ioc", RuleID "ioc:<list name>", Level from
// the list (default high), Details with indicator, type, field, value,
// source and, for STIX, stix_id, stix_name, labels and valid_until.
//
// # Config
//
// Rule paths given to the detector (rules.ioc) are lists named after their
// files. The detector's own section may add lists with names and levels:
//
//	lists:
//	  - name: abuse-feed
//	    path: /etc/rampart/ioc/feed.csv
//	    level: medium
//	  - path: /etc/rampart/ioc/stix/     # every .json in the folder
//	level: high                          # default for lists without one
//
// Reload re-reads every list, builds new tables and swaps them in
// atomically; if any file fails to load the old tables stay.
package ioc
