// Package imagearchive owns the image archive formats of `save` and `load`:
// Docker's docker-archive (manifest.json, and the old <id>/layer.tar form
// with `repositories`) and the OCI image layout (oci-layout, index.json,
// blobs/), plain or compressed.
//
// Save writes one archive that every consumer reads, the format Docker 25+
// writes: an OCI image layout whose index.json names each tag
// (io.containerd.image.name, org.opencontainers.image.ref.name) plus
// Docker's manifest.json and legacy `repositories`, whose paths point into
// blobs/. Docker 20.10 loads it through manifest.json, skopeo reads it as
// oci-archive and as docker-archive, containerd imports it. The bytes are a
// function of the images and names only (fixed tar headers, sorted
// entries, stored manifests verbatim), so saving twice gives the same file.
//
// Load reads any of those flavours from a stream, once, without a temp
// copy: every file of the archive goes either into memory (metadata, up to
// a budget) or into an uncommitted content-store ingest, hashed as it
// streams. Nothing becomes visible until the archive has been read to its
// end and every blob checked against the digest its name or descriptor
// claims; then blobs are committed under an image.Lease, layers unpacked
// (which checks every DiffID against the config) and the images
// registered. A hostile or broken archive (paths or links leaving the
// archive, truncated, oversized, digest mismatches, dangling references)
// fails with an error naming what and where; a kill -9 leaves only stale
// ingests and unreferenced blobs/snapshots, which Cleanup and GC remove.
//
// The package never extracts archive files to the host filesystem (layer
// contents are unpacked only by the snapshot store's confined Apply), never
// resolves image names on its own (the engine passes images and names in),
// and never prints: callers format what Load returns.
package imagearchive
