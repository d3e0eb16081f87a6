package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/sqlitefilter/sqlitefilter/internal/testkit"
	"github.com/sqlitefilter/sqlitefilter/schema"
)

// clusterCorefile returns the Corefile of the coredns ConfigMap in
// build/kubernetes/configmap.yaml.
func clusterCorefile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../build/kubernetes/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(string(data), -1) {
		var cm corev1.ConfigMap
		if err := yaml.Unmarshal([]byte(doc), &cm); err != nil {
			t.Fatal(err)
		}
		if cm.Kind == "ConfigMap" && cm.Name == "coredns" {
			return cm.Data["Corefile"]
		}
	}
	t.Fatal("no ConfigMap coredns in configmap.yaml")
	return ""
}

// fakeAPIServer answers the kubernetes plugin's list and watch requests with
// one namespace and one Service, default/kubernetes at 10.96.0.1, so the
// plugin syncs without a cluster. A streaming list (watch with
// sendInitialEvents) gets the items and the end-of-initial-events bookmark;
// then every watch stays open with no events.
func fakeAPIServer(t *testing.T) string {
	t.Helper()
	type resource struct {
		apiVersion, kind string
		items            []string // JSON objects, without apiVersion and kind
	}
	resources := map[string]resource{
		"/api/v1/namespaces": {"v1", "Namespace", []string{`"metadata":{"name":"default","resourceVersion":"1"}`}},
		"/api/v1/services": {"v1", "Service", []string{`"metadata":{"name":"kubernetes","namespace":"default","resourceVersion":"1"},` +
			`"spec":{"type":"ClusterIP","clusterIP":"10.96.0.1","clusterIPs":["10.96.0.1"],"ports":[{"name":"https","port":443,"protocol":"TCP"}]}`}},
		"/api/v1/pods":      {"v1", "Pod", nil},
		"/api/v1/endpoints": {"v1", "Endpoints", nil},
		"/apis/discovery.k8s.io/v1/endpointslices": {"discovery.k8s.io/v1", "EndpointSlice", nil},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, ok := resources[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		typ := fmt.Sprintf(`"apiVersion":%q,"kind":%q`, res.apiVersion, res.kind)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("watch") != "true" {
			var items []string
			for _, it := range res.items {
				items = append(items, "{"+typ+","+it+"}")
			}
			fmt.Fprintf(w, `{"apiVersion":%q,"kind":"%sList","metadata":{"resourceVersion":"1"},"items":[%s]}`, res.apiVersion, res.kind, strings.Join(items, ","))
			return
		}
		if r.URL.Query().Get("sendInitialEvents") == "true" {
			for _, it := range res.items {
				fmt.Fprintf(w, `{"type":"ADDED","object":{%s,%s}}`+"\n", typ, it)
			}
			fmt.Fprintf(w, `{"type":"BOOKMARK","object":{%s,"metadata":{"resourceVersion":"1","annotations":{"k8s.io/initial-events-end":"true"}}}}`+"\n", typ)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv.URL
}

// TestClusterCorefileServes runs the custom binary with the ConfigMap's
// Corefile, moved to loopback ports and pointed at a fake API server, a test
// database and a fake upstream: every plugin in it must parse and start, the
// filter must block and forward, and the kubernetes plugin must answer for
// cluster.local.
func TestClusterCorefileServes(t *testing.T) {
	up := testkit.StartUpstream(t, upstreamRecipe)
	db := testkit.NewDB(t, schema.PerType, "wal", testkit.BlockWildcard("doubleclick.net")...)
	conf, health, ready := onLoopback(t, clusterCorefile(t), db, up,
		"kubernetes cluster.local in-addr.arpa ip6.arpa {", "kubernetes cluster.local in-addr.arpa ip6.arpa {\n        endpoint "+fakeAPIServer(t),
	)
	srv := startServer(t, conf)
	checkBlockedAndForwarded(t, srv.Addr, up)
	checkHTTP200(t, health)
	checkHTTP200(t, ready)

	r := query(t, srv.Addr, "udp", "kubernetes.default.svc.cluster.local.", dns.TypeA, false)
	if len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "\t10.96.0.1") {
		t.Errorf("kubernetes.default.svc.cluster.local: %s %v, want 10.96.0.1 from the kubernetes plugin", dns.RcodeToString[r.Rcode], r.Answer)
	}
	if up.Asked("kubernetes.default.svc.cluster.local.") {
		t.Error("a cluster.local name was forwarded")
	}
	if strings.Contains(srv.Output(), "unsynced") {
		t.Errorf("the kubernetes plugin did not sync with the fake API server:\n%s", srv.Output())
	}
}
