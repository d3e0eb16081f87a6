//go:build !linux

package sqlitefilter

// lowerThreadPriority does nothing where a thread's priority cannot be set
// alone.
func lowerThreadPriority() {}
