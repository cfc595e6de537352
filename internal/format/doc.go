// Package format renders lists and objects the way docker/cli does: a
// --format value is a Go text/template; the "table" prefix turns it into
// aligned columns with a header row; "json" prints one JSON object per
// line; a list row's `{{json .}}` has its keys sorted, as docker's has.
//
// It owns no state and knows nothing of images or containers: callers pass
// rows as values with exported fields and a header map. It must never read
// or write anything but the writer it is given.
package format
