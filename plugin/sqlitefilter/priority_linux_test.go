package sqlitefilter

import (
	"runtime"
	"syscall"
	"testing"
)

// The thread that closes a replaced store runs at retireNice, and only it:
// the process's other threads keep their priority.
func TestLowerThreadPriorityLowersThatThreadOnly(t *testing.T) {
	runtime.LockOSThread() // this thread is the "other" one
	defer runtime.UnlockOSThread()
	// getpriority(2) returns 20 - nice.
	before, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		lowerThreadPriority()
		p, _ := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
		got <- p
	}()
	if p := <-got; 20-p != retireNice {
		t.Errorf("the retiring thread's nice is %d, want %d", 20-p, retireNice)
	}
	if p, _ := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid()); p != before {
		t.Errorf("another thread's priority moved from %d to %d", before, p)
	}
}
