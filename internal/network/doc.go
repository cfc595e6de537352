// Package network owns berth's container networking: network records, IP
// leases, the Linux bridges, veth pairs and network namespaces, the NAT and
// filter rules, published-port sockets and the managed /etc/hosts entries.
//
// # State on disk
//
//   - root.Networks()/<id>.json: one record per network (config + the
//     endpoints, i.e. leases, of running containers), written atomically
//     (temp + rename) under one flock (root.Locks()/network.lock). Every
//     mutation is read-modify-write under that lock, so concurrent `run`s in
//     different processes never hand out the same address.
//   - root.Run/netns/<container id>: the container's network namespace, a
//     bind mount of nsfs made before the runtime starts the container (the
//     spec joins it). Being under Run, a reboot wipes it with the links.
//
// # Kernel objects and names
//
// The default network `bridge` uses device berth0 for the default root and
// "berth" + 8 hex digits of sha256(root.Lib) for any other --root, so test
// roots never collide; user networks use "br-" + 12 hex digits of their ID.
// Host-side veths are "bv" + 12 hex digits derived from container and
// network IDs. Rules live in berth's own nftables table (`ip berth` or
// `ip berth-<hash>` per root) and, for filtering, in iptables chains BERTH /
// BERTH-<hash> (+ -IN, -OUT) reached by one jump from filter FORWARD.
//
// # Firewall layout and coexistence
//
// NAT (masquerade per network, DNAT per published port) is in berth's own
// nftables table, programmed in-process over netlink (google/nftables): a
// per-container DNAT is one batch of rules tagged with the container ID in
// their user data, removed by tag. Filtering cannot be: when dockerd runs it
// sets filter FORWARD's policy to DROP and loads br_netfilter, and an accept
// in another nftables table does not override a drop elsewhere. So berth's
// accepts live in iptables chains of the filter table (the `iptables`
// binary, so legacy and nft backends both work, as Docker's do) reached by a
// jump inserted into FORWARD, like Docker's DOCKER-USER. These chains are
// programmed once per network (create or first use), never per container,
// and berth never flushes or reorders chains it does not own. A reboot (or
// an admin's flush) wipes the rules: the next use re-creates them when the
// bridge or berth's nft table is missing.
//
// # Name resolution: managed /etc/hosts
//
// berth has no daemon that could host an embedded DNS server for the life
// of every container, and a per-container resolver process would cost
// memory and start time. Each container's /etc/hosts is a bind-mounted file
// under CONTAINERS/<id>/hosts; when a container joins or leaves a user
// network, the hosts files of every container on it are rewritten IN PLACE
// (truncate + write: the bind mount pins the inode, a rename would be
// invisible inside) under the network lock, so names, aliases and short IDs
// resolve whatever the start order, and after restarts. The managed entries
// follow a marker line; everything above it (localhost, --add-host) is kept.
//
// # What this package must never do
//
// Exec `ip` or `nft`; flush, delete or reorder rules, chains or tables it
// did not create; start containers or touch container records (the engine
// passes what it needs in options).
package network
