package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSystemReset: `system reset -f` leaves nothing of a root on the host —
// no container, mount, bridge, veth, nftables table, iptables chain or
// FORWARD jump, and no state directory — while the prompt without -f
// refuses unless answered yes.
func TestSystemReset(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	e.MustRun("run", "-d", "-p", "127.0.0.1::80", img, "sleep", "300")
	e.MustRun("network", "create", "resetnet")
	e.MustRun("run", "-d", "--network", "resetnet", "--name", "on-user-net", img, "sleep", "300")
	e.MustRun("create", "-v", "data:/data", img, "true")
	bridges := rootBridges(e)
	if len(bridges) != 2 {
		t.Fatalf("bridges before reset: %v", bridges)
	}
	tag := rootTag(e.Root)

	if r := e.RunStdin("n\n", "system", "reset"); r.Code != 0 || !strings.Contains(r.Stdout, "Are you sure") {
		t.Fatalf("reset answered no: %s", r)
	}
	if r := e.MustRun("ps", "-q"); len(strings.Fields(r.Stdout)) != 2 {
		t.Fatalf("answering no removed containers: %s", r)
	}

	e.MustRun("system", "reset", "-f")
	if _, err := os.Stat(e.Root); !os.IsNotExist(err) {
		t.Errorf("root %s still exists: %v", e.Root, err)
	}
	if m := mountsUnder(e.Root); len(m) > 0 {
		t.Errorf("mounts left: %v", m)
	}
	for _, b := range bridges {
		if exec.Command("ip", "link", "show", b).Run() == nil {
			t.Errorf("bridge %s left", b)
		}
	}
	if out, _ := exec.Command("ip", "-o", "link", "show", "type", "veth").Output(); strings.Contains(string(out), "master "+bridges[0]) || strings.Contains(string(out), "master "+bridges[1]) {
		t.Errorf("veths left on the root's bridges:\n%s", out)
	}
	if exec.Command("nft", "list", "table", "ip", "berth-"+tag).Run() == nil {
		t.Errorf("nftables table berth-%s left", tag)
	}
	if out, _ := exec.Command("iptables", "-w", "-S").Output(); strings.Contains(string(out), "BERTH-"+tag) {
		t.Errorf("iptables chains of the root left:\n%s", out)
	}
	// The root is usable again afterwards.
	e.MustRun("images")
}
