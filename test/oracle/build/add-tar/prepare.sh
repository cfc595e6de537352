# shellcheck shell=bash
# Archives built here so their bytes are the same on every recording.
mkdir -p src/inner && echo one > src/one.txt && echo two > src/inner/two.txt && chmod 0640 src/one.txt
ln -s one.txt src/link
tar --create --sort=name --mtime=@1704067200 --owner=1000 --group=1000 --numeric-owner -C src -f archive.tar .
gzip -n -c archive.tar > archive.tar.gz
rm -rf src
