package archive

import (
	"fmt"
	"strconv"
)

// maxQuoted is how much of a tar entry name an error message shows.
const maxQuoted = 160

// QuoteName quotes a name read from a tar for an error message, cut short
// when long: a hostile archive's 64 KiB name must not become a 64 KiB error
// line, and its start and end are what tell the user which entry it was.
func QuoteName(name string) string {
	if len(name) <= maxQuoted {
		return strconv.Quote(name)
	}
	half := maxQuoted / 2
	return fmt.Sprintf("%s...%s (%d bytes)", strconv.Quote(name[:half]), strconv.Quote(name[len(name)-half:]), len(name))
}
