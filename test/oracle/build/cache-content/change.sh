# shellcheck shell=bash
# The content of b.txt changes: its COPY and what follows re-run.
echo changed > b.txt
