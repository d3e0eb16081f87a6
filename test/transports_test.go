package test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/coredns/pb"
	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Clients of the encrypted transports CoreDNS serves: each sends one query
// from a chosen loopback source address (every 127.0.0.0/8 address is local)
// and returns the reply, so a test can tell the client groups apart.

// exchangeTimeout bounds one query over any transport.
const exchangeTimeout = 5 * time.Second

// exchangeFunc sends m from the address from and returns the reply.
type exchangeFunc func(from string, m *dns.Msg) (*dns.Msg, error)

// testCert is a self-signed certificate for 127.0.0.1 and localhost, its
// files for the tls plugin, and a pool that trusts it for the clients.
type testCert struct {
	CertFile, KeyFile string
	Pool              *x509.CertPool
}

// newTestCert writes a fresh ECDSA P-256 key and a certificate for it,
// valid for an hour either side of now, into a temporary directory.
func newTestCert(t *testing.T) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sqlitefilter test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	dir := t.TempDir()
	c := testCert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Pool: x509.NewCertPool()}
	writePEM(t, c.CertFile, "CERTIFICATE", der)
	writePEM(t, c.KeyFile, "PRIVATE KEY", pkcs8)
	c.Pool.AddCert(cert)
	return c
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// clientTLS trusts only the test certificate, so a reply proves the server
// presented it; nextProto is the ALPN protocol the transport requires.
func (c testCert) clientTLS(nextProto ...string) *tls.Config {
	return &tls.Config{RootCAs: c.Pool, NextProtos: nextProto, MinVersion: tls.VersionTLS12}
}

func tcpFrom(from string) *net.Dialer {
	return &net.Dialer{Timeout: exchangeTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
}

// udpExchange is plain DNS over UDP, the baseline the other transports are
// compared with.
func udpExchange(addr string) exchangeFunc {
	return func(from string, m *dns.Msg) (*dns.Msg, error) {
		c := &dns.Client{Net: "udp", Timeout: exchangeTimeout, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
		r, _, err := c.Exchange(m, addr)
		return r, err
	}
}

// dialFunc opens a TCP connection to addr.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dialFrom dials from the loopback address from.
func dialFrom(from string) dialFunc { return tcpFrom(from).DialContext }

// dialProxied dials from the loopback address src, as a load balancer
// would, and starts the connection with a PROXY protocol (v1) header that
// names client as the source.
func dialProxied(src string) func(client string) dialFunc {
	return func(client string) dialFunc {
		return func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := tcpFrom(src).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dst := c.RemoteAddr().(*net.TCPAddr)
			if _, err := fmt.Fprintf(c, "PROXY TCP4 %s %s 40000 %d\r\n", client, dst.IP, dst.Port); err != nil {
				c.Close()
				return nil, fmt.Errorf("write PROXY header: %w", err)
			}
			return c, nil
		}
	}
}

// dotExchange is DNS over TLS (RFC 7858) on a connection dial(from) opens.
func dotExchange(addr string, cert testCert, dial func(from string) dialFunc) exchangeFunc {
	return func(from string, m *dns.Msg) (*dns.Msg, error) {
		ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout)
		defer cancel()
		c, err := dial(from)(ctx, "tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(exchangeTimeout))
		cfg := cert.clientTLS()
		cfg.ServerName = "127.0.0.1"
		co := &dns.Conn{Conn: tls.Client(c, cfg)}
		if err := co.WriteMsg(m); err != nil {
			return nil, fmt.Errorf("write query: %w", err)
		}
		r, err := co.ReadMsg()
		if err != nil {
			return nil, fmt.Errorf("read reply: %w", err)
		}
		return r, nil
	}
}

// dohExchange is DNS over HTTPS (RFC 8484) on HTTP/2, with POST or GET, on
// a connection dial(from) opens.
func dohExchange(addr string, cert testCert, method string, dial func(from string) dialFunc) exchangeFunc {
	return func(from string, m *dns.Msg) (*dns.Msg, error) {
		tr := &http.Transport{TLSClientConfig: cert.clientTLS(), DialContext: dial(from), ForceAttemptHTTP2: true}
		defer tr.CloseIdleConnections()
		return httpExchange(&http.Client{Transport: tr, Timeout: exchangeTimeout}, "https://"+addr, method, m, 2)
	}
}

// doh3Exchange is DNS over HTTPS on HTTP/3, with POST.
func doh3Exchange(addr string, cert testCert) exchangeFunc {
	return func(from string, m *dns.Msg) (*dns.Msg, error) {
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)})
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", from, err)
		}
		defer pc.Close()
		tr := &http3.Transport{
			TLSClientConfig: cert.clientTLS(),
			Dial: func(ctx context.Context, addr string, tlsCfg *tls.Config, cfg *quic.Config) (*quic.Conn, error) {
				ua, err := net.ResolveUDPAddr("udp", addr)
				if err != nil {
					return nil, err
				}
				return quic.DialEarly(ctx, pc, ua, tlsCfg, cfg)
			},
		}
		defer tr.Close()
		return httpExchange(&http.Client{Transport: tr, Timeout: exchangeTimeout}, "https://"+addr, http.MethodPost, m, 3)
	}
}

// httpExchange sends m to base's /dns-query as RFC 8484 says: the message
// ID 0 (so HTTP caches see one request per question), the body for POST,
// the dns parameter (base64url without padding) for GET. It checks the
// HTTP version, the status and the media type of the reply.
func httpExchange(c *http.Client, base, method string, m *dns.Msg, proto int) (*dns.Msg, error) {
	q := m.Copy()
	q.Id = 0
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	var req *http.Request
	switch method {
	case http.MethodPost:
		req, err = http.NewRequest(method, base+"/dns-query", bytes.NewReader(wire))
		if err == nil {
			req.Header.Set("Content-Type", "application/dns-message")
		}
	case http.MethodGet:
		req, err = http.NewRequest(method, base+"/dns-query?dns="+base64.RawURLEncoding.EncodeToString(wire), nil)
	default:
		return nil, fmt.Errorf("method %s: want GET or POST", method)
	}
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Accept", "application/dns-message")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	switch {
	case resp.ProtoMajor != proto:
		return nil, fmt.Errorf("reply over %s, want HTTP/%d", resp.Proto, proto)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("status %s: %s", resp.Status, body)
	case resp.Header.Get("Content-Type") != "application/dns-message":
		return nil, fmt.Errorf("content type %q", resp.Header.Get("Content-Type"))
	}
	r := new(dns.Msg)
	if err := r.Unpack(body); err != nil {
		return nil, fmt.Errorf("unpack reply: %w", err)
	}
	return r, nil
}

// doqExchange is DNS over QUIC (RFC 9250): ALPN "doq", a connection and one
// stream for the query, the message ID 0 and a 2-octet length before the
// message each way, the client's end of the stream closed after the query.
func doqExchange(addr string, cert testCert) exchangeFunc {
	return func(from string, m *dns.Msg) (*dns.Msg, error) {
		ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout)
		defer cancel()
		pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)})
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", from, err)
		}
		defer pc.Close()
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		conn, err := quic.Dial(ctx, pc, ua, cert.clientTLS("doq"), nil)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		defer conn.CloseWithError(0, "")
		q := m.Copy()
		q.Id = 0
		wire, err := q.Pack()
		if err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		st, err := conn.OpenStreamSync(ctx)
		if err != nil {
			return nil, fmt.Errorf("open stream: %w", err)
		}
		st.SetDeadline(time.Now().Add(exchangeTimeout))
		if _, err := st.Write(binary.BigEndian.AppendUint16(nil, uint16(len(wire)))); err != nil {
			return nil, fmt.Errorf("write length: %w", err)
		}
		if _, err := st.Write(wire); err != nil {
			return nil, fmt.Errorf("write query: %w", err)
		}
		if err := st.Close(); err != nil {
			return nil, fmt.Errorf("close stream: %w", err)
		}
		reply, err := io.ReadAll(st)
		if err != nil {
			return nil, fmt.Errorf("read reply: %w", err)
		}
		if len(reply) < 2 || int(binary.BigEndian.Uint16(reply)) != len(reply)-2 {
			return nil, fmt.Errorf("reply of %d octets does not match its length prefix", len(reply))
		}
		r := new(dns.Msg)
		if err := r.Unpack(reply[2:]); err != nil {
			return nil, fmt.Errorf("unpack reply: %w", err)
		}
		if r.Id != 0 {
			return nil, fmt.Errorf("reply ID %d, want 0", r.Id)
		}
		return r, nil
	}
}

// grpcExchange is CoreDNS's DNS over gRPC: the DnsService Query call, the
// message in wire format both ways.
func grpcExchange(addr string, cert testCert) exchangeFunc {
	return func(from string, m *dns.Msg) (*dns.Msg, error) {
		cc, err := grpc.NewClient(addr,
			grpc.WithTransportCredentials(credentials.NewTLS(cert.clientTLS())),
			grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
				return tcpFrom(from).DialContext(ctx, "tcp", a)
			}))
		if err != nil {
			return nil, fmt.Errorf("gRPC client for %s: %w", addr, err)
		}
		defer cc.Close()
		wire, err := m.Pack()
		if err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), exchangeTimeout)
		defer cancel()
		out, err := pb.NewDnsServiceClient(cc).Query(ctx, &pb.DnsPacket{Msg: wire})
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", addr, err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(out.Msg); err != nil {
			return nil, fmt.Errorf("unpack reply: %w", err)
		}
		return r, nil
	}
}
