package kubernetes_test

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The Litestream delivery mode: litestream/*.yaml in place of
// deployment.yaml, with the Corefile, RBAC and Service of the whole-file mode.
func loadLitestreamManifests(t *testing.T) manifests {
	t.Helper()
	return loadManifests(t, "litestream/*.yaml", "configmap.yaml", "rbac.yaml", "service.yaml")
}

// litestreamImage is the image both sides run: the version the replica
// tests build (test/litestream_test.go), in its Debian variant, which has sh
// and the sqlite3 shell.
const litestreamImage = "docker.io/litestream/litestream:0.5.18"

func TestLitestreamManifestsDecodeAndAreLockedDown(t *testing.T) {
	m := loadLitestreamManifests(t)
	dep := get[*appsv1.Deployment](t, m, "Deployment/coredns")
	checkLockedDown(t, dep.Spec.Template.Spec)
	writer := get[*appsv1.StatefulSet](t, m, "StatefulSet/sqlitefilter-writer")
	checkLockedDown(t, writer.Spec.Template.Spec)
	if writer.Spec.Replicas == nil || *writer.Spec.Replicas != 1 {
		t.Errorf("writer replicas %v, want exactly 1", writer.Spec.Replicas)
	}
	if sel := writer.Spec.Selector.MatchLabels; !subset(sel, writer.Spec.Template.Labels) {
		t.Errorf("writer selector %v does not select its pod labels %v", sel, writer.Spec.Template.Labels)
	}
	for _, c := range append(slices.Clone(writer.Spec.Template.Spec.Containers), container(t, dep.Spec.Template.Spec.Containers, "db-follow")) {
		if c.Image != litestreamImage {
			t.Errorf("%s: image %s, want %s", c.Name, c.Image, litestreamImage)
		}
	}
}

// The DNS pods follow the store the writer replicates to, at the path the
// Corefile reads, with the sidecar writing the shared volume and coredns
// only reading it; the writer replicates the database on its own volume.
func TestLitestreamReplicaAndWriterFitTogether(t *testing.T) {
	m := loadLitestreamManifests(t)
	spec := get[*appsv1.Deployment](t, m, "Deployment/coredns").Spec.Template.Spec
	if len(spec.InitContainers) != 0 {
		t.Errorf("init containers %v: follow.sh restores in the sidecar, so that it can go on following", spec.InitContainers)
	}
	replica := get[*corev1.ConfigMap](t, m, "ConfigMap/sqlitefilter-replica").Data
	dbPath, url := replica["DB_PATH"], replica["REPLICA_URL"]
	if dbPath == "" || url == "" {
		t.Fatalf("sqlitefilter-replica lacks DB_PATH or REPLICA_URL: %v", replica)
	}
	follow := container(t, spec.Containers, "db-follow")
	if !slices.Contains(follow.Command, "/scripts/follow.sh") {
		t.Errorf("db-follow runs %v, not follow.sh", follow.Command)
	}
	if len(follow.EnvFrom) == 0 || follow.EnvFrom[0].ConfigMapRef == nil || follow.EnvFrom[0].ConfigMapRef.Name != "sqlitefilter-replica" {
		t.Errorf("db-follow does not take its settings from sqlitefilter-replica: %+v", follow.EnvFrom)
	}
	script := get[*corev1.ConfigMap](t, m, "ConfigMap/sqlitefilter-follow").Data["follow.sh"]
	for _, want := range []string{"restore -f", "PRAGMA journal_mode=DELETE", `"$DB-txid"`} {
		if !strings.Contains(script, want) {
			t.Errorf("follow.sh has no %q", want)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mount := func(c corev1.Container, volume string) corev1.VolumeMount {
		for _, vm := range c.VolumeMounts {
			if vm.Name == volume {
				if _, ok := volumes[volume]; !ok {
					t.Errorf("%s mounts %s, which is not a volume", c.Name, volume)
				}
				return vm
			}
		}
		t.Fatalf("%s does not mount %s", c.Name, volume)
		return corev1.VolumeMount{}
	}
	if s := mount(follow, "follow"); volumes["follow"].ConfigMap == nil || volumes["follow"].ConfigMap.Name != "sqlitefilter-follow" || s.MountPath != "/scripts" {
		t.Errorf("follow.sh is not mounted at /scripts from ConfigMap sqlitefilter-follow")
	}
	if vm := mount(follow, "data"); vm.ReadOnly || vm.MountPath != filepath.Dir(dbPath) {
		t.Errorf("db-follow mounts the data volume at %s (read-only %v), want it writable at %s", vm.MountPath, vm.ReadOnly, filepath.Dir(dbPath))
	}
	if vm := mount(container(t, spec.Containers, "coredns"), "data"); !vm.ReadOnly || vm.MountPath != filepath.Dir(dbPath) {
		t.Errorf("coredns mounts the data volume at %s (read-only %v), want read-only at %s", vm.MountPath, vm.ReadOnly, filepath.Dir(dbPath))
	}
	if d := volumes["data"]; d.EmptyDir == nil || d.EmptyDir.SizeLimit == nil {
		t.Error("the data volume is not a size-limited emptyDir")
	}
	corefile := get[*corev1.ConfigMap](t, m, "ConfigMap/coredns").Data["Corefile"]
	if !regexp.MustCompile(`(?m)^\s*sqlitefilter ` + regexp.QuoteMeta(dbPath) + `\s*$`).MatchString(corefile) {
		t.Errorf("the Corefile does not read %s", dbPath)
	}

	// The writer's litestream.yml replicates its volume's database to
	// REPLICA_URL.
	writer := get[*appsv1.StatefulSet](t, m, "StatefulSet/sqlitefilter-writer")
	wcfg := get[*corev1.ConfigMap](t, m, "ConfigMap/sqlitefilter-writer").Data
	var ls struct {
		DBs []struct {
			Path                 string `json:"path"`
			RestoreIfDBNotExists bool   `json:"restore-if-db-not-exists"`
			Replica              struct {
				URL          string `json:"url"`
				SyncInterval string `json:"sync-interval"`
			} `json:"replica"`
		} `json:"dbs"`
	}
	if err := yaml.UnmarshalStrict([]byte(wcfg["litestream.yml"]), &ls); err != nil || len(ls.DBs) != 1 {
		t.Fatalf("litestream.yml: %v (%d databases, want 1)", err, len(ls.DBs))
	}
	db := ls.DBs[0]
	if db.Replica.URL != url {
		t.Errorf("the writer replicates to %s, the replicas follow %s", db.Replica.URL, url)
	}
	if !db.RestoreIfDBNotExists {
		t.Error("a writer on a new volume would start from an empty database, not from the store")
	}
	ws := writer.Spec.Template.Spec
	lc := container(t, ws.Containers, "litestream")
	if !slices.Equal(lc.Args, []string{"replicate", "-config", "/etc/litestream/litestream.yml"}) {
		t.Errorf("litestream args %v", lc.Args)
	}
	claims := map[string]bool{}
	for _, c := range writer.Spec.VolumeClaimTemplates {
		claims[c.Name] = true
	}
	for _, c := range ws.Containers {
		for _, vm := range c.VolumeMounts {
			if vm.Name == "data" && vm.MountPath != filepath.Dir(db.Path) {
				t.Errorf("%s mounts the writer's volume at %s, litestream.yml has the database in %s", c.Name, vm.MountPath, filepath.Dir(db.Path))
			}
			if vm.Name == "data" && !claims["data"] {
				t.Errorf("%s mounts data, which is no volume claim", c.Name)
			}
		}
	}
	if hb := wcfg["heartbeat.sh"]; !strings.Contains(hb, db.Path) {
		t.Errorf("heartbeat.sh does not commit to %s", db.Path)
	}
}
