package container

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// Status values, as Docker names them.
const (
	StatusCreated    = "created"
	StatusRunning    = "running"
	StatusPaused     = "paused"
	StatusRestarting = "restarting"
	StatusRemoving   = "removing"
	StatusExited     = "exited"
	StatusDead       = "dead"
)

// Container is the persistent record of one container, stored as
// containers/<id>/container.json. Its field names follow `docker inspect`
// so the CLI can render Docker-shaped JSON from it with little mapping.
type Container struct {
	ID       string     `json:"Id"`
	Name     string     `json:"Name"` // without the leading "/"
	Created  time.Time  `json:"Created"`
	Path     string     `json:"Path"`     // argv[0] of the main process
	Args     []string   `json:"Args"`     // argv[1:]
	Image    string     `json:"Image"`    // image ID (sha256:...)
	ImageRef string     `json:"ImageRef"` // what the user asked for, e.g. "debian"
	Config   Config     `json:"Config"`   // merged image config + run flags (Docker's Config)
	Host     HostConfig `json:"HostConfig"`
	State    State      `json:"State"`
	// RestartCount counts restarts by the restart policy.
	RestartCount int `json:"RestartCount"`
	// Snapshot is the key of the container's read-write snapshot.
	Snapshot string `json:"Snapshot"`
	// Mounts are the volumes and bind mounts, resolved at create time.
	Mounts []Mount `json:"Mounts"`
	// NetworkSettings are the networks the container joins and its last
	// endpoint (addresses, published ports), valid while it runs.
	NetworkSettings NetworkSettings `json:"NetworkSettings"`
	// Spec is the OCI runtime spec generated at create time (also written as
	// containers/<id>/config.json so an external runtime can run the bundle).
	Spec *specs.Spec `json:"-"`
}

// Config is Docker's container Config: the image config (ggcr's v1.Config,
// embedded so its fields stay at the top level in JSON, as in `docker
// inspect`) plus the fields Docker keeps only for containers.
type Config struct {
	v1.Config
	// StopTimeout is --stop-timeout in seconds; nil means the default (10s).
	StopTimeout *int `json:"StopTimeout,omitempty"`
}

// HostConfig holds the run flags that do not belong in the image-shaped Config.
type HostConfig struct {
	AutoRemove     bool              `json:"AutoRemove"`
	RestartPolicy  RestartPolicy     `json:"RestartPolicy"`
	NetworkMode    string            `json:"NetworkMode"` // "none", "host", "bridge", "container:ID"
	Binds          []string          `json:"Binds"`
	Tmpfs          map[string]string `json:"Tmpfs"`
	ReadonlyRootfs bool              `json:"ReadonlyRootfs"`
	Privileged     bool              `json:"Privileged"`
	CapAdd         []string          `json:"CapAdd"`
	CapDrop        []string          `json:"CapDrop"`
	SecurityOpt    []string          `json:"SecurityOpt"`
	Init           bool              `json:"Init"`
	Runtime        string            `json:"Runtime"` // "" = in-process libcontainer, else an OCI runtime binary
	Memory         int64             `json:"Memory"`
	NanoCPUs       int64             `json:"NanoCpus"`
	PidsLimit      int64             `json:"PidsLimit"`
	DNS            []string          `json:"Dns"`
	ExtraHosts     []string          `json:"ExtraHosts"`
	// CgroupnsMode is "host" or "private", resolved when the container is
	// created; "" in records written before berth had --cgroupns.
	CgroupnsMode string `json:"CgroupnsMode,omitempty"`
	// PortBindings is -p as Docker records it: "80/tcp" → host sides.
	PortBindings    map[string][]PortBinding `json:"PortBindings"`
	PublishAllPorts bool                     `json:"PublishAllPorts"`
	// LogConfig is Docker's: Type "json-file", Config {"max-size": "10m", "max-file": "3"}.
	// It is what the record persists; LogMaxSize/LogMaxFiles are its parsed
	// form, filled by the store on every read and folded back on every write.
	LogConfig   LogConfig `json:"LogConfig"`
	LogMaxSize  int64     `json:"-"` // json-file rotation, bytes; 0 = no rotation
	LogMaxFiles int       `json:"-"` // files kept including the live one; 0 = 1
}

// LogConfig names the log driver and its options, as `docker inspect` shows them.
type LogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

// PortBinding is one host side of a published port; HostPort may be a
// range ("8000-8010") or "" (any free port).
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// NetworkSettings is Docker's: Networks by name (what was asked, plus the
// live endpoint while running), Ports as actually published.
type NetworkSettings struct {
	Networks   map[string]*EndpointSettings `json:"Networks"`
	Ports      map[string][]PortBinding     `json:"Ports"`
	SandboxKey string                       `json:"SandboxKey"`
}

// EndpointSettings is one network of a container, Docker-shaped.
type EndpointSettings struct {
	IPAMConfig  *EndpointIPAMConfig `json:"IPAMConfig"`
	Aliases     []string            `json:"Aliases"`
	NetworkID   string              `json:"NetworkID"`
	EndpointID  string              `json:"EndpointID"`
	Gateway     string              `json:"Gateway"`
	IPAddress   string              `json:"IPAddress"`
	IPPrefixLen int                 `json:"IPPrefixLen"`
	MacAddress  string              `json:"MacAddress"`
}

// EndpointIPAMConfig is --ip.
type EndpointIPAMConfig struct {
	IPv4Address string `json:"IPv4Address,omitempty"`
}

// RestartPolicy is Docker's: Name is "no", "always", "unless-stopped" or "on-failure".
type RestartPolicy struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

// State is the container's runtime status as Docker reports it.
type State struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	Health     *Health   `json:"Health,omitempty"`
	// SupervisorPid is the berth process that owns the running container (0
	// when none). It is informational: whether the owner is alive is decided
	// by its owner lock (Store.OwnerAlive), which cannot be fooled by PID reuse.
	SupervisorPid int `json:"SupervisorPid,omitempty"`
	// StoppedByUser records an explicit stop, so unless-stopped/always do not restart it.
	StoppedByUser bool `json:"StoppedByUser,omitempty"`
	// RemovalInProgress is set by `rm -f` before it kills the container: the
	// remover tears the container down itself, so its owner only records the
	// exit instead of running a second teardown that rm would wait for.
	RemovalInProgress bool `json:"RemovalInProgress,omitempty"`
}

// Health is the HEALTHCHECK status.
type Health struct {
	Status        string      `json:"Status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// HealthLog is one probe result.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Mount is a volume or bind mount as `docker inspect` shows it.
type Mount struct {
	Type        string `json:"Type"` // "bind", "volume", "tmpfs"
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}
