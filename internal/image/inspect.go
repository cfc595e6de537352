package image

import (
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// InspectJSON is `docker image inspect`'s shape (API 1.50, Docker 28): same
// keys, same order, same empty values.
type InspectJSON struct {
	ID            string        `json:"Id"`
	RepoTags      []string      `json:"RepoTags"`
	RepoDigests   []string      `json:"RepoDigests"`
	Parent        string        `json:"Parent"`
	Comment       string        `json:"Comment"`
	Created       string        `json:"Created"`
	DockerVersion string        `json:"DockerVersion"`
	Author        string        `json:"Author"`
	Config        InspectConfig `json:"Config"`
	Architecture  string        `json:"Architecture"`
	Variant       string        `json:"Variant,omitempty"`
	Os            string        `json:"Os"`
	OsVersion     string        `json:"OsVersion,omitempty"`
	Size          int64         `json:"Size"`
	GraphDriver   GraphDriver   `json:"GraphDriver"`
	RootFS        InspectRootFS `json:"RootFS"`
	Metadata      Metadata      `json:"Metadata"`
}

// InspectConfig is Docker's container.Config as image inspect prints it:
// unlike v1.Config, empty fields are shown ("Hostname": "", "Env": null).
type InspectConfig struct {
	Hostname        string              `json:"Hostname"`
	Domainname      string              `json:"Domainname"`
	User            string              `json:"User"`
	AttachStdin     bool                `json:"AttachStdin"`
	AttachStdout    bool                `json:"AttachStdout"`
	AttachStderr    bool                `json:"AttachStderr"`
	ExposedPorts    map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty             bool                `json:"Tty"`
	OpenStdin       bool                `json:"OpenStdin"`
	StdinOnce       bool                `json:"StdinOnce"`
	Env             []string            `json:"Env"`
	Cmd             []string            `json:"Cmd"`
	Healthcheck     *v1.HealthConfig    `json:"Healthcheck,omitempty"`
	ArgsEscaped     bool                `json:"ArgsEscaped,omitempty"`
	Image           string              `json:"Image"`
	Volumes         map[string]struct{} `json:"Volumes"`
	WorkingDir      string              `json:"WorkingDir"`
	Entrypoint      []string            `json:"Entrypoint"`
	NetworkDisabled bool                `json:"NetworkDisabled,omitempty"`
	MacAddress      string              `json:"MacAddress,omitempty"`
	OnBuild         []string            `json:"OnBuild"`
	Labels          map[string]string   `json:"Labels"`
	StopSignal      string              `json:"StopSignal,omitempty"`
	Shell           []string            `json:"Shell,omitempty"`
}

// GraphDriver names where the layers live, in overlay2's terms.
type GraphDriver struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

// InspectRootFS lists the layer DiffIDs.
type InspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers,omitempty"`
}

// Metadata is Docker's image metadata (only LastTagTime).
type Metadata struct {
	LastTagTime time.Time `json:"LastTagTime"`
}

// DockerConfig converts an image's config to the Docker-shaped form.
func DockerConfig(c v1.Config) InspectConfig {
	return InspectConfig{
		Hostname: c.Hostname, Domainname: c.Domainname, User: c.User,
		AttachStdin: c.AttachStdin, AttachStdout: c.AttachStdout, AttachStderr: c.AttachStderr,
		ExposedPorts: c.ExposedPorts, Tty: c.Tty, OpenStdin: c.OpenStdin, StdinOnce: c.StdinOnce,
		Env: c.Env, Cmd: c.Cmd, Healthcheck: c.Healthcheck, ArgsEscaped: c.ArgsEscaped,
		Image: c.Image, Volumes: c.Volumes, WorkingDir: c.WorkingDir, Entrypoint: c.Entrypoint,
		NetworkDisabled: c.NetworkDisabled, MacAddress: c.MacAddress, OnBuild: c.OnBuild,
		Labels: c.Labels, StopSignal: c.StopSignal, Shell: c.Shell,
	}
}

// Inspect renders img as `docker image inspect` does. GraphDriver.Data
// names the top snapshot's directory as UpperDir and the lower layers'
// directories as LowerDir, the way overlay2 reports them.
func (s *Store) Inspect(img *Image) InspectJSON {
	out := InspectJSON{
		ID:            img.ID,
		RepoTags:      nonNil(img.RepoTags),
		RepoDigests:   nonNil(img.RepoDigests),
		Parent:        img.Parent,
		Comment:       img.Comment,
		Created:       img.Created.UTC().Format(time.RFC3339Nano),
		DockerVersion: img.Config.DockerVersion,
		Author:        img.Config.Author,
		Config:        DockerConfig(img.Config.Config),
		Architecture:  img.Config.Architecture,
		Variant:       img.Config.Variant,
		Os:            img.Config.OS,
		OsVersion:     img.Config.OSVersion,
		Size:          img.Size,
		GraphDriver:   GraphDriver{Name: "overlay2", Data: s.graphData(img)},
		RootFS:        InspectRootFS{Type: "layers"},
		Metadata:      Metadata{LastTagTime: img.LastTagTime},
	}
	for _, d := range img.Config.RootFS.DiffIDs {
		out.RootFS.Layers = append(out.RootFS.Layers, d.String())
	}
	return out
}

func (s *Store) graphData(img *Image) map[string]string {
	data := map[string]string{}
	n := len(img.ChainIDs)
	if n == 0 {
		return data
	}
	top, err := s.snaps.Stat(img.ChainIDs[n-1])
	if err != nil {
		return data
	}
	base := filepath.Dir(top.Path)
	data["UpperDir"] = top.Path
	data["MergedDir"] = filepath.Join(base, "merged")
	data["WorkDir"] = filepath.Join(base, "work")
	var lower []string
	for i := n - 2; i >= 0; i-- {
		if info, err := s.snaps.Stat(img.ChainIDs[i]); err == nil {
			lower = append(lower, info.Path)
		}
	}
	if len(lower) > 0 {
		data["LowerDir"] = strings.Join(lower, ":")
	}
	return data
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
