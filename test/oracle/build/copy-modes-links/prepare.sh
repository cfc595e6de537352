# shellcheck shell=bash
# Modes, symlinks and hard links git cannot keep.
printf '#!/bin/sh\necho run\n' > exec.sh && chmod 0755 exec.sh
echo secret > private.txt && chmod 0600 private.txt
echo setuid > setuid.bin && chmod 4755 setuid.bin
mkdir -p dirs/private && chmod 0700 dirs/private && echo p > dirs/private/p.txt
mkdir -p dirs/sticky && chmod 1777 dirs/sticky
ln -s a.txt link-to-a
ln -s /etc/passwd abs-link
ln -s nowhere dangling
ln -s dirs dir-link
echo hard > hard1 && ln hard1 hard2
