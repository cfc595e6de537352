# shellcheck shell=bash
# Only the mtime changes: every step is still a cache hit.
touch -d '2001-01-01 00:00:00' a.txt b.txt
