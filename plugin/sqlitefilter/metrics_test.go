package sqlitefilter

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
)

// TestMetricsPassLint runs the linter CoreDNS runs over its own metrics
// (test/metric_naming_test.go) over every metric declared in this package's
// source, so a metric added later is linted without touching this test.
func TestMetricsPassLint(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var families []*dto.MetricFamily
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if mf := declaredMetric(t, n); mf != nil {
				families = append(families, mf)
			}
			return true
		})
	}
	if len(families) < 8 {
		t.Fatalf("found %d metric declarations, want at least the 8 of metrics.go", len(families))
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// declaredMetric turns a promauto.NewXxx(prometheus.XxxOpts{...}) call into
// the metric family it declares, or returns nil for any other node.
func declaredMetric(t *testing.T, n ast.Node) *dto.MetricFamily {
	call, ok := n.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return nil
	}
	fn, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return nil
	}
	if pkg, ok := fn.X.(*ast.Ident); !ok || pkg.Name != "promauto" {
		return nil
	}
	kinds := map[string]dto.MetricType{
		"Counter": dto.MetricType_COUNTER, "Gauge": dto.MetricType_GAUGE,
		"Histogram": dto.MetricType_HISTOGRAM, "Summary": dto.MetricType_SUMMARY,
	}
	kind, ok := kinds[strings.TrimSuffix(strings.TrimPrefix(fn.Sel.Name, "New"), "Vec")]
	if !ok {
		return nil
	}
	lit, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		t.Fatalf("%s: options are not a literal", fn.Sel.Name)
	}
	fields := map[string]string{"Namespace": plugin.Namespace}
	for _, e := range lit.Elts {
		kv := e.(*ast.KeyValueExpr)
		if s, ok := kv.Value.(*ast.BasicLit); ok && s.Kind == token.STRING {
			v, err := strconv.Unquote(s.Value)
			if err != nil {
				t.Fatal(err)
			}
			fields[kv.Key.(*ast.Ident).Name] = v
		}
	}
	if fields["Subsystem"] != pluginName {
		t.Errorf("metric %q: subsystem %q, want %q", fields["Name"], fields["Subsystem"], pluginName)
	}
	name := fields["Namespace"] + "_" + fields["Subsystem"] + "_" + fields["Name"]
	help := fields["Help"]
	return &dto.MetricFamily{Name: &name, Help: &help, Type: &kind}
}
