package main

// A chart directory as Helm loads it (Chart.yaml, values.yaml, templates/, crds/, other files for
// .Files), and the objects a template sees: .Chart, .Release, .Capabilities, .Files.

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/yaml.v2"
)

// Metadata is Chart.yaml, with Helm's field names (.Chart.Name, .Chart.AppVersion, ...).
type Metadata struct {
	APIVersion   string            `yaml:"apiVersion"`
	Name         string            `yaml:"name"`
	Version      string            `yaml:"version"`
	KubeVersion  string            `yaml:"kubeVersion"`
	Description  string            `yaml:"description"`
	Type         string            `yaml:"type"`
	Keywords     []string          `yaml:"keywords"`
	Home         string            `yaml:"home"`
	Sources      []string          `yaml:"sources"`
	Dependencies []interface{}     `yaml:"dependencies"`
	Maintainers  []Maintainer      `yaml:"maintainers"`
	Icon         string            `yaml:"icon"`
	AppVersion   string            `yaml:"appVersion"`
	Deprecated   bool              `yaml:"deprecated"`
	Annotations  map[string]string `yaml:"annotations"`
}

type Maintainer struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
	URL   string `yaml:"url"`
}

// KubeVersion and VersionSet are .Capabilities.KubeVersion and .Capabilities.APIVersions.
type KubeVersion struct {
	Version, Major, Minor string
}

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type HelmVersion struct {
	Version, GitCommit, GitTreeState, GoVersion string
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion HelmVersion
}

// The group versions a Kubernetes 1.32 API server serves, which is what helm template assumes
// without --api-versions.
var builtinAPIVersions = []string{
	"v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1",
	"apps/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1", "autoscaling/v1",
	"autoscaling/v2", "batch/v1", "certificates.k8s.io/v1", "coordination.k8s.io/v1",
	"discovery.k8s.io/v1", "events.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1",
	"networking.k8s.io/v1", "node.k8s.io/v1", "policy/v1", "rbac.authorization.k8s.io/v1",
	"scheduling.k8s.io/v1", "storage.k8s.io/v1",
}

func parseKubeVersion(v string) (KubeVersion, error) {
	s := strings.TrimPrefix(v, "v")
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return KubeVersion{}, fmt.Errorf("invalid kube version %q", v)
	}
	ver := "v" + s
	if len(parts) == 2 {
		ver += ".0"
	}
	return KubeVersion{Version: ver, Major: parts[0], Minor: parts[1]}, nil
}

// kubeVersionOK checks Chart.yaml's kubeVersion constraint as Helm does (Masterminds/semver).
func kubeVersionOK(constraint, version string) (bool, error) {
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return false, err
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return false, err
	}
	return c.Check(v), nil
}

// Files is .Files: the chart's files other than templates, Chart.yaml and values.yaml.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }

func (f Files) Glob(pattern string) Files {
	out := Files{}
	for n, d := range f {
		if ok, _ := path.Match(pattern, n); ok {
			out[n] = d
		}
	}
	return out
}

func (f Files) Lines(name string) []string {
	s := string(f[name])
	if s == "" {
		return []string{}
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

type chartDir struct {
	meta      Metadata
	values    map[string]interface{}
	templates map[string]string // CHART/templates/PATH -> text
	crds      []crdFile
	files     Files
}

type crdFile struct {
	name string // CHART/crds/FILE
	data []byte
}

func isManifest(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml" || ext == ".json"
}

func loadChart(dir string) (*chartDir, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, fmt.Errorf("%s: no Chart.yaml: %w", dir, err)
	}
	c := &chartDir{templates: map[string]string{}, files: Files{}}
	if err := yaml.Unmarshal(raw, &c.meta); err != nil {
		return nil, fmt.Errorf("%s/Chart.yaml: %w", dir, err)
	}
	switch {
	case c.meta.APIVersion != "v2":
		return nil, fmt.Errorf("%s/Chart.yaml: apiVersion must be v2, got %q", dir, c.meta.APIVersion)
	case c.meta.Name == "":
		return nil, fmt.Errorf("%s/Chart.yaml: name is required", dir)
	case c.meta.Version == "":
		return nil, fmt.Errorf("%s/Chart.yaml: version is required", dir)
	case len(c.meta.Dependencies) > 0:
		return nil, fmt.Errorf("%s/Chart.yaml: dependencies (subcharts) are not supported", dir)
	case c.meta.Type == "library":
		return nil, fmt.Errorf("%s: library charts are not installable", dir)
	}
	c.values = map[string]interface{}{}
	if data, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if c.values, err = readValues(data); err != nil {
			return nil, fmt.Errorf("%s/values.yaml: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == "charts" {
				return fmt.Errorf("%s/charts: subcharts are not supported", dir)
			}
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == ".helmignore":
		case strings.HasPrefix(rel, "templates/"):
			c.templates[c.meta.Name+"/"+rel] = string(data)
		default:
			if strings.HasPrefix(rel, "crds/") && isManifest(rel) {
				c.crds = append(c.crds, crdFile{name: c.meta.Name + "/" + rel, data: data})
			}
			c.files[rel] = data
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(c.crds, func(i, j int) bool { return c.crds[i].name < c.crds[j].name })
	return c, nil
}
