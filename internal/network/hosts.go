package network

import (
	"os"
	"sort"
	"strings"
)

const hostsMarker = "# berth: managed entries below\n"

// hostsBlock is what container id's /etc/hosts lists below the marker: its
// own addresses under its hostname and, on user-defined networks, every
// peer by name, aliases and short ID.
func hostsBlock(all []*Network, id string) string {
	var self, peers []string
	seen := map[string]bool{}
	for _, n := range all {
		me, ok := n.Endpoints[id]
		if !ok {
			continue
		}
		if me.Hostname != "" {
			self = append(self, me.IP+"\t"+me.Hostname)
		}
		if !n.IsUserDefined() {
			continue
		}
		ids := make([]string, 0, len(n.Endpoints))
		for pid := range n.Endpoints {
			ids = append(ids, pid)
		}
		sort.Strings(ids)
		for _, pid := range ids {
			if pid == id {
				continue
			}
			p := n.Endpoints[pid]
			var names []string
			for _, nm := range append(append([]string{p.Name}, p.Aliases...), short(pid)) {
				if nm != "" && !seen[nm] {
					seen[nm] = true
					names = append(names, nm)
				}
			}
			if len(names) > 0 {
				peers = append(peers, p.IP+"\t"+strings.Join(names, " "))
			}
		}
		// My own aliases resolve to me too.
		var mine []string
		for _, a := range me.Aliases {
			if !seen[a] {
				seen[a] = true
				mine = append(mine, a)
			}
		}
		if len(mine) > 0 {
			self = append(self, me.IP+"\t"+strings.Join(mine, " "))
		}
	}
	lines := append(self, peers...)
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// writeHosts replaces the managed part of path IN PLACE: the file is
// bind-mounted into the container, and a rename would leave the container
// looking at the old inode.
func writeHosts(path, block string) error {
	if path == "" {
		return nil
	}
	old, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // container removed meanwhile
		}
		return err
	}
	s := string(old)
	if i := strings.Index(s, hostsMarker); i >= 0 {
		s = s[:i]
	}
	if block != "" {
		s += hostsMarker + block
	}
	if s == string(old) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// refreshHosts rewrites the hosts file of every container on the networks
// netIDs (and of the containers extra, which may have just left them).
// Called with the lock held.
func refreshHosts(all []*Network, netIDs map[string]bool, extra map[string]string) {
	touched := map[string]string{} // container id → hosts path
	for id, path := range extra {
		touched[id] = path
	}
	for _, n := range all {
		if !netIDs[n.ID] {
			continue
		}
		for pid, ep := range n.Endpoints {
			touched[pid] = ep.HostsPath
		}
	}
	for pid, path := range touched {
		writeHosts(path, hostsBlock(all, pid))
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
