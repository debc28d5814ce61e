// Package privacy replaces personal data in events with keyed pseudonyms
// before events reach model training, exports and lower-privileged views.
//
// Names (users, e-mail addresses, host names, configured identifiers) become
// truncated HMAC-SHA256 pseudonyms ("u_3f9a…"); addresses in the configured
// internal networks become prefix-preserving Crypto-PAn pseudonyms, so subnet
// structure and network features survive. Keys live outside the database
// (KeyStore) and come in epochs; Rotate starts a new epoch and returns a
// continuity table (old → new pseudonym) for every entity seen recently, so
// baselines can carry their state over instead of seeing every entity as new.
// A sealed (AES-GCM) mapping pseudonym → original allows re-identification
// through Reidentify, which checks the caller's role and audits every call.
// See docs/privacy.md.
package privacy
