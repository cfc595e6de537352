// Package registry moves images between berth's image store and OCI
// distribution registries: pull, push, login and logout, over
// go-containerregistry's transport (ping, basic and bearer-token auth) with
// berth's own blob transfer on top.
//
// It owns:
//   - the registry configuration file (/etc/berth/berth.json or $BERTH_CONFIG,
//     Docker daemon.json keys "registry-mirrors" and "insecure-registries");
//   - which hosts may be spoken to over plain HTTP (loopback, and configured
//     insecure registries: nothing else, whatever go-containerregistry's own
//     heuristics would allow);
//   - credentials in Docker's config.json ($DOCKER_CONFIG or ~/.docker), read
//     through go-containerregistry's keychain (credential helpers honoured) and
//     written by Login through docker/cli's configfile (mode 0600);
//   - the limits put on a registry (manifest.go, transport.go): manifests of
//     at most 4 MiB, configs of 64 MiB, 10 redirects, a body that must make
//     progress (16 KiB or its end in every timeout window), blobs read to
//     their descriptor's size and no further;
//   - the compressed-layer cache used by push: a small index, registry/
//     under the berth root, from a layer's DiffID to the gzip blob kept in the
//     content store, so a second push of a layer does not recompress it.
//
// It must never make a blob visible that was not verified (digest and size)
// against the manifest that named it, never record an image whose layers are
// not all unpacked (it calls image.Store.Register only at the very end, under a
// lease), and never talk plain HTTP to a registry that was not allowed it.
// It prints nothing itself: progress goes through internal/progress.
package registry
