# shellcheck shell=bash
# The mode of b.txt changes: steps before its COPY hit, it and later miss.
chmod 0600 b.txt
