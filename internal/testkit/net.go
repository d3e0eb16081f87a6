package testkit

import (
	"fmt"
	"net"
	"testing"
)

// ListenUDPAndTCP binds one loopback port for both protocols, as a DNS
// server needs. The TCP port of a fresh UDP port may be taken by another
// test's connection, so it tries again with another port. Closing them is
// the caller's (or its server's) job.
func ListenUDPAndTCP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// FreePort returns a loopback port that was free for both UDP and TCP, for
// a process the test starts (CoreDNS, its metrics, health or pprof
// listener) to bind.
func FreePort(t testing.TB) int {
	t.Helper()
	pc, l := ListenUDPAndTCP(t)
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	l.Close()
	return port
}

// DeadAddr returns a loopback address where nothing listens, UDP nor TCP:
// an upstream that never answers. A port found free on 127.0.0.1 may be
// taken by another test's server a moment later (it would then answer, and
// not as the test expects); every server here binds 127.0.0.1, so the same
// port on another address of 127.0.0.0/8, which Linux routes to loopback
// too, stays dead.
func DeadAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.9.%d:%d", 1+FreePort(t)%250, FreePort(t))
}
