// memberlist-node: one member of a HashiCorp memberlist cluster (Debian's
// golang-github-hashicorp-memberlist-dev, default LAN configuration) on
// loopback, the peer of swarmd in the membership comparison of `make bench`
// (tools/bench-membership).  It counts the bytes its transport sends and
// receives (UDP packets and TCP push-pull streams, payload only, as swarmd
// counts its UDP payloads) and rewrites a status file in the same text form
// as swarmd's (id, uptime_ms, tx_bytes, rx_bytes, members, one
// `member NAME alive|suspect -` line per other live member) every 250 ms.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// counters are the payload bytes the transport moved, both directions.
type counters struct {
	tx, rx uint64
}

// countingConn counts what a TCP stream (push-pull, fallback probes) carries.
type countingConn struct {
	net.Conn
	c *counters
}

func (k countingConn) Read(b []byte) (int, error) {
	n, err := k.Conn.Read(b)
	atomic.AddUint64(&k.c.rx, uint64(n))
	return n, err
}

func (k countingConn) Write(b []byte) (int, error) {
	n, err := k.Conn.Write(b)
	atomic.AddUint64(&k.c.tx, uint64(n))
	return n, err
}

// countingTransport wraps memberlist's own UDP/TCP transport and counts.
type countingTransport struct {
	inner   memberlist.Transport
	c       *counters
	packets chan *memberlist.Packet
	streams chan net.Conn
}

func newCountingTransport(inner memberlist.Transport, c *counters) *countingTransport {
	t := &countingTransport{inner: inner, c: c,
		packets: make(chan *memberlist.Packet), streams: make(chan net.Conn)}
	go func() {
		for p := range inner.PacketCh() {
			atomic.AddUint64(&c.rx, uint64(len(p.Buf)))
			t.packets <- p
		}
	}()
	go func() {
		for s := range inner.StreamCh() {
			t.streams <- countingConn{s, c}
		}
	}()
	return t
}

func (t *countingTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return t.inner.FinalAdvertiseAddr(ip, port)
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	when, err := t.inner.WriteTo(b, addr)
	if err == nil {
		atomic.AddUint64(&t.c.tx, uint64(len(b)))
	}
	return when, err
}

func (t *countingTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }
func (t *countingTransport) StreamCh() <-chan net.Conn           { return t.streams }
func (t *countingTransport) Shutdown() error                     { return t.inner.Shutdown() }

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	conn, err := t.inner.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return countingConn{conn, t.c}, nil
}

// writeStatus replaces dir/status with the member's view, by rename.
func writeStatus(dir, name string, start time.Time, c *counters, m *memberlist.Memberlist) error {
	var b strings.Builder
	var lines []string
	for _, n := range m.Members() {
		if n.Name == name {
			continue
		}
		st := "alive"
		if n.State == memberlist.StateSuspect {
			st = "suspect"
		}
		lines = append(lines, fmt.Sprintf("member %s %s -\n", n.Name, st))
	}
	sort.Strings(lines)
	fmt.Fprintf(&b, "id %s\nname %s\nuptime_ms %d\ntx_bytes %d\nrx_bytes %d\nmembers %d\n",
		name, name, time.Since(start).Milliseconds(), atomic.LoadUint64(&c.tx),
		atomic.LoadUint64(&c.rx), len(lines))
	b.WriteString(strings.Join(lines, ""))
	tmp := filepath.Join(dir, "status.tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "status"))
}

func main() {
	name := flag.String("name", "", "member name (unique)")
	bind := flag.String("bind", "127.0.0.1", "loopback address to bind")
	port := flag.Int("port", 0, "UDP and TCP port")
	join := flag.String("join", "", "IP:PORT of a member to join (retried until it answers)")
	state := flag.String("state", "", "folder for the status file")
	duration := flag.Duration("duration", 10*time.Minute, "run this long, then leave")
	flag.Parse()
	if *name == "" || *state == "" || *port == 0 || !net.ParseIP(*bind).IsLoopback() {
		fmt.Fprintln(os.Stderr, "usage: memberlist-node -name N -port P -state DIR [-bind 127.x.y.z] [-join IP:PORT]")
		os.Exit(2)
	}
	start := time.Now()
	quiet := log.New(io.Discard, "", 0)
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{*bind}, BindPort: *port, Logger: quiet})
	if err != nil {
		log.Fatalf("memberlist-node: transport: %v", err)
	}
	c := &counters{}
	conf := memberlist.DefaultLANConfig()
	conf.Name, conf.BindAddr, conf.BindPort = *name, *bind, *port
	conf.AdvertiseAddr, conf.AdvertisePort = *bind, *port
	conf.Transport = newCountingTransport(nt, c)
	conf.Logger = quiet
	m, err := memberlist.Create(conf)
	if err != nil {
		log.Fatalf("memberlist-node: %v", err)
	}
	joined := *join == ""
	for end := start.Add(*duration); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if !joined {
			_, err := m.Join([]string{*join})
			joined = err == nil
		}
		if err := writeStatus(*state, *name, start, c, m); err != nil {
			log.Fatalf("memberlist-node: status: %v", err)
		}
	}
	m.Leave(time.Second)
	m.Shutdown()
}
