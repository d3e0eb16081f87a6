package sqlitefilter

import "syscall"

// retireNice is the priority of the thread that closes a replaced store:
// under load it gets about a tenth of a busy core (the scheduler's weight of
// nice 10 against nice 0 is 110 to 1024).
const retireNice = 10

// lowerThreadPriority lowers the priority of the calling thread (on Linux,
// setpriority on a thread ID applies to that thread alone). Refused, the
// thread keeps its priority.
func lowerThreadPriority() {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), retireNice)
}
