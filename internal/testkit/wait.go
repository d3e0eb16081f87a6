package testkit

import (
	"testing"
	"time"
)

// pollInterval is how often Poll tries its condition.
const pollInterval = 10 * time.Millisecond

// Poll tries cond until it holds or timeout has passed, and reports whether
// it held; with a zero or negative timeout it tries once. It is for a caller
// that reports the failure in its own words.
func Poll(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(pollInterval) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// Eventually waits, for at most timeout, until cond holds, and fails the
// test otherwise, naming what it waited for.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}
