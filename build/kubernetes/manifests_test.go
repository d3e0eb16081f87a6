// Package kubernetes_test checks the cluster DNS manifests without a cluster:
// every document decodes strictly into its Kubernetes API type, and the
// objects fit together (names, ports, volumes, probes).
package kubernetes_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// newObject returns an empty object of the API type for apiVersion and kind,
// or nil when the manifests are not expected to hold that kind.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 ServiceAccount":
		return &corev1.ServiceAccount{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}
	case "rbac.authorization.k8s.io/v1 ClusterRole":
		return &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/v1 ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}
	}
	return nil
}

// manifests holds every object of build/kubernetes/*.yaml by "Kind/name".
type manifests map[string]any

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decode splits YAML streams into documents and decodes each strictly:
// an unknown or duplicated field, a wrong type, an unknown kind or a
// duplicated object fails.
func decode(files map[string][]byte) (manifests, error) {
	m := manifests{}
	for file, data := range files {
		for i, doc := range docSeparator.Split(string(data), -1) {
			if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", file, i+1, err)
			}
			obj := newObject(tm.APIVersion, tm.Kind)
			if obj == nil {
				return nil, fmt.Errorf("%s document %d: unexpected apiVersion %q kind %q", file, i+1, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				return nil, fmt.Errorf("%s document %d (%s): %w", file, i+1, tm.Kind, err)
			}
			meta := obj.(metav1.ObjectMetaAccessor).GetObjectMeta()
			key := tm.Kind + "/" + meta.GetName()
			if meta.GetName() == "" {
				return nil, fmt.Errorf("%s document %d: %s without a name", file, i+1, tm.Kind)
			}
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("%s document %d: %s defined twice", file, i+1, key)
			}
			m[key] = obj
		}
	}
	return m, nil
}

// loadManifests decodes the files that match the patterns, by default
// every manifest of the whole-file delivery mode (*.yaml).
func loadManifests(t *testing.T, patterns ...string) manifests {
	t.Helper()
	if len(patterns) == 0 {
		patterns = []string{"*.yaml"}
	}
	var paths []string
	for _, pat := range patterns {
		m, err := filepath.Glob(pat)
		if err != nil || len(m) == 0 {
			t.Fatalf("no manifests match %s: %v", pat, err)
		}
		paths = append(paths, m...)
	}
	files := map[string][]byte{}
	var err error
	for _, p := range paths {
		if files[p], err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	m, err := decode(files)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func get[T any](t *testing.T, m manifests, key string) T {
	t.Helper()
	obj, ok := m[key].(T)
	if !ok {
		t.Fatalf("no %s in the manifests", key)
	}
	return obj
}

func TestStrictDecodingRejectsWhatAClusterWould(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatta: {}\n", "unknown field"},
		{"misspelt nested field", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - prot: 53\n", "unknown field"},
		{"wrong type", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: fifty-three\n", "cannot unmarshal"},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n", "already set"},
		{"unknown kind", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n", "unexpected"},
		{"duplicate object", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", "twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(map[string][]byte{"bad.yaml": []byte(tc.doc)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestManifestsHoldTheClusterDNSObjects(t *testing.T) {
	m := loadManifests(t)
	want := []string{
		"ServiceAccount/coredns", "ClusterRole/system:coredns", "ClusterRoleBinding/system:coredns",
		"ConfigMap/coredns", "ConfigMap/sqlitefilter-db", "ConfigMap/sqlitefilter-fetch",
		"Deployment/coredns", "Service/kube-dns", "PodDisruptionBudget/coredns",
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	for k, obj := range m {
		ns := obj.(metav1.ObjectMetaAccessor).GetObjectMeta().GetNamespace()
		cluster := strings.HasPrefix(k, "ClusterRole")
		if cluster != (ns == "") || !cluster && ns != "kube-system" {
			t.Errorf("%s in namespace %q", k, ns)
		}
	}
}

func TestRBACLetsTheKubernetesPluginWatch(t *testing.T) {
	m := loadManifests(t)
	role := get[*rbacv1.ClusterRole](t, m, "ClusterRole/system:coredns")
	binding := get[*rbacv1.ClusterRoleBinding](t, m, "ClusterRoleBinding/system:coredns")
	dep := get[*appsv1.Deployment](t, m, "Deployment/coredns")
	allowed := map[string]bool{}
	for _, r := range role.Rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					allowed[g+"/"+res+" "+v] = true
				}
			}
		}
	}
	for _, res := range []string{"/services", "/pods", "/namespaces", "discovery.k8s.io/endpointslices"} {
		for _, v := range []string{"list", "watch"} {
			if !allowed[res+" "+v] {
				t.Errorf("ClusterRole does not allow %s on %s", v, res)
			}
		}
	}
	if binding.RoleRef.Name != role.Name || binding.RoleRef.Kind != "ClusterRole" {
		t.Errorf("binding refers to %s %s", binding.RoleRef.Kind, binding.RoleRef.Name)
	}
	sa := dep.Spec.Template.Spec.ServiceAccountName
	if len(binding.Subjects) != 1 || binding.Subjects[0].Name != sa || binding.Subjects[0].Namespace != dep.Namespace {
		t.Errorf("binding subjects %v, want the Deployment's service account %s/%s", binding.Subjects, dep.Namespace, sa)
	}
	get[*corev1.ServiceAccount](t, m, "ServiceAccount/"+sa)
}

func container(t *testing.T, cs []corev1.Container, name string) corev1.Container {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no container %q", name)
	return corev1.Container{}
}

// checkLockedDown checks that a pod runs as a non-root user and that every
// container of it has a read-only root, no privilege escalation, no
// capability, CPU and memory requests, a memory limit and a pinned image.
func checkLockedDown(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	if psc := spec.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("the pod does not run as a non-root user")
	}

	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: root filesystem not read-only", c.Name)
		}
		if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: privilege escalation allowed", c.Name)
		}
		if sc == nil || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
			t.Errorf("%s: capabilities %+v, want all dropped, none added", c.Name, sc.Capabilities)
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
			t.Errorf("%s: resources %+v, want CPU and memory requests and a memory limit", c.Name, c.Resources)
		}
		if c.Resources.Requests.Memory().Cmp(*c.Resources.Limits.Memory()) > 0 {
			t.Errorf("%s: memory request above its limit", c.Name)
		}
		if c.Image == "" || !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
			t.Errorf("%s: image %q, want a pinned tag", c.Name, c.Image)
		}
	}
}

func TestDeploymentIsHighlyAvailableAndLockedDown(t *testing.T) {
	m := loadManifests(t)
	dep := get[*appsv1.Deployment](t, m, "Deployment/coredns")
	spec := dep.Spec.Template.Spec
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas < 2 {
		t.Errorf("replicas %v, want at least 2", dep.Spec.Replicas)
	}
	podLabels := dep.Spec.Template.Labels
	if sel := dep.Spec.Selector.MatchLabels; len(sel) == 0 || !subset(sel, podLabels) {
		t.Errorf("selector %v does not select the pod labels %v", sel, podLabels)
	}
	anti := spec.Affinity
	if anti == nil || anti.PodAntiAffinity == nil || len(anti.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Fatal("no required pod anti-affinity")
	}
	term := anti.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
	if term.TopologyKey != "kubernetes.io/hostname" || term.LabelSelector == nil || !subset(term.LabelSelector.MatchLabels, podLabels) {
		t.Errorf("anti-affinity %+v does not keep replicas on separate nodes", term)
	}
	if spec.DNSPolicy != corev1.DNSDefault {
		t.Errorf("dnsPolicy %s, want Default: cluster DNS must not resolve through itself", spec.DNSPolicy)
	}
	checkLockedDown(t, spec)

	dns := container(t, spec.Containers, "coredns")
	if mem := dns.Resources.Limits.Memory(); mem.Value() < 256<<20 {
		t.Errorf("coredns memory limit %s: too small for the connection pool's page caches", mem)
	}
	checkProbe(t, "liveness", dns.LivenessProbe, "/health", 8080)
	checkProbe(t, "readiness", dns.ReadinessProbe, "/ready", 8181)
	if p := dns.LivenessProbe; p != nil && p.FailureThreshold*p.PeriodSeconds < 10 && p.PeriodSeconds != 0 {
		t.Errorf("liveness gives up after %ds: a busy replica would be killed", p.FailureThreshold*p.PeriodSeconds)
	}
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds <= 5 {
		t.Error("terminationGracePeriodSeconds must exceed the 5s lameduck")
	}
}

func checkProbe(t *testing.T, kind string, p *corev1.Probe, path string, port int) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("no HTTP %s probe", kind)
		return
	}
	if p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromInt32(int32(port)) {
		t.Errorf("%s probe on %s:%s, want %s on %d", kind, p.HTTPGet.Path, p.HTTPGet.Port.String(), path, port)
	}
}

func subset(sub, of map[string]string) bool {
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

func TestVolumesAndMountsFitTogether(t *testing.T) {
	m := loadManifests(t)
	spec := get[*appsv1.Deployment](t, m, "Deployment/coredns").Spec.Template.Spec
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
		if v.ConfigMap != nil {
			cm := get[*corev1.ConfigMap](t, m, "ConfigMap/"+v.ConfigMap.Name)
			for _, item := range v.ConfigMap.Items {
				if _, ok := cm.Data[item.Key]; !ok {
					t.Errorf("volume %s: ConfigMap %s has no key %s", v.Name, cm.Name, item.Key)
				}
			}
		}
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		for _, vm := range c.VolumeMounts {
			if _, ok := volumes[vm.Name]; !ok {
				t.Errorf("%s mounts %s, which is not a volume", c.Name, vm.Name)
			}
		}
		for _, ef := range c.EnvFrom {
			get[*corev1.ConfigMap](t, m, "ConfigMap/"+ef.ConfigMapRef.Name)
		}
	}
	data := volumes["data"]
	if data.EmptyDir == nil || data.EmptyDir.SizeLimit == nil {
		t.Fatal("the data volume is not a size-limited emptyDir")
	}

	// The database: written by the init container and the sidecar, read
	// only by coredns, at the path the Corefile and fetch.sh use.
	cfg := get[*corev1.ConfigMap](t, m, "ConfigMap/sqlitefilter-db").Data
	dbPath := cfg["DB_PATH"]
	if dbPath == "" || cfg["DB_URL"] == "" {
		t.Fatalf("sqlitefilter-db lacks DB_PATH or DB_URL: %v", cfg)
	}
	mounts := func(c corev1.Container) (string, bool) {
		for _, vm := range c.VolumeMounts {
			if vm.Name == "data" {
				return vm.MountPath, vm.ReadOnly
			}
		}
		t.Fatalf("%s does not mount the data volume", c.Name)
		return "", false
	}
	for _, c := range []corev1.Container{container(t, spec.InitContainers, "db-init"), container(t, spec.Containers, "db-update")} {
		if dir, ro := mounts(c); ro || dir != filepath.Dir(dbPath) {
			t.Errorf("%s mounts the data volume at %s (read-only %v), want it writable at %s", c.Name, dir, ro, filepath.Dir(dbPath))
		}
		if !slices.Contains(c.Command, "/scripts/fetch.sh") {
			t.Errorf("%s runs %v, not fetch.sh", c.Name, c.Command)
		}
	}
	if dir, ro := mounts(container(t, spec.Containers, "coredns")); !ro || dir != filepath.Dir(dbPath) {
		t.Errorf("coredns mounts the data volume at %s (read-only %v), want read-only at %s", dir, ro, filepath.Dir(dbPath))
	}
	corefile := get[*corev1.ConfigMap](t, m, "ConfigMap/coredns").Data["Corefile"]
	if !regexp.MustCompile(`(?m)^\s*sqlitefilter ` + regexp.QuoteMeta(dbPath) + `\s*$`).MatchString(corefile) {
		t.Errorf("the Corefile does not read %s:\n%s", dbPath, corefile)
	}
}

func TestServiceSendsPort53ToTheContainerPorts(t *testing.T) {
	m := loadManifests(t)
	svc := get[*corev1.Service](t, m, "Service/kube-dns")
	dep := get[*appsv1.Deployment](t, m, "Deployment/coredns")
	dns := container(t, dep.Spec.Template.Spec.Containers, "coredns")
	if !subset(svc.Spec.Selector, dep.Spec.Template.Labels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, dep.Spec.Template.Labels)
	}
	ports := map[string]corev1.ContainerPort{}
	for _, p := range dns.Ports {
		ports[p.Name] = p
	}
	var udp, tcp bool
	for _, p := range svc.Spec.Ports {
		cp, ok := ports[p.TargetPort.String()]
		if !ok || cp.Protocol != p.Protocol {
			t.Errorf("Service port %s targets %s/%s, not a container port", p.Name, p.TargetPort.String(), p.Protocol)
			continue
		}
		udp = udp || p.Port == 53 && p.Protocol == corev1.ProtocolUDP
		tcp = tcp || p.Port == 53 && p.Protocol == corev1.ProtocolTCP
	}
	if !udp || !tcp {
		t.Errorf("Service does not serve 53 over UDP (%v) and TCP (%v)", udp, tcp)
	}
	if svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Errorf("Service clusterIP %q, want the cluster DNS address", svc.Spec.ClusterIP)
	}
	pdb := get[*policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget/coredns")
	if pdb.Spec.Selector == nil || !subset(pdb.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("PodDisruptionBudget does not select the pods")
	}

	// The Corefile listens where the container ports and probes point.
	corefile := get[*corev1.ConfigMap](t, m, "ConfigMap/coredns").Data["Corefile"]
	for _, want := range []string{
		fmt.Sprintf(".:%d {", ports["dns"].ContainerPort),
		fmt.Sprintf("prometheus :%d", ports["metrics"].ContainerPort),
		fmt.Sprintf("health :%d {", dns.LivenessProbe.HTTPGet.Port.IntValue()),
		fmt.Sprintf("ready :%d", dns.ReadinessProbe.HTTPGet.Port.IntValue()),
	} {
		if !strings.Contains(corefile, want) {
			t.Errorf("the Corefile lacks %q:\n%s", want, corefile)
		}
	}
}

func TestCorefileHasTheClusterDNSPlugins(t *testing.T) {
	m := loadManifests(t)
	corefile := get[*corev1.ConfigMap](t, m, "ConfigMap/coredns").Data["Corefile"]
	for _, want := range []string{
		`(?m)^\s*kubernetes cluster\.local in-addr\.arpa ip6\.arpa \{$`,
		`(?m)^\s*sqlitefilter \S+$`,
		`(?m)^\s*health :\d+ \{\n\s*lameduck \d+s\n\s*\}$`,
		`(?m)^\s*ready :\d+$`, `(?m)^\s*prometheus :\d+$`, `(?m)^\s*reload$`, `(?m)^\s*loop$`,
		`(?m)^\s*cache \d+$`, `(?m)^\s*forward \. `,
	} {
		if !regexp.MustCompile(want).MatchString(corefile) {
			t.Errorf("the Corefile does not match %s", want)
		}
	}
	if bytes.Count([]byte(corefile), []byte("{")) != bytes.Count([]byte(corefile), []byte("}")) {
		t.Error("unbalanced braces in the Corefile")
	}
}
