package network

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/nftables"
)

// Reset removes every kernel object and record of this root's networks —
// the default bridge included — and then berth's nftables table and
// iptables chains (with the jump from FORWARD): what `system reset` needs,
// since a root's bridges and rules would otherwise outlive its directory.
// Containers must be gone already. Rules berth did not create are never
// touched. Idempotent.
func (m *Manager) Reset() error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	all, err := m.loadAll()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range all {
		if len(n.Endpoints) > 0 {
			errs = append(errs, fmt.Errorf("network %s: still has %d endpoint(s)", n.Name, len(n.Endpoints)))
			continue
		}
		if err := m.destroy(n); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", n.Name, err))
		}
	}
	// The default bridge is also found by name: its record may be gone
	// (a root deleted by hand) while the device lives on.
	delLink(m.defaultBridge())
	if c, err := nftables.New(); err == nil && m.natTableExists() {
		c.DelTable(m.table())
		if err := c.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("delete nftables table %s: %w", m.nftTable(), err))
		}
	}
	base := m.chain()
	if iptables("-L", base, "-n") == nil {
		for iptables("-D", "FORWARD", "-j", base) == nil {
		}
		for _, ch := range []string{base, base + "-IN", base + "-OUT"} {
			iptables("-F", ch)
		}
		for _, ch := range []string{base, base + "-IN", base + "-OUT"} {
			if err := iptables("-X", ch); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.RemoveAll(m.dir()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
