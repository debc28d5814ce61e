// Package all links every record format into a binary. Import it for its
// side effects from main packages and tests only (never from a library
// package); each format sits in its own file behind a no_format_<name>
// build tag so a build can leave it out.
package all
