package e2e

// Networking: bridge + NAT, published ports, user networks with names,
// isolation, cleanup and coexistence with dockerd. Real traffic only on
// loopback, the host's own address and network namespaces these tests make.
//
// Every test root gets its own default bridge ("berth" + 8 hex digits of
// sha256(root)) and its own nft table and iptables chains, so tests may run
// side by side; netEnv removes all of them when the test ends.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// rootTag is what berth derives a root's kernel object names from.
func rootTag(root string) string {
	sum := sha256.Sum256([]byte(root))
	return hex.EncodeToString(sum[:4])
}

// netEnv is newEnv plus, when the test ends (before the leak check),
// removal of the root's containers and user networks through berth.
// Whatever kernel objects remain are removed by removeRootNetwork, which
// the leak check runs for every root.
func netEnv(t *testing.T) *Env {
	t.Helper()
	e := newEnv(t)
	t.Cleanup(func() {
		if ids := strings.Fields(e.Run("ps", "-aq").Stdout); len(ids) > 0 {
			e.Run(append([]string{"rm", "-f"}, ids...)...)
		}
		e.Run("network", "prune", "-f")
	})
	return e
}

// removeRootNetwork deletes the bridges, nft table and iptables chains
// berth made for e's root (the leak check calls it for every test root).
func removeRootNetwork(e *Env) {
	tag := rootTag(e.Root)
	for _, b := range rootBridges(e) {
		exec.Command("ip", "link", "del", b).Run()
	}
	exec.Command("ip", "link", "del", "berth"+tag).Run()
	exec.Command("nft", "delete", "table", "ip", "berth-"+tag).Run()
	chain := "BERTH-" + tag
	if exec.Command("iptables", "-w", "-n", "-L", chain).Run() != nil {
		return
	}
	for exec.Command("iptables", "-w", "-D", "FORWARD", "-j", chain).Run() == nil {
	}
	for _, c := range []string{chain, chain + "-IN", chain + "-OUT"} {
		exec.Command("iptables", "-w", "-F", c).Run()
	}
	for _, c := range []string{chain, chain + "-IN", chain + "-OUT"} {
		exec.Command("iptables", "-w", "-X", c).Run()
	}
}

type netRecord struct {
	ID        string // "Id" in the record
	Name      string
	Bridge    string
	Subnet    string
	Endpoints map[string]json.RawMessage
}

func netRecords(e *Env) []netRecord {
	files, _ := filepath.Glob(filepath.Join(e.Root, "networks", "*.json"))
	var out []netRecord
	for _, f := range files {
		var n netRecord
		if b, err := os.ReadFile(f); err == nil && json.Unmarshal(b, &n) == nil {
			out = append(out, n)
		}
	}
	return out
}

func rootBridges(e *Env) []string {
	var out []string
	for _, n := range netRecords(e) {
		out = append(out, n.Bridge)
	}
	return out
}

// netCounts counts what a root holds in the kernel and on disk: veths on
// its bridges, leases, DNAT rules and network namespaces.
type netCounts struct{ veths, leases, dnat, netns int }

func countNet(e *Env) netCounts {
	var c netCounts
	for _, n := range netRecords(e) {
		c.leases += len(n.Endpoints)
		out, _ := exec.Command("ip", "-o", "link", "show", "master", n.Bridge).Output()
		c.veths += strings.Count(string(out), "\n")
	}
	out, _ := exec.Command("nft", "list", "chain", "ip", "berth-"+rootTag(e.Root), "ports").Output()
	c.dnat = strings.Count(string(out), "dnat to")
	ents, _ := os.ReadDir(filepath.Join(e.Root, "run", "netns"))
	c.netns = len(ents)
	return c
}

// waitCounts waits until the root's network resources are want (veths die
// with their namespace, asynchronously in the kernel).
func waitCounts(e *Env, want netCounts) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := countNet(e)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("network resources: got %+v, want %+v", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := l.Addr().(*net.TCPAddr).Port
	u, err := net.ListenPacket("udp4", fmt.Sprintf("0.0.0.0:%d", p))
	if err != nil {
		return freePort(t)
	}
	u.Close()
	return p
}

// hostAddr is the host's first non-loopback IPv4 address.
func hostAddr(t *testing.T) string {
	t.Helper()
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			if out, _ := exec.Command("ip", "-o", "addr", "show", "to", ipn.IP.String()).Output(); strings.Contains(string(out), " br-") || strings.Contains(string(out), "berth") || strings.Contains(string(out), "docker") {
				continue
			}
			return ipn.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address")
	return ""
}

func httpGet(url string) (string, error) {
	out, err := exec.Command("curl", "-sS", "--max-time", "10", url).CombinedOutput()
	return string(out), err
}

// outside is a network namespace made by the test, reached from containers
// through the host's routing (FORWARD + masquerade): the "internet" of these
// tests. It serves HTTP on Addr:8080 with body "outside-ok".
type outside struct{ Addr string }

func newOutside(t *testing.T) outside {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	ns, host, peer := "bto-"+id, "btoh"+id, "btop"+id
	third := int(b[0])
	hostIP, nsIP := fmt.Sprintf("10.254.%d.1", third), fmt.Sprintf("10.254.%d.2", third)
	www := t.TempDir()
	os.WriteFile(filepath.Join(www, "index.html"), []byte("outside-ok\n"), 0o644)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	var httpd *exec.Cmd
	t.Cleanup(func() {
		if httpd != nil && httpd.Process != nil {
			httpd.Process.Kill()
			httpd.Wait()
		}
		exec.Command("ip", "link", "del", host).Run()
		exec.Command("ip", "netns", "del", ns).Run()
	})
	run("ip", "netns", "add", ns)
	run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	run("ip", "link", "set", peer, "netns", ns)
	run("ip", "addr", "add", hostIP+"/30", "dev", host)
	run("ip", "link", "set", host, "up")
	run("ip", "netns", "exec", ns, "ip", "addr", "add", nsIP+"/30", "dev", peer)
	run("ip", "netns", "exec", ns, "ip", "link", "set", peer, "up")
	run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	run("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", hostIP)
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox not installed on the host")
	}
	httpd = exec.Command("ip", "netns", "exec", ns, bb, "httpd", "-f", "-p", nsIP+":8080", "-h", www)
	if err := httpd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out, err := exec.Command("ip", "netns", "exec", ns, bb, "wget", "-qO-", "http://"+nsIP+":8080/").Output(); err == nil && strings.Contains(string(out), "outside-ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("outside httpd did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return outside{Addr: nsIP}
}

// udpAsk sends one datagram and returns the answer ("" on timeout).
func udpAsk(addr string) string {
	c, err := net.Dial("udp4", addr)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write([]byte("udp-ok"))
	buf := make([]byte, 100)
	n, _ := c.Read(buf)
	return string(buf[:n])
}

var udpEchoOnce struct {
	sync.Once
	path string
	err  error
}

// udpEcho builds test/e2e/udpecho statically (once) and returns its path.
func udpEcho(t *testing.T) string {
	t.Helper()
	udpEchoOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		bin := filepath.Join(the.fixtures, "udpecho")
		cmd := exec.Command(goBin, "build", "-trimpath", "-o", bin, "./test/e2e/udpecho")
		cmd.Dir = the.repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			udpEchoOnce.err = fmt.Errorf("build udpecho: %v\n%s", err, out)
			return
		}
		udpEchoOnce.path = bin
	})
	if udpEchoOnce.err != nil {
		t.Fatal(udpEchoOnce.err)
	}
	return udpEchoOnce.path
}

// webDir is a host directory served by busybox httpd in a container.
func webDir(t *testing.T, body string) string {
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "index.html"), []byte(body+"\n"), 0o644)
	return d
}

func TestNetworkDefaultBridgeOutbound(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	out := newOutside(t)
	r := e.MustRun("run", "--rm", img, "wget", "-qO-", "http://"+out.Addr+":8080/")
	if !strings.Contains(r.Stdout, "outside-ok") {
		t.Fatalf("outbound through NAT: %s", r)
	}
	// The default network is the bridge, with an address on eth0 and a
	// default route; inspect shows it Docker-shaped.
	r = e.MustRun("run", "--rm", img, "ip", "-o", "-4", "addr", "show", "eth0")
	if !strings.Contains(r.Stdout, "inet ") {
		t.Fatalf("no address on eth0: %s", r)
	}
	id := e.RunDetached(e.Name("insp"), img, "sleep", "60")
	ip := e.Inspect(id, "{{.NetworkSettings.IPAddress}}")
	gw := e.Inspect(id, "{{.NetworkSettings.Gateway}}")
	if net.ParseIP(ip) == nil || net.ParseIP(gw) == nil || e.Inspect(id, "{{.HostConfig.NetworkMode}}") != "bridge" {
		t.Fatalf("inspect: ip %q gw %q", ip, gw)
	}
	if e.Inspect(id, "{{.NetworkSettings.Networks.bridge.IPAddress}}") != ip {
		t.Fatal("Networks.bridge.IPAddress differs from IPAddress")
	}
	// The host reaches the container directly; a loopback-only service on
	// the gateway address is reachable from the container.
	e.MustRun("exec", id, "sh", "-c", "mkdir -p /w && echo direct-ok > /w/index.html && httpd -p 8081 -h /w")
	if body, err := httpGet("http://" + ip + ":8081/"); err != nil || !strings.Contains(body, "direct-ok") {
		t.Fatalf("host → container: %v %s", err, body)
	}
	ln, err := net.Listen("tcp4", gw+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("gateway-ok\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	r = e.MustRun("exec", id, "sh", "-c", fmt.Sprintf("nc %s %d </dev/null", gw, port))
	if !strings.Contains(r.Stdout, "gateway-ok") {
		t.Fatalf("container → gateway service: %s", r)
	}
	// --dns and --add-host land in the container's files.
	r = e.MustRun("run", "--rm", "--dns", "10.9.8.7", "--add-host", "myhost:10.1.2.3", img, "cat", "/etc/resolv.conf", "/etc/hosts")
	if !strings.Contains(r.Stdout, "nameserver 10.9.8.7") || !strings.Contains(r.Stdout, "10.1.2.3\tmyhost") {
		t.Fatalf("--dns/--add-host: %s", r)
	}
}

func TestNetworkNamespaceModes(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	r := e.MustRun("run", "--rm", "--network", "none", img, "ip", "-o", "link")
	if strings.Contains(r.Stdout, "eth0") {
		t.Fatalf("--network none has eth0: %s", r)
	}
	hostLinks, _ := exec.Command("ip", "-o", "link").Output()
	r = e.MustRun("run", "--rm", "--network", "host", img, "ip", "-o", "link")
	if strings.Count(r.Stdout, "\n") != strings.Count(string(hostLinks), "\n") {
		t.Logf("host links differ in count (racy with other tests): %s", r.Stdout)
	}
	id := e.RunDetached(e.Name("nsowner"), img, "sleep", "60")
	ip := e.Inspect(id, "{{.NetworkSettings.IPAddress}}")
	r = e.MustRun("run", "--rm", "--network", "container:"+id, img, "ip", "-o", "-4", "addr", "show", "eth0")
	if !strings.Contains(r.Stdout, ip+"/") {
		t.Fatalf("container:X does not share X's namespace (want %s): %s", ip, r)
	}
	// ... nor its /etc/hosts (X's hostname → X's address).
	r = e.MustRun("run", "--rm", "--network", "container:"+id, img, "cat", "/etc/hosts")
	if !strings.Contains(r.Stdout, ip+"\t"+id[:12]) {
		t.Fatalf("container:X does not see X's /etc/hosts: %s", r)
	}
	waitCounts(e, netCounts{veths: 1, leases: 1, netns: 1})
}

func TestNetworkPublish(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	hp, up := freePort(t), freePort(t)
	name := e.Name("web")
	id := e.RunDetached(name, "-p", fmt.Sprintf("%d:80", hp), "-p", fmt.Sprintf("%d:5000/udp", up),
		"-v", webDir(t, "published-ok")+":/www", "-v", udpEcho(t)+":/udpecho:ro", img,
		"sh", "-c", "httpd -p 80 -h /www; exec /udpecho 5000")
	e.Eventually("httpd answers on localhost", func() bool {
		b, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", hp))
		return err == nil && strings.Contains(b, "published-ok")
	})
	host := hostAddr(t)
	if b, err := httpGet(fmt.Sprintf("http://%s:%d/", host, hp)); err != nil || !strings.Contains(b, "published-ok") {
		t.Fatalf("host address %s:%d: %v %s", host, hp, err, b)
	}
	// UDP through DNAT, on localhost and the host's address.
	for _, addr := range []string{"127.0.0.1", host} {
		e.Eventually("udp echo via "+addr, func() bool { return udpAsk(fmt.Sprintf("%s:%d", addr, up)) == "echo:udp-ok" })
	}
	// ps PORTS and port, in Docker's formats.
	r := e.MustRun("ps", "--format", "{{.Ports}}", "--filter", "name="+name)
	want := fmt.Sprintf("0.0.0.0:%d->80/tcp, 0.0.0.0:%d->5000/udp", hp, up)
	if strings.TrimSpace(r.Stdout) != want {
		t.Fatalf("ps PORTS = %q, want %q", strings.TrimSpace(r.Stdout), want)
	}
	r = e.MustRun("port", name)
	wantPort := fmt.Sprintf("80/tcp -> 0.0.0.0:%d\n5000/udp -> 0.0.0.0:%d\n", hp, up)
	if r.Stdout != wantPort {
		t.Fatalf("port = %q, want %q", r.Stdout, wantPort)
	}
	if r := e.MustRun("port", name, "80"); strings.TrimSpace(r.Stdout) != fmt.Sprintf("0.0.0.0:%d", hp) {
		t.Fatalf("port NAME 80: %s", r)
	}
	if r := e.Run("port", name, "81"); r.Code == 0 || !strings.Contains(r.Stderr, "No public port '81/tcp' published") {
		t.Fatalf("port of an unpublished port: %s", r)
	}
	if got := e.Inspect(id, `{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}`); got != strconv.Itoa(hp) {
		t.Fatalf("inspect Ports 80/tcp HostPort = %q", got)
	}
	if got := e.Inspect(id, `{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}}`); got != strconv.Itoa(hp) {
		t.Fatalf("inspect PortBindings = %q", got)
	}
	// Hairpin: another container reaches the published port through the
	// host's addresses (gateway and host address).
	gw := e.Inspect(id, "{{.NetworkSettings.Gateway}}")
	for _, addr := range []string{gw, host} {
		r = e.MustRun("run", "--rm", img, "wget", "-qO-", fmt.Sprintf("http://%s:%d/", addr, hp))
		if !strings.Contains(r.Stdout, "published-ok") {
			t.Fatalf("hairpin via %s: %s", addr, r)
		}
	}
	// The container reaches its own published port too.
	r = e.MustRun("exec", id, "wget", "-qO-", fmt.Sprintf("http://%s:%d/", gw, hp))
	if !strings.Contains(r.Stdout, "published-ok") {
		t.Fatalf("self hairpin: %s", r)
	}
	// Bound to one address only.
	lp := freePort(t)
	e.RunDetached(e.Name("lo"), "-p", fmt.Sprintf("127.0.0.1:%d:80", lp), "-v", webDir(t, "lo-only")+":/www", img, "httpd", "-f", "-p", "80", "-h", "/www")
	e.Eventually("127.0.0.1-only port answers", func() bool {
		b, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", lp))
		return err == nil && strings.Contains(b, "lo-only")
	})
	if b, err := httpGet(fmt.Sprintf("http://%s:%d/", host, lp)); err == nil && strings.Contains(b, "lo-only") {
		t.Fatalf("127.0.0.1-bound port answered on %s", host)
	}
	e.MustRun("rm", "-f", id)
	waitCounts(e, netCounts{veths: 1, leases: 1, dnat: 1, netns: 1})
	if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", hp)); err == nil {
		t.Fatal("port still answers after rm")
	}
	// The port is free again: a program of the host can bind it.
	l, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", hp))
	if err != nil {
		t.Fatalf("port %d not released: %v", hp, err)
	}
	l.Close()
}

func TestNetworkPublishAllAndRanges(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	name := e.Name("pall")
	id := e.RunDetached(name, "-P", "--expose", "80", "--expose", "7000-7001/udp", "-v", webDir(t, "random-ok")+":/www", img, "httpd", "-f", "-p", "80", "-h", "/www")
	ports := e.MustRun("port", name).Stdout
	if strings.Count(ports, "\n") != 3 {
		t.Fatalf("-P with 3 exposed ports: %q", ports)
	}
	hp := strings.TrimSpace(e.MustRun("port", name, "80/tcp").Stdout)
	_, p, _ := strings.Cut(hp, ":")
	e.Eventually("random published port answers", func() bool {
		b, err := httpGet("http://127.0.0.1:" + p + "/")
		return err == nil && strings.Contains(b, "random-ok")
	})
	e.MustRun("rm", "-f", id)
	// A range maps one to one.
	a := freePort(t)
	b := a + 1
	if l, err := net.Listen("tcp4", fmt.Sprintf(":%d", b)); err != nil {
		t.Skipf("port %d busy", b)
	} else {
		l.Close()
	}
	name = e.Name("range")
	e.RunDetached(name, "-p", fmt.Sprintf("%d-%d:8000-8001", a, b), img, "sleep", "60")
	want := fmt.Sprintf("8000/tcp -> 0.0.0.0:%d\n8001/tcp -> 0.0.0.0:%d\n", a, b)
	if got := e.MustRun("port", name).Stdout; got != want {
		t.Fatalf("range: port = %q, want %q", got, want)
	}
}

func TestNetworkPortErrors(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	for _, tc := range []struct{ spec, msg string }{
		{"abc", "Invalid containerPort: abc"},
		{"70000:80", "Invalid hostPort: 70000"},
		{"80/sctpx", "Invalid proto: sctpx"},
		{"1.2.3:80:80", "Invalid ip address: 1.2.3"},
		{"8000-8002:80-81", "Invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
		{"", "No port specified: <empty>"},
	} {
		r := e.Run("run", "--rm", "-p", tc.spec, img, "true")
		if r.Code != 125 || !strings.Contains(r.Stderr, tc.msg) {
			t.Errorf("-p %q: want exit 125 and %q\n%s", tc.spec, tc.msg, r)
		}
	}
	if r := e.MustRun("ps", "-aq"); strings.TrimSpace(r.Stdout) != "" {
		t.Fatalf("invalid -p left containers: %s", r)
	}
	// A host port in use: clear error, nothing half set up.
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	busy := l.Addr().(*net.TCPAddr).Port
	before := countNet(e)
	r := e.Run("run", "-d", "-p", fmt.Sprintf("%d:80", busy), img, "sleep", "60")
	if r.Code == 0 || !strings.Contains(r.Stderr, fmt.Sprintf("Bind for 0.0.0.0:%d failed: port is already allocated", busy)) {
		t.Fatalf("port in use: %s", r)
	}
	waitCounts(e, before)
	// Two containers cannot publish the same port.
	p := freePort(t)
	e.RunDetached(e.Name("first"), "-p", fmt.Sprintf("%d:80", p), img, "sleep", "60")
	before = countNet(e)
	r = e.Run("run", "-d", "-p", fmt.Sprintf("%d:80", p), img, "sleep", "60")
	if r.Code == 0 || !strings.Contains(r.Stderr, "port is already allocated") {
		t.Fatalf("second publisher of %d: %s", p, r)
	}
	waitCounts(e, before)
}

func TestNetworkUserDefinedNames(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	netName := e.Name("appnet")
	e.MustRun("network", "create", netName)
	if r := e.MustRun("network", "ls", "--format", "{{.Name}} {{.Driver}}"); !strings.Contains(r.Stdout, netName+" bridge") || !strings.Contains(r.Stdout, "bridge bridge") ||
		!strings.Contains(r.Stdout, "host host") || !strings.Contains(r.Stdout, "none null") {
		t.Fatalf("network ls: %s", r)
	}
	// db first, then app: app resolves db by name, alias and short ID.
	db := e.Name("db")
	dbID := e.RunDetached(db, "--network", netName, "--network-alias", "cache", img, "sleep", "300")
	app := e.Name("app")
	e.RunDetached(app, "--network", netName, img, "sleep", "300")
	for _, host := range []string{db, "cache", dbID[:12]} {
		if r := e.Run("exec", app, "ping", "-c1", "-W2", host); r.Code != 0 {
			t.Fatalf("app → %s: %s", host, r)
		}
	}
	// The other order: db learns about app, which started after it.
	if r := e.Run("exec", db, "ping", "-c1", "-W2", app); r.Code != 0 {
		t.Fatalf("db → app (started later): %s", r)
	}
	// A restart of db keeps it resolvable (its address may change).
	e.MustRun("restart", "-t", "0", db)
	if r := e.Run("exec", app, "ping", "-c1", "-W2", db); r.Code != 0 {
		t.Fatalf("app → db after db's restart: %s", r)
	}
	if r := e.Run("exec", db, "ping", "-c1", "-W2", app); r.Code != 0 {
		t.Fatalf("db (restarted) → app: %s", r)
	}
	// network inspect lists both, Docker-shaped.
	var insp []struct {
		Name   string
		Driver string
		IPAM   struct {
			Config []struct{ Subnet, Gateway string }
		}
		Containers map[string]struct{ Name, IPv4Address string }
	}
	if err := json.Unmarshal([]byte(e.MustRun("network", "inspect", netName).Stdout), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("network inspect: %v", err)
	}
	if len(insp[0].Containers) != 2 || insp[0].Containers[dbID].Name != db || len(insp[0].IPAM.Config) != 1 {
		t.Fatalf("network inspect: %+v", insp[0])
	}
	// rm of a network in use is refused; after the containers go, it works.
	if r := e.Run("network", "rm", netName); r.Code == 0 || !strings.Contains(r.Stderr, "has active endpoints") {
		t.Fatalf("rm of a network in use: %s", r)
	}
	e.MustRun("rm", "-f", db, app)
	e.MustRun("network", "rm", netName)
	if r := e.Run("network", "inspect", netName); r.Code == 0 {
		t.Fatalf("network still there after rm: %s", r)
	}
}

func TestNetworkConnectDisconnect(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	n1, n2 := e.Name("n1"), e.Name("n2")
	e.MustRun("network", "create", n1)
	e.MustRun("network", "create", n2)
	a := e.Name("a")
	e.RunDetached(a, "--network", n1, img, "sleep", "300")
	b := e.Name("b")
	e.RunDetached(b, "--network", n2, img, "sleep", "300")
	if r := e.Run("exec", a, "ping", "-c1", "-W1", b); r.Code == 0 {
		t.Fatalf("a reaches b across networks before connect: %s", r)
	}
	e.MustRun("network", "connect", "--alias", "bee", n1, b)
	for _, h := range []string{b, "bee"} {
		if r := e.Run("exec", a, "ping", "-c1", "-W2", h); r.Code != 0 {
			t.Fatalf("a → %s after connect: %s", h, r)
		}
	}
	if r := e.MustRun("exec", b, "ip", "-o", "-4", "addr"); !strings.Contains(r.Stdout, "eth1") {
		t.Fatalf("b has no second interface: %s", r)
	}
	e.MustRun("network", "disconnect", n1, b)
	if r := e.Run("exec", a, "ping", "-c1", "-W1", b); r.Code == 0 {
		t.Fatalf("a still reaches b after disconnect: %s", r)
	}
}

func TestNetworkIsolationAndInternal(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	out := newOutside(t)
	n1, n2, in := e.Name("iso1"), e.Name("iso2"), e.Name("internal")
	e.MustRun("network", "create", n1)
	e.MustRun("network", "create", n2)
	e.MustRun("network", "create", "--internal", in)
	x := e.RunDetached(e.Name("x"), "--network", n2, img, "sleep", "300")
	xip := e.Inspect(x, "{{(index .NetworkSettings.Networks \""+n2+"\").IPAddress}}")
	// A fresh container each time: busybox ping's ICMP id is its PID, the
	// same in every new container, so keep conntrack entries apart by source.
	if r := e.Run("run", "--rm", "--network", n1, img, "ping", "-c1", "-W1", xip); r.Code == 0 {
		t.Fatalf("%s reached %s on another network: %s", n1, xip, r)
	}
	if r := e.Run("run", "--rm", img, "ping", "-c1", "-W1", xip); r.Code == 0 {
		t.Fatalf("default bridge reached %s on another network: %s", xip, r)
	}
	// --internal: no way out, but peers on it reach each other.
	if r := e.Run("run", "--rm", "--network", in, img, "wget", "-qO-", "-T", "2", "http://"+out.Addr+":8080/"); strings.Contains(r.Stdout, "outside-ok") {
		t.Fatalf("internal network reached the outside: %s", r)
	}
	peer := e.Name("peer")
	e.RunDetached(peer, "--network", in, img, "sleep", "300")
	if r := e.Run("run", "--rm", "--network", in, img, "ping", "-c1", "-W2", peer); r.Code != 0 {
		t.Fatalf("peers on an internal network: %s", r)
	}
	// A normal user network does get out.
	if r := e.MustRun("run", "--rm", "--network", n1, img, "wget", "-qO-", "http://"+out.Addr+":8080/"); !strings.Contains(r.Stdout, "outside-ok") {
		t.Fatalf("user network outbound: %s", r)
	}
}

func TestNetworkErrors(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	if r := e.Run("run", "--rm", "--network", "nosuchnet", img, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "network nosuchnet not found") {
		t.Fatalf("unknown network: %s", r)
	}
	n := e.Name("sub")
	e.MustRun("network", "create", "--subnet", "10.199.0.0/24", n)
	if r := e.Run("network", "create", "--subnet", "10.199.0.128/25", e.Name("overlap")); r.Code == 0 || !strings.Contains(r.Stderr, "Pool overlaps with other one on this address space") {
		t.Fatalf("overlapping subnet: %s", r)
	}
	if r := e.Run("network", "create", n); r.Code == 0 || !strings.Contains(r.Stderr, "already exists") {
		t.Fatalf("duplicate name: %s", r)
	}
	if r := e.Run("network", "rm", "bridge"); r.Code == 0 || !strings.Contains(r.Stderr, "pre-defined network") {
		t.Fatalf("rm bridge: %s", r)
	}
	if r := e.Run("network", "rm", "nosuchnet"); r.Code == 0 || !strings.Contains(r.Stderr, "not found") {
		t.Fatalf("rm unknown: %s", r)
	}
	if r := e.Run("run", "--rm", "--network-alias", "x", img, "true"); r.Code != 125 || !strings.Contains(r.Stderr, "user defined networks") {
		t.Fatalf("alias on the default bridge: %s", r)
	}
	// --ip on a user network.
	r := e.MustRun("run", "--rm", "--network", n, "--ip", "10.199.0.77", img, "ip", "-o", "-4", "addr", "show", "eth0")
	if !strings.Contains(r.Stdout, "10.199.0.77/24") {
		t.Fatalf("--ip: %s", r)
	}
	if r := e.Run("network", "create", "--subnet", "nonsense", e.Name("bad")); r.Code == 0 || !strings.Contains(r.Stderr, "invalid subnet") {
		t.Fatalf("bad subnet: %s", r)
	}
	if got := countNet(e); got.leases != 0 || got.netns != 0 {
		t.Fatalf("errors left network state: %+v", got)
	}
	// system prune removes unused user networks, as Docker's does.
	if r := e.MustRun("system", "prune", "-f"); !strings.Contains(r.Stdout, "Deleted Networks:\n"+n+"\n") {
		t.Fatalf("system prune: %s", r)
	}
}

func TestNetworkConcurrentLeases(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	e.MustRun("run", "--rm", img, "true") // the default network exists
	const n = 20
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := e.Run("run", "-d", "-p", "80", img, "sleep", "300")
			if r.Code != 0 {
				errs <- r.String()
				return
			}
			ids[i] = strings.TrimSpace(r.Stdout)
		}(i)
	}
	wg.Wait()
	close(errs)
	for s := range errs {
		t.Fatalf("parallel run: %s", s)
	}
	seenIP, seenPort := map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		ip := e.Inspect(id, "{{.NetworkSettings.IPAddress}}")
		port := strings.TrimSpace(e.MustRun("port", id, "80").Stdout)
		if ip == "" || seenIP[ip] || seenPort[port] {
			t.Fatalf("duplicate or missing lease: ip %q port %q", ip, port)
		}
		seenIP[ip], seenPort[port] = true, true
	}
	waitCounts(e, netCounts{veths: n, leases: n, dnat: n, netns: n})
	e.MustRun(append([]string{"rm", "-f"}, ids...)...)
	waitCounts(e, netCounts{})
}

func TestNetworkCleanupAfterSupervisorKill(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	p := freePort(t)
	id := e.RunDetached(e.Name("victim"), "-p", fmt.Sprintf("%d:80", p), img, "sleep", "300")
	waitCounts(e, netCounts{veths: 1, leases: 1, dnat: 1, netns: 1})
	spid := supervisorPid(id)
	if spid <= 1 {
		t.Fatalf("no supervisor process for %s", id)
	}
	if err := syscall.Kill(spid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The next command reconciles: the lease, veth, DNAT rule and netns go.
	e.Eventually("supervisor gone", func() bool { return syscall.Kill(spid, 0) != nil })
	e.MustRun("ps", "-a")
	waitCounts(e, netCounts{})
	// The same for a foreground run (the owner is the CLI process) killed -9.
	fg := e.Name("fg")
	e.RemoveOnCleanup(fg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := e.Cmd(ctx, "run", "--name", fg, "-p", fmt.Sprintf("%d:80", p), img, "sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e.Eventually("foreground container running", func() bool {
		return strings.TrimSpace(e.Run("inspect", "-f", "{{.State.Running}}", fg).Stdout) == "true"
	})
	waitCounts(e, netCounts{veths: 1, leases: 1, dnat: 1, netns: 1})
	cmd.Process.Kill()
	cmd.Wait()
	e.MustRun("ps", "-a")
	waitCounts(e, netCounts{})
	// The port is usable again by a new container.
	e.RunDetached(e.Name("next"), "-p", fmt.Sprintf("%d:80", p), img, "sleep", "300")
	// system check --repair re-creates rules an admin flushed.
	exec.Command("nft", "delete", "table", "ip", "berth-"+rootTag(e.Root)).Run()
	e.MustRun("system", "check", "--repair")
	if out, err := exec.Command("nft", "list", "chain", "ip", "berth-"+rootTag(e.Root), "postrouting").Output(); err != nil || !strings.Contains(string(out), "masquerade") {
		t.Fatalf("rules not re-created: %v %s", err, out)
	}
}

// TestNetworkWithDockerd runs the bridge, published ports and user networks
// while a dockerd with iptables is up beside berth: FORWARD policy DROP and
// br_netfilter loaded.
func TestNetworkWithDockerd(t *testing.T) {
	if os.Getenv("BERTH_TEST_DOCKERD") == "0" {
		t.Skip("BERTH_TEST_DOCKERD=0")
	}
	e := netEnv(t)
	img := e.BusyboxImage()
	out := newOutside(t)
	dir, err := os.MkdirTemp("/var/tmp", "berth-net-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(the.repo, "scripts", "dockerd.sh")
	denv := append(os.Environ(), "BERTH_DOCKERD_DIR="+dir, "BERTH_DOCKERD_BRIDGE=bnetdk0", "BERTH_DOCKERD_CIDR=10.253.77.1/24")
	t.Cleanup(func() {
		c := exec.Command(script, "stop")
		c.Env = denv
		if o, err := c.CombinedOutput(); err != nil {
			t.Logf("dockerd.sh stop: %v\n%s", err, o)
		}
		os.RemoveAll(dir)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, script, "start", "--net")
	c.Env = denv
	if o, err := c.CombinedOutput(); err != nil {
		t.Skipf("dockerd could not start: %v\n%s", err, o)
	}
	// dockerd sets the policy to DROP when it is the one enabling
	// ip_forward; on a machine where forwarding was already on it leaves
	// it. Either way, test the DROP case: set it as dockerd would.
	pol, _ := exec.Command("iptables", "-S", "FORWARD").Output()
	if !strings.Contains(string(pol), "-P FORWARD DROP") {
		if out, err := exec.Command("iptables", "-w", "-P", "FORWARD", "DROP").CombinedOutput(); err != nil {
			t.Fatalf("set FORWARD DROP: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("iptables", "-w", "-P", "FORWARD", "ACCEPT").Run() })
	}
	if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
		t.Fatalf("br_netfilter not loaded with dockerd running: %v", err)
	}
	if r := e.MustRun("run", "--rm", img, "wget", "-qO-", "http://"+out.Addr+":8080/"); !strings.Contains(r.Stdout, "outside-ok") {
		t.Fatalf("outbound with dockerd beside: %s", r)
	}
	p := freePort(t)
	e.RunDetached(e.Name("web"), "-p", fmt.Sprintf("%d:80", p), "-v", webDir(t, "coexist-ok")+":/www", img, "httpd", "-f", "-p", "80", "-h", "/www")
	e.Eventually("published port with dockerd beside", func() bool {
		b, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p))
		return err == nil && strings.Contains(b, "coexist-ok")
	})
	if b, err := httpGet(fmt.Sprintf("http://%s:%d/", hostAddr(t), p)); err != nil || !strings.Contains(b, "coexist-ok") {
		t.Fatalf("host address with dockerd beside: %v %s", err, b)
	}
	nn := e.Name("dnet")
	e.MustRun("network", "create", nn)
	srv := e.Name("srv")
	e.RunDetached(srv, "--network", nn, img, "sleep", "300")
	if r := e.Run("run", "--rm", "--network", nn, img, "ping", "-c1", "-W2", srv); r.Code != 0 {
		t.Fatalf("container ↔ container (br_netfilter) with dockerd beside: %s", r)
	}
	// berth's jump sits in FORWARD beside Docker's, which are untouched.
	fw, _ := exec.Command("iptables", "-S", "FORWARD").Output()
	if !strings.Contains(string(fw), "-j BERTH-"+rootTag(e.Root)) || !strings.Contains(string(fw), "DOCKER") {
		t.Fatalf("FORWARD chain: %s", fw)
	}
}

// TestNetworkRecreatedAfterWipe: a reboot (or a firewall flush) wipes the
// bridges and rules but not the records; the next run re-creates them.
func TestNetworkRecreatedAfterWipe(t *testing.T) {
	e := netEnv(t)
	img := e.BusyboxImage()
	out := newOutside(t)
	n := e.Name("wiped")
	e.MustRun("network", "create", n)
	e.MustRun("run", "--rm", img, "true")
	removeRootNetwork(e) // bridges, nft table, iptables chains: all gone
	for _, args := range [][]string{{}, {"--network", n}} {
		r := e.MustRun(append(append([]string{"run", "--rm"}, args...), img, "wget", "-qO-", "http://"+out.Addr+":8080/")...)
		if !strings.Contains(r.Stdout, "outside-ok") {
			t.Fatalf("outbound after the wipe (%v): %s", args, r)
		}
	}
	p := freePort(t)
	e.RunDetached(e.Name("web"), "-p", fmt.Sprintf("%d:80", p), "-v", webDir(t, "again-ok")+":/www", img, "httpd", "-f", "-p", "80", "-h", "/www")
	e.Eventually("published port after the wipe", func() bool {
		b, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p))
		return err == nil && strings.Contains(b, "again-ok")
	})
}

// supervisorPid finds the `berth ... __supervise ID` process of a container.
func supervisorPid(id string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if slices.Contains(args, "__supervise") && slices.Contains(args, id) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}
