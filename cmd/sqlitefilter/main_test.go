package main

import (
	"os"
	"testing"
)

// TestMain lets a test run this package's main() in a subprocess (the test
// binary re-executed with SQLITEFILTER_TEST_MAIN=1), to test what only a
// real process shows, such as being killed with SIGKILL half way.
func TestMain(m *testing.M) {
	if os.Getenv("SQLITEFILTER_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
