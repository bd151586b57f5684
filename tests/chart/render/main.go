// SPDX-License-Identifier: Apache-2.0
// Copyright The Bulkhead Authors

// Command render is the chart tests' stand-in for `helm template`: no helm
// binary exists on our machines (no Debian or npm package ships it), so the
// tests render the chart with the same engine Helm is built on, Go's
// text/template with the sprig function library, both from Debian
// (golang-go, golang-github-masterminds-sprig-dev).
//
// Owns: the parts of Helm's engine (helm.sh/helm/v3 pkg/engine and
// pkg/chartutil) the chart uses, written to behave as Helm's do:
//   - values: values.yaml, then each -f file merged over it in order
//     (maps merge deeply; a null removes the key, as `helm -f` does);
//   - the merged values checked against values.schema.json before
//     rendering (gojsonschema, the library Helm 3 used up to 3.17), with
//     Helm's error wording;
//   - .Values .Release .Chart .Capabilities .Template .Files (Get only);
//   - sprig's text functions minus env/expandenv (Helm removes them), plus
//     include, tpl, required, toYaml, fromYaml, fromYamlArray, toJson,
//     fromJson, lookup (always empty: no cluster, as in `helm template`);
//   - missingkey=zero and "<no value>" → "" as Helm renders;
//   - partials (`_*.tpl`) define templates and render nothing; NOTES.txt is
//     rendered apart from the manifests.
//
// Does not emulate: subcharts, hooks' ordering, `--set` parsing, .Files
// globbing, post-renderers, or any API-server lookup. The chart uses none.
//
// Usage: render -chart DIR [-f values.yaml]... [-name R] [-namespace NS]
// Prints {"manifests":[{"name","content"}],"notes"} as JSON on success; on
// failure prints "Error: ..." (Helm's wording) to stderr and exits 1.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig" // GOPATH mode: Debian installs v3 here
	"github.com/ghodss/yaml"
	"github.com/xeipuuv/gojsonschema"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// chartMeta is the part of Helm's chart.Metadata that templates read as .Chart.
type chartMeta struct {
	APIVersion  string            `json:"apiVersion"`
	Name        string            `json:"name"`
	Version     string            `json:"version"`
	AppVersion  string            `json:"appVersion"`
	Description string            `json:"description"`
	Type        string            `json:"type"`
	KubeVersion string            `json:"kubeVersion"`
	Home        string            `json:"home"`
	Icon        string            `json:"icon"`
	Keywords    []string          `json:"keywords"`
	Sources     []string          `json:"sources"`
	Annotations map[string]string `json:"annotations"`
}

type release struct {
	Name      string
	Namespace string
	Service   string
	Revision  int
	IsInstall bool
	IsUpgrade bool
}

type kubeVersion struct{ Version, Major, Minor, GitVersion string }

func (k kubeVersion) String() string { return k.Version }

type apiVersions []string

// Has reports whether a group/version (or group/version/Kind) is served.
func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

type capabilities struct {
	KubeVersion kubeVersion
	APIVersions apiVersions
	HelmVersion map[string]string
}

// files is .Files: the chart's non-template files by path.
type files map[string][]byte

func (f files) Get(name string) string { return string(f[name]) }

type templateInfo struct{ Name, BasePath string }

type manifest struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Kubernetes version the renderer claims, as `helm template` does without a cluster.
var defaultKube = kubeVersion{Version: "v1.30.0", Major: "1", Minor: "30", GitVersion: "v1.30.0"}

var defaultAPIVersions = apiVersions{
	"v1", "apps/v1", "rbac.authorization.k8s.io/v1", "discovery.k8s.io/v1",
	"scheduling.k8s.io/v1", "policy/v1", "batch/v1",
}

func main() {
	var vf valueFiles
	chartDir := flag.String("chart", "", "the chart directory")
	name := flag.String("name", "bulkhead", "release name")
	namespace := flag.String("namespace", "bulkhead-system", "release namespace")
	flag.Var(&vf, "f", "values file (repeatable; later files win)")
	flag.Parse()
	if *chartDir == "" {
		fail(errors.New("-chart DIR is required"))
	}
	out, err := render(*chartDir, vf, release{
		Name: *name, Namespace: *namespace, Service: "Helm", Revision: 1, IsInstall: true,
	})
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "Error: %s\n", err)
	os.Exit(1)
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("failed to parse %s: %w", file, err)
	}
	if m == nil {
		m = map[string]interface{}{}
	}
	return m, nil
}

// mergeMaps is `helm -f a -f b`: b's keys over a's, maps merged deeply.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if om, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(om, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce is chartutil.CoalesceValues: user values over the chart's
// defaults; a user null deletes the key (and its default).
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(defaults))
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		um, uok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if uok && dok {
			out[k] = coalesce(um, dm)
		} else {
			out[k] = v
		}
	}
	return out
}

// validateSchema is chartutil.ValidateAgainstSchema, with Helm's wording.
func validateSchema(chartName string, schema []byte, values map[string]interface{}) error {
	res, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewGoLoader(values))
	if err != nil {
		return fmt.Errorf("%s: values.schema.json: %w", chartName, err)
	}
	if res.Valid() {
		return nil
	}
	var b strings.Builder
	for _, e := range res.Errors() {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s",
		chartName, b.String())
}

func render(chartDir string, valueFiles []string, rel release) (map[string]interface{}, error) {
	var meta chartMeta
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	defaults, err := readYAMLMap(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	user := map[string]interface{}{}
	for _, f := range valueFiles {
		m, err := readYAMLMap(f)
		if err != nil {
			return nil, err
		}
		user = mergeMaps(user, m)
	}
	values := coalesce(user, defaults)
	if schema, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json")); err == nil {
		if err := validateSchema(meta.Name, schema, values); err != nil {
			return nil, err
		}
	}

	// Every file of the chart, by its path inside the chart (for .Files and the templates).
	all := files{}
	var tplNames []string
	err = filepath.Walk(chartDir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(chartDir, p)
		rel = filepath.ToSlash(rel)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		all[rel] = data
		if strings.HasPrefix(rel, "templates/") {
			tplNames = append(tplNames, rel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(tplNames)

	t := template.New("gotpl").Option("missingkey=zero")
	t.Funcs(funcMap(t))
	for _, n := range tplNames {
		if _, err := t.New(path.Join(meta.Name, n)).Parse(string(all[n])); err != nil {
			return nil, cleanupParseError(err)
		}
	}

	top := func(name string) map[string]interface{} {
		return map[string]interface{}{
			"Values":       values,
			"Release":      rel,
			"Chart":        meta,
			"Capabilities": capabilities{KubeVersion: defaultKube, APIVersions: defaultAPIVersions, HelmVersion: map[string]string{"Version": "v3.15.0"}},
			"Template":     templateInfo{Name: name, BasePath: path.Join(meta.Name, "templates")},
			"Files":        all,
		}
	}
	var manifests []manifest
	notes := ""
	for _, n := range tplNames {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue // partials only define templates
		}
		full := path.Join(meta.Name, n)
		var buf bytes.Buffer
		if err := t.ExecuteTemplate(&buf, full, top(full)); err != nil {
			return nil, cleanupExecError(full, err)
		}
		content := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes = content
			continue
		}
		manifests = append(manifests, manifest{Name: full, Content: content})
	}
	return map[string]interface{}{"manifests": manifests, "notes": notes}, nil
}

const recursionMax = 1000

// funcMap is Helm's engine.funcMap: sprig minus env/expandenv, plus Helm's own.
func funcMap(t *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	included := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if included[name] > recursionMax {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		included[name]++
		defer func() { included[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, vals interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		if _, err := c.New("tpl").Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf strings.Builder
		if err := c.ExecuteTemplate(&buf, "tpl", vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", text, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(msg)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(msg)
		}
		return val, nil
	}
	f["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return "" // Helm swallows the error the same way
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		a := []interface{}{}
		if err := yaml.Unmarshal([]byte(s), &a); err != nil {
			a = []interface{}{err.Error()}
		}
		return a
	}
	f["toJson"] = func(v interface{}) string {
		data, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(data)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

var execErrLoc = regexp.MustCompile(`^template: ([^:]+:\d+:\d+): executing "[^"]*" at <.*?>: error calling (?:fail|required|include|tpl): (?s)(.*)$`)

// cleanupExecError gives a template's failure as Helm prints it:
// "execution error at (bulkhead/templates/validate.yaml:12:4): <message>".
func cleanupExecError(name string, err error) error {
	msg := err.Error()
	// include wraps the inner failure; the innermost location and message are what Helm shows.
	for {
		m := execErrLoc.FindStringSubmatch(msg)
		if m == nil {
			break
		}
		inner := execErrLoc.FindStringSubmatch(m[2])
		if inner == nil {
			return fmt.Errorf("execution error at (%s): %s", m[1], m[2])
		}
		msg = m[2]
	}
	return fmt.Errorf("%s: %w", name, err)
}

func cleanupParseError(err error) error {
	return fmt.Errorf("parse error: %w", err)
}
