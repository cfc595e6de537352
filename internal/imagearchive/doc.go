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
// copy. A layer whose place in an image is known when it arrives
// (manifest.json and the config came first, as Save writes them) goes
// at the same time into its blob and its snapshot (image.IngestLayer),
// committed only once its digest and DiffID check out. Every other file
// goes into memory (metadata, up to a budget) or into an uncommitted
// content-store ingest, hashed as it streams, and is committed only after
// the whole archive was read and checked against the digests its name or
// descriptor claims; then layers are unpacked (checking each DiffID
// against the config). No image is registered before every image of the
// archive passed every check. A hostile or broken archive (paths or links
// leaving the archive, truncated, oversized, digest mismatches, dangling
// references) fails with an error naming what and where; the blobs and
// snapshots it had stored are on the load's lease only, so the engine's GC
// right after the failure, or after a kill -9 the next GC and content
// Cleanup, removes them: no image, tag or record ever appears.
//
// The package never extracts archive files to the host filesystem (layer
// contents are unpacked only by the snapshot store's confined Apply), never
// resolves image names on its own (the engine passes images and names in),
// and never prints: callers format what Load returns.
package imagearchive
