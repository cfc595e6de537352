# shellcheck shell=bash
# Runs in the context copy: what git cannot keep (modes, empty dirs).
mkdir -p dir/empty
chmod 0600 b.txt
