package kubernetes_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The sync CronJob runs `sqlitefilter sync` on the writer's database: the
// path litestream.yml replicates, on the writer's own claim, on the writer's
// node (the claim is ReadWriteOnce), never two at once, and locked down like
// every other pod.
func TestSyncCronJobSyncsTheWritersDatabase(t *testing.T) {
	m := loadLitestreamManifests(t)
	cron := get[*batchv1.CronJob](t, m, "CronJob/sqlitefilter-sync")
	writer := get[*appsv1.StatefulSet](t, m, "StatefulSet/sqlitefilter-writer")
	if cron.Namespace != writer.Namespace {
		t.Errorf("CronJob in %q, writer in %q", cron.Namespace, writer.Namespace)
	}
	if f := strings.Fields(cron.Spec.Schedule); len(f) != 5 {
		t.Errorf("schedule %q is not five cron fields", cron.Spec.Schedule)
	}
	if cron.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("concurrency policy %q: two syncs would wait on each other's write lock", cron.Spec.ConcurrencyPolicy)
	}
	spec := cron.Spec.JobTemplate.Spec.Template.Spec
	checkLockedDown(t, spec)
	if spec.RestartPolicy != corev1.RestartPolicyNever && spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restart policy %q, which a Job does not take", spec.RestartPolicy)
	}

	var ls struct {
		DBs []struct {
			Path string `json:"path"`
		} `json:"dbs"`
	}
	wcfg := get[*corev1.ConfigMap](t, m, "ConfigMap/sqlitefilter-writer").Data
	if err := yaml.Unmarshal([]byte(wcfg["litestream.yml"]), &ls); err != nil || len(ls.DBs) != 1 {
		t.Fatalf("litestream.yml: %v", err)
	}
	dbPath := ls.DBs[0].Path
	c := container(t, spec.Containers, "sync")
	args := append(slices.Clone(c.Command), c.Args...)
	if i := slices.Index(args, "sync"); i < 0 || i+1 >= len(args) || args[i+1] != dbPath {
		t.Errorf("the container runs %v, want sync %s", args, dbPath)
	}

	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	mounted := map[string]string{} // mount path → volume
	for _, vm := range c.VolumeMounts {
		if _, ok := volumes[vm.Name]; !ok {
			t.Errorf("sync mounts %s, which is not a volume", vm.Name)
		}
		mounted[vm.MountPath] = vm.Name
	}
	data := volumes[mounted[filepath.Dir(dbPath)]]
	if len(writer.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("writer claims %d volumes, want 1", len(writer.Spec.VolumeClaimTemplates))
	}
	claim := writer.Spec.VolumeClaimTemplates[0].Name + "-" + writer.Name + "-0"
	if data.PersistentVolumeClaim == nil || data.PersistentVolumeClaim.ClaimName != claim {
		t.Errorf("%s is not mounted from the writer's claim %s: %+v", filepath.Dir(dbPath), claim, data)
	}

	// The download goes to TMPDIR, which must be writable on a read-only root.
	tmp := ""
	for _, e := range c.Env {
		if e.Name == "TMPDIR" {
			tmp = e.Value
		}
	}
	if v, ok := volumes[mounted[tmp]]; tmp == "" || !ok || v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil {
		t.Errorf("TMPDIR %q is not a size-limited emptyDir mounted in the container", tmp)
	}

	var onWritersNode bool
	if a := spec.Affinity; a != nil && a.PodAffinity != nil {
		for _, term := range a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
			if term.TopologyKey == "kubernetes.io/hostname" && term.LabelSelector != nil &&
				subset(term.LabelSelector.MatchLabels, writer.Spec.Template.Labels) && len(term.LabelSelector.MatchLabels) > 0 {
				onWritersNode = true
			}
		}
	}
	if !onWritersNode {
		t.Error("the sync pod is not required on the writer's node, where its ReadWriteOnce claim is attached")
	}
}
