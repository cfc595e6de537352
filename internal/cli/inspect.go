package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/berth/berth/internal/container"
	"github.com/berth/berth/internal/engine"
	"github.com/berth/berth/internal/errdefs"
	"github.com/berth/berth/internal/format"
	"github.com/berth/berth/internal/image"
)

// containerJSON is `docker inspect`'s container shape (API 1.41).
type containerJSON struct {
	ID              string            `json:"Id"`
	Created         string            `json:"Created"`
	Path            string            `json:"Path"`
	Args            []string          `json:"Args"`
	State           stateJSON         `json:"State"`
	Image           string            `json:"Image"`
	ResolvConfPath  string            `json:"ResolvConfPath"`
	HostnamePath    string            `json:"HostnamePath"`
	HostsPath       string            `json:"HostsPath"`
	LogPath         string            `json:"LogPath"`
	Name            string            `json:"Name"`
	RestartCount    int               `json:"RestartCount"`
	Driver          string            `json:"Driver"`
	Platform        string            `json:"Platform"`
	MountLabel      string            `json:"MountLabel"`
	ProcessLabel    string            `json:"ProcessLabel"`
	AppArmorProfile string            `json:"AppArmorProfile"`
	ExecIDs         []string          `json:"ExecIDs"`
	HostConfig      hostConfigJSON    `json:"HostConfig"`
	GraphDriver     graphDriverJSON   `json:"GraphDriver"`
	Mounts          []container.Mount `json:"Mounts"`
	Config          configJSON        `json:"Config"`
	NetworkSettings networkJSON       `json:"NetworkSettings"`
}

type stateJSON struct {
	Status     string            `json:"Status"`
	Running    bool              `json:"Running"`
	Paused     bool              `json:"Paused"`
	Restarting bool              `json:"Restarting"`
	OOMKilled  bool              `json:"OOMKilled"`
	Dead       bool              `json:"Dead"`
	Pid        int               `json:"Pid"`
	ExitCode   int               `json:"ExitCode"`
	Error      string            `json:"Error"`
	StartedAt  string            `json:"StartedAt"`
	FinishedAt string            `json:"FinishedAt"`
	Health     *container.Health `json:"Health,omitempty"`
}

// hostConfigJSON is Docker 20.10's HostConfig, every key in its order;
// resource knobs berth does not offer are shown at their zero values.
type hostConfigJSON struct {
	Binds                []string                `json:"Binds"`
	ContainerIDFile      string                  `json:"ContainerIDFile"`
	LogConfig            logConfigJSON           `json:"LogConfig"`
	NetworkMode          string                  `json:"NetworkMode"`
	PortBindings         map[string]any          `json:"PortBindings"`
	RestartPolicy        container.RestartPolicy `json:"RestartPolicy"`
	AutoRemove           bool                    `json:"AutoRemove"`
	VolumeDriver         string                  `json:"VolumeDriver"`
	VolumesFrom          []string                `json:"VolumesFrom"`
	CapAdd               []string                `json:"CapAdd"`
	CapDrop              []string                `json:"CapDrop"`
	CgroupnsMode         string                  `json:"CgroupnsMode"`
	Dns                  []string                `json:"Dns"`
	DnsOptions           []string                `json:"DnsOptions"`
	DnsSearch            []string                `json:"DnsSearch"`
	ExtraHosts           []string                `json:"ExtraHosts"`
	GroupAdd             []string                `json:"GroupAdd"`
	IpcMode              string                  `json:"IpcMode"`
	Cgroup               string                  `json:"Cgroup"`
	Links                []string                `json:"Links"`
	OomScoreAdj          int                     `json:"OomScoreAdj"`
	PidMode              string                  `json:"PidMode"`
	Privileged           bool                    `json:"Privileged"`
	PublishAllPorts      bool                    `json:"PublishAllPorts"`
	ReadonlyRootfs       bool                    `json:"ReadonlyRootfs"`
	SecurityOpt          []string                `json:"SecurityOpt"`
	Tmpfs                map[string]string       `json:"Tmpfs,omitempty"`
	UTSMode              string                  `json:"UTSMode"`
	UsernsMode           string                  `json:"UsernsMode"`
	ShmSize              int64                   `json:"ShmSize"`
	Runtime              string                  `json:"Runtime"`
	ConsoleSize          [2]uint                 `json:"ConsoleSize"`
	Isolation            string                  `json:"Isolation"`
	CpuShares            int64                   `json:"CpuShares"`
	Memory               int64                   `json:"Memory"`
	NanoCpus             int64                   `json:"NanoCpus"`
	CgroupParent         string                  `json:"CgroupParent"`
	BlkioWeight          uint16                  `json:"BlkioWeight"`
	BlkioWeightDevice    []any                   `json:"BlkioWeightDevice"`
	BlkioDeviceReadBps   []any                   `json:"BlkioDeviceReadBps"`
	BlkioDeviceWriteBps  []any                   `json:"BlkioDeviceWriteBps"`
	BlkioDeviceReadIOps  []any                   `json:"BlkioDeviceReadIOps"`
	BlkioDeviceWriteIOps []any                   `json:"BlkioDeviceWriteIOps"`
	CpuPeriod            int64                   `json:"CpuPeriod"`
	CpuQuota             int64                   `json:"CpuQuota"`
	CpuRealtimePeriod    int64                   `json:"CpuRealtimePeriod"`
	CpuRealtimeRuntime   int64                   `json:"CpuRealtimeRuntime"`
	CpusetCpus           string                  `json:"CpusetCpus"`
	CpusetMems           string                  `json:"CpusetMems"`
	Devices              []any                   `json:"Devices"`
	DeviceCgroupRules    []string                `json:"DeviceCgroupRules"`
	DeviceRequests       []any                   `json:"DeviceRequests"`
	KernelMemory         int64                   `json:"KernelMemory"`
	KernelMemoryTCP      int64                   `json:"KernelMemoryTCP"`
	MemoryReservation    int64                   `json:"MemoryReservation"`
	MemorySwap           int64                   `json:"MemorySwap"`
	MemorySwappiness     *int64                  `json:"MemorySwappiness"`
	OomKillDisable       bool                    `json:"OomKillDisable"`
	PidsLimit            *int64                  `json:"PidsLimit"`
	Ulimits              []any                   `json:"Ulimits"`
	CpuCount             int64                   `json:"CpuCount"`
	CpuPercent           int64                   `json:"CpuPercent"`
	IOMaximumIOps        uint64                  `json:"IOMaximumIOps"`
	IOMaximumBandwidth   uint64                  `json:"IOMaximumBandwidth"`
	Init                 *bool                   `json:"Init,omitempty"`
	MaskedPaths          []string                `json:"MaskedPaths"`
	ReadonlyPaths        []string                `json:"ReadonlyPaths"`
}

type logConfigJSON struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

type graphDriverJSON struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

type configJSON struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Healthcheck  *v1.HealthConfig    `json:"Healthcheck,omitempty"`
	Image        string              `json:"Image"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	StopTimeout  *int                `json:"StopTimeout,omitempty"`
}

type networkJSON struct {
	Bridge                 string         `json:"Bridge"`
	SandboxID              string         `json:"SandboxID"`
	HairpinMode            bool           `json:"HairpinMode"`
	LinkLocalIPv6Address   string         `json:"LinkLocalIPv6Address"`
	LinkLocalIPv6PrefixLen int            `json:"LinkLocalIPv6PrefixLen"`
	Ports                  map[string]any `json:"Ports"`
	SandboxKey             string         `json:"SandboxKey"`
	SecondaryIPAddresses   []any          `json:"SecondaryIPAddresses"`
	SecondaryIPv6Addresses []any          `json:"SecondaryIPv6Addresses"`
	EndpointID             string         `json:"EndpointID"`
	Gateway                string         `json:"Gateway"`
	GlobalIPv6Address      string         `json:"GlobalIPv6Address"`
	GlobalIPv6PrefixLen    int            `json:"GlobalIPv6PrefixLen"`
	IPAddress              string         `json:"IPAddress"`
	IPPrefixLen            int            `json:"IPPrefixLen"`
	IPv6Gateway            string         `json:"IPv6Gateway"`
	MacAddress             string         `json:"MacAddress"`
	Networks               map[string]any `json:"Networks"`
}

// dockerTime is how Docker prints times in inspect: RFC 3339 with
// nanoseconds, and the zero time as 0001-01-01T00:00:00Z.
func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func inspectContainer(e *engine.Engine, c *container.Container) containerJSON {
	dir := e.Containers.Dir(c.ID)
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	var pids *int64
	if c.Host.PidsLimit != 0 {
		p := c.Host.PidsLimit
		pids = &p
	}
	var initp *bool
	if c.Host.Init {
		t := true
		initp = &t
	}
	logCfg := map[string]string{}
	if c.Host.LogMaxSize > 0 {
		logCfg["max-size"] = fmt.Sprint(c.Host.LogMaxSize)
	}
	if c.Host.LogMaxFiles > 0 {
		logCfg["max-file"] = fmt.Sprint(c.Host.LogMaxFiles)
	}
	mounts := c.Mounts
	if mounts == nil {
		mounts = []container.Mount{}
	}
	cgroupns := c.Host.CgroupnsMode
	if cgroupns == "" { // a record from before --cgroupns: Docker's default then
		cgroupns = "host"
		if isCgroup2() {
			cgroupns = "private"
		}
	}
	var binds []string
	if len(c.Host.Binds) > 0 {
		binds = c.Host.Binds
	}
	_, netTop := inspectNetworks(c)
	state := c.State
	return containerJSON{
		ID:      c.ID,
		Created: dockerTime(c.Created),
		Path:    c.Path,
		Args:    nonNil(c.Args),
		State: stateJSON{
			Status: state.Status, Running: state.Running, Paused: state.Paused, Restarting: state.Restarting,
			OOMKilled: state.OOMKilled, Dead: state.Dead, Pid: state.Pid, ExitCode: state.ExitCode, Error: state.Error,
			StartedAt: dockerTime(state.StartedAt), FinishedAt: dockerTime(state.FinishedAt), Health: state.Health,
		},
		Image:          c.Image,
		ResolvConfPath: filepath.Join(dir, "resolv.conf"),
		HostnamePath:   filepath.Join(dir, "hostname"),
		HostsPath:      filepath.Join(dir, "hosts"),
		LogPath:        e.LogPath(c.ID),
		Name:           "/" + c.Name,
		RestartCount:   c.RestartCount,
		Driver:         "overlay2",
		Platform:       "linux",
		HostConfig: hostConfigJSON{
			Binds: binds, LogConfig: logConfigJSON{Type: "json-file", Config: logCfg}, NetworkMode: c.Host.NetworkMode,
			PortBindings: portBindingsJSON(c.Host.PortBindings), PublishAllPorts: c.Host.PublishAllPorts, RestartPolicy: c.Host.RestartPolicy, AutoRemove: c.Host.AutoRemove,
			CapAdd: c.Host.CapAdd, CapDrop: c.Host.CapDrop, CgroupnsMode: cgroupns, Dns: nonNil(c.Host.DNS), DnsOptions: []string{},
			DnsSearch: []string{}, ExtraHosts: c.Host.ExtraHosts, IpcMode: "private", Privileged: c.Host.Privileged,
			ReadonlyRootfs: c.Host.ReadonlyRootfs, SecurityOpt: c.Host.SecurityOpt, Tmpfs: nonEmpty(c.Host.Tmpfs), ShmSize: 67108864,
			Runtime: runtimeName(c.Host.Runtime), Isolation: "", Memory: c.Host.Memory, NanoCpus: c.Host.NanoCPUs, PidsLimit: pids, Init: initp,
			BlkioWeightDevice: []any{}, Devices: []any{},
			MaskedPaths: maskedPaths(c), ReadonlyPaths: readonlyPaths(c),
		},
		GraphDriver: graphDriverJSON{Name: "overlay2", Data: e.SnapshotPaths(c)},
		Mounts:      mounts,
		Config: configJSON{
			Hostname: c.Config.Hostname, Domainname: c.Config.Domainname, User: c.Config.User,
			AttachStdin: c.Config.AttachStdin, AttachStdout: c.Config.AttachStdout, AttachStderr: c.Config.AttachStderr,
			ExposedPorts: c.Config.ExposedPorts, Tty: c.Config.Tty, OpenStdin: c.Config.OpenStdin, StdinOnce: c.Config.StdinOnce,
			Env: c.Config.Env, Cmd: c.Config.Cmd, Healthcheck: c.Config.Healthcheck, Image: c.Config.Image, Volumes: c.Config.Volumes,
			WorkingDir: c.Config.WorkingDir, Entrypoint: c.Config.Entrypoint, OnBuild: c.Config.OnBuild, Labels: nonNilMap(c.Config.Labels),
			StopSignal: c.Config.StopSignal, StopTimeout: c.Config.StopTimeout,
		},
		NetworkSettings: netTop,
	}
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func runtimeName(r string) string {
	if r == "" {
		return "berth"
	}
	return r
}

func maskedPaths(c *container.Container) []string {
	if c.Host.Privileged {
		return nil
	}
	return []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}
}

func readonlyPaths(c *container.Container) []string {
	if c.Host.Privileged {
		return nil
	}
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

func newContainerInspectCmd(a *app) *cobra.Command {
	return inspectCmd(a, "container")
}

func newInspectCmd(a *app) *cobra.Command {
	return inspectCmd(a, "")
}

// inspectCmd is `inspect` (containers, then images) or `container inspect`
// / `image inspect` when kind is set.
func inspectCmd(a *app, kind string) *cobra.Command {
	var tmpl, typ string
	var size bool
	short := "Return low-level information on Docker objects"
	if kind != "" {
		short = "Display detailed information on one or more " + kind + "s"
	}
	cmd := &cobra.Command{
		Use: "inspect [OPTIONS] NAME|ID [NAME|ID...]", Short: short, Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine()
			if err != nil {
				return err
			}
			if kind != "" {
				typ = kind
			}
			var out []any
			var errs []string
			for _, ref := range args {
				v, err := inspectOne(e, ref, typ)
				if err != nil {
					errs = append(errs, userMessage(err))
					continue
				}
				out = append(out, v)
			}
			return printInspected(a.stdout, tmpl, out, errs)
		},
	}
	cmd.Flags().StringVarP(&tmpl, "format", "f", "", "Format output using a custom template")
	cmd.Flags().BoolVarP(&size, "size", "s", false, "Display total file sizes")
	if kind == "" {
		cmd.Flags().StringVar(&typ, "type", "", "Return JSON for specified type")
	}
	return cmd
}

func inspectOne(e *engine.Engine, ref, typ string) (any, error) {
	if typ == "" || typ == "container" {
		c, err := e.Container(ref)
		if err == nil {
			return inspectContainer(e, c), nil
		}
		if !errdefs.IsNotFound(err) {
			return nil, err
		}
		if typ == "container" {
			return nil, fmt.Errorf("No such container: %s", ref)
		}
	}
	if typ == "" || typ == "image" {
		img, err := e.Images.Get(ref)
		if err == nil {
			return inspectImage(e, img), nil
		}
		if !errdefs.IsNotFound(err) {
			return nil, err
		}
		if typ == "image" {
			return nil, fmt.Errorf("No such image: %s", ref)
		}
	}
	if typ == "volume" {
		v, err := e.Volumes.Get(ref)
		if err != nil {
			return nil, fmt.Errorf("get %s: no such volume", ref)
		}
		return v, nil
	}
	return nil, fmt.Errorf("No such object: %s", ref)
}

// imageJSON is `docker image inspect`'s shape at API 1.41 (Docker 20.10),
// the version berth reports: the image store's API 1.50 form plus the keys
// 20.10 still printed (Container, ContainerConfig, VirtualSize).
type imageJSON struct {
	ID              string              `json:"Id"`
	RepoTags        []string            `json:"RepoTags"`
	RepoDigests     []string            `json:"RepoDigests"`
	Parent          string              `json:"Parent"`
	Comment         string              `json:"Comment"`
	Created         string              `json:"Created"`
	Container       string              `json:"Container"`
	ContainerConfig image.InspectConfig `json:"ContainerConfig"`
	DockerVersion   string              `json:"DockerVersion"`
	Author          string              `json:"Author"`
	Config          image.InspectConfig `json:"Config"`
	Architecture    string              `json:"Architecture"`
	Variant         string              `json:"Variant,omitempty"`
	Os              string              `json:"Os"`
	OsVersion       string              `json:"OsVersion,omitempty"`
	Size            int64               `json:"Size"`
	VirtualSize     int64               `json:"VirtualSize"`
	GraphDriver     image.GraphDriver   `json:"GraphDriver"`
	RootFS          image.InspectRootFS `json:"RootFS"`
	Metadata        image.Metadata      `json:"Metadata"`
}

func inspectImage(e *engine.Engine, img *image.Image) imageJSON {
	in := e.Images.Inspect(img)
	out := imageJSON{
		ID: in.ID, RepoTags: in.RepoTags, RepoDigests: in.RepoDigests, Parent: in.Parent, Comment: in.Comment,
		Created: in.Created, DockerVersion: in.DockerVersion, Author: in.Author, Config: in.Config,
		Architecture: in.Architecture, Variant: in.Variant, Os: in.Os, OsVersion: in.OsVersion,
		Size: in.Size, VirtualSize: in.Size, GraphDriver: in.GraphDriver, RootFS: in.RootFS, Metadata: in.Metadata,
	}
	// ContainerConfig is the config of the container a commit was made
	// from; ggcr's ConfigFile does not keep it, so berth shows the empty
	// config Docker shows for imported images.
	out.Container = img.Config.Container
	return out
}

// toGeneric turns v into the map form of its JSON, numbers kept exact.
func toGeneric(v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return v
	}
	return out
}

func isCgroup2() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err == nil
}

// inspectNetworks renders NetworkSettings as Docker does: one entry per
// network; the top-level address fields only for the default bridge.
func inspectNetworks(c *container.Container) (map[string]any, networkJSON) {
	top := networkJSON{Ports: map[string]any{}}
	if c.State.Running {
		top.SandboxKey = c.NetworkSettings.SandboxKey
		for k := range c.Config.ExposedPorts {
			top.Ports[k] = nil
		}
		for k, v := range c.NetworkSettings.Ports {
			top.Ports[k] = v
		}
	}
	networks := map[string]any{}
	entry := func(es *container.EndpointSettings) map[string]any {
		var ipam any
		if es != nil && es.IPAMConfig != nil {
			ipam = es.IPAMConfig
		}
		if es == nil {
			es = &container.EndpointSettings{}
		}
		var aliases any
		if len(es.Aliases) > 0 || es.IPAddress != "" && c.Host.NetworkMode != "bridge" {
			aliases = append(append([]string{}, es.Aliases...), trunc(c.ID, false))
		}
		return map[string]any{
			"IPAMConfig": ipam, "Links": nil, "Aliases": aliases, "NetworkID": es.NetworkID, "EndpointID": es.EndpointID,
			"Gateway": es.Gateway, "IPAddress": es.IPAddress, "IPPrefixLen": es.IPPrefixLen, "IPv6Gateway": "",
			"GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "MacAddress": es.MacAddress, "DriverOpts": nil,
		}
	}
	for name, es := range c.NetworkSettings.Networks {
		if !c.State.Running && es != nil {
			// The last endpoint is kept in the record; Docker shows a
			// stopped container's network without address.
			es = &container.EndpointSettings{IPAMConfig: es.IPAMConfig, Aliases: es.Aliases}
		}
		networks[name] = entry(es)
		if name == "bridge" {
			top.EndpointID, top.Gateway, top.IPAddress, top.IPPrefixLen, top.MacAddress = es.EndpointID, es.Gateway, es.IPAddress, es.IPPrefixLen, es.MacAddress
		}
	}
	if len(networks) == 0 && c.Host.NetworkMode != "" {
		networks[c.Host.NetworkMode] = entry(nil)
	}
	top.Networks = networks
	return networks, top
}

func portBindingsJSON(b map[string][]container.PortBinding) map[string]any {
	out := map[string]any{}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// printInspected prints what an inspect verb found: a JSON array, or with a
// template one rendering per object — the typed value first (so
// {{.ID}}-style Go field names work), then its JSON map ({{.Id}}), as
// docker/cli does. errs (objects not found) make it exit 1 after printing.
func printInspected(w io.Writer, tmpl string, out []any, errs []string) error {
	if tmpl != "" {
		for _, v := range out {
			var buf bytes.Buffer
			if err := format.Object(&buf, tmpl, v); err != nil {
				buf.Reset()
				if err := format.Object(&buf, tmpl, toGeneric(v)); err != nil {
					return err
				}
			}
			w.Write(buf.Bytes())
		}
	} else {
		if out == nil {
			out = []any{}
		}
		format.JSON(w, out)
	}
	if len(errs) > 0 {
		return StatusError{Status: 1, Message: "Error: " + strings.Join(errs, "\n")}
	}
	return nil
}
