// helm-render renders a Helm chart directory the way `helm template` does, for machines where
// Helm cannot be installed: Go's text/template with sprig and Helm's own functions, values merged
// and coalesced by Helm's rules, documents sorted and printed as Helm prints them.
//
//	helm-render [NAME] CHART [-f FILE]... [--set K=V]... [--set-string K=V]... [-n NAMESPACE]
//	            [--include-crds] [--kube-version V] [-a GROUP/VERSION]... [-s TEMPLATE]...
//
// Not supported (an error, never a silent difference): subcharts and dependencies, hooks,
// library charts, toToml, .helmignore patterns (the file is skipped, not read), --set-file,
// schema validation (values.schema.json), lookup against a cluster (it finds nothing, as in
// helm template).
package main

import (
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
)

type options struct {
	name, chart, namespace, kubeVersion string
	valueFiles, apiVersions, showOnly   []string
	sets                                []setArg
	includeCRDs                         bool
}

type setArg struct {
	arg      string
	asString bool
}

const usage = `usage: helm-render [NAME] CHART [flags]
  -f, --values FILE        values file, merged over the chart's (repeatable; later wins)
      --set K=V[,K=V]      set values (Helm's --set syntax; repeatable)
      --set-string K=V     set values as strings
  -n, --namespace NS       .Release.Namespace (default "default")
      --include-crds       print the chart's crds/ first
      --kube-version V     .Capabilities.KubeVersion (default v1.32.0)
  -a, --api-versions G/V   add to .Capabilities.APIVersions (repeatable)
  -s, --show-only PATH     print only this template (templates/x.yaml; repeatable)
`

func parseArgs(args []string) (*options, error) {
	o := &options{namespace: "default", kubeVersion: "v1.32.0"}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := a, "", false
		if strings.HasPrefix(a, "--") {
			if eq := strings.IndexByte(a, '='); eq >= 0 {
				name, val, hasVal = a[:eq], a[eq+1:], true
			}
		}
		need := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch name {
		case "-h", "--help":
			fmt.Print(usage)
			os.Exit(0)
		case "-f", "--values":
			if v, err = need(); err == nil {
				o.valueFiles = append(o.valueFiles, strings.Split(v, ",")...)
			}
		case "--set", "--set-string":
			if v, err = need(); err == nil {
				o.sets = append(o.sets, setArg{v, name == "--set-string"})
			}
		case "-n", "--namespace":
			v, err = need()
			o.namespace = v
		case "--kube-version":
			v, err = need()
			o.kubeVersion = v
		case "-a", "--api-versions":
			if v, err = need(); err == nil {
				o.apiVersions = append(o.apiVersions, strings.Split(v, ",")...)
			}
		case "-s", "--show-only":
			if v, err = need(); err == nil {
				o.showOnly = append(o.showOnly, v)
			}
		case "--include-crds":
			o.includeCRDs = true
		default:
			if strings.HasPrefix(a, "-") && a != "-" {
				return nil, fmt.Errorf("unknown flag %s", a)
			}
			pos = append(pos, a)
		}
		if err != nil {
			return nil, err
		}
	}
	switch len(pos) {
	case 1:
		o.name, o.chart = "release-name", pos[0]
	case 2:
		o.name, o.chart = pos[0], pos[1]
	default:
		return nil, fmt.Errorf("expected [NAME] CHART, got %d arguments", len(pos))
	}
	return o, nil
}

func run(o *options, w io.Writer) error {
	c, err := loadChart(o.chart)
	if err != nil {
		return err
	}
	user := map[string]interface{}{}
	for _, f := range o.valueFiles {
		v, err := readValuesFile(f)
		if err != nil {
			return err
		}
		user = mergeMaps(user, v)
	}
	for _, s := range o.sets {
		if err := parseSet(s.arg, user, s.asString); err != nil {
			return fmt.Errorf("failed parsing --set data: %w", err)
		}
	}
	vals := coalesce(c.meta.Name, user, c.values)
	kv, err := parseKubeVersion(o.kubeVersion)
	if err != nil {
		return err
	}
	if c.meta.KubeVersion != "" {
		ok, err := kubeVersionOK(c.meta.KubeVersion, kv.Version)
		if err != nil {
			return fmt.Errorf("%s/Chart.yaml: kubeVersion: %w", o.chart, err)
		}
		if !ok {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s",
				c.meta.KubeVersion, kv.Version)
		}
	}
	caps := &Capabilities{
		KubeVersion: kv,
		APIVersions: append(append(VersionSet{}, builtinAPIVersions...), o.apiVersions...),
		HelmVersion: HelmVersion{Version: "v3.16.0+helm-render", GoVersion: "go1.19"},
	}
	top := map[string]interface{}{
		"Values": vals,
		"Release": map[string]interface{}{
			"Name": o.name, "Namespace": o.namespace, "Revision": 1, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false,
		},
		"Chart":        &c.meta,
		"Capabilities": caps,
		"Files":        c.files,
		"Subcharts":    map[string]interface{}{},
	}
	rendered, err := render(c.templates, top, c.meta.Name+"/templates")
	if err != nil {
		return err
	}
	for n := range rendered {
		if strings.HasSuffix(n, "NOTES.txt") {
			delete(rendered, n)
		}
	}
	manifests, err := sortManifests(rendered)
	if err != nil {
		return err
	}
	var b strings.Builder
	if o.includeCRDs {
		for _, crd := range c.crds {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", crd.name, crd.data)
		}
	}
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.name, m.content)
	}
	if len(o.showOnly) > 0 {
		shown, err := showOnly(b.String(), o.showOnly)
		if err != nil {
			return err
		}
		b.Reset()
		b.WriteString(shown)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

var sourceName = regexp.MustCompile("# Source: [^/]+/(.+)")

// showOnly keeps the documents whose source (without the chart's name) matches one of the
// patterns, pattern by pattern, as helm template --show-only does.
func showOnly(all string, patterns []string) (string, error) {
	docs := splitManifests(all)
	var b strings.Builder
	for _, p := range patterns {
		missing := true
		for _, d := range docs {
			m := sourceName.FindStringSubmatch(d)
			if m == nil {
				continue
			}
			if ok, _ := path.Match(p, m[1]); !ok {
				continue
			}
			fmt.Fprintf(&b, "---\n%s\n", d)
			missing = false
		}
		if missing {
			return "", fmt.Errorf("could not find template %s in chart", p)
		}
	}
	return b.String(), nil
}

func main() {
	o, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "helm-render: %s\n%s", err, usage)
		os.Exit(2)
	}
	if err := run(o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %s\n", err)
		os.Exit(1)
	}
}
