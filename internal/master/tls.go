package master

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"
)

// certHosts are the names the master's own certificate carries besides
// its identity, so that an HTTPS client that trusts the master's CA
// accepts it on the web port: the host name, loopback, the listening
// address when it is a specific one, and the host of base_url.
func certHosts(opts Options) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
	}
	for _, addr := range []string{opts.WebAddr, opts.DaemonAddr} {
		if h, _, err := net.SplitHostPort(addr); err == nil {
			if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
				hosts = append(hosts, ip.String())
			}
		}
	}
	if u, err := url.Parse(opts.BaseURL); err == nil && u.Hostname() != "" {
		hosts = append(hosts, u.Hostname())
	}
	seen := map[string]bool{}
	out := hosts[:0]
	for _, h := range hosts {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// webTLS is the web port's TLS, without client certificates: the
// certificate of [security] certfile and keyfile when given (read again
// when the files change, so a renewal needs no restart), else the
// master's own, issued by its CA.
func webTLS(daemon *tls.Config, certFile, keyFile string) (*tls.Config, error) {
	get := daemon.GetCertificate
	if certFile != "" {
		kp := &keyPair{certFile: certFile, keyFile: keyFile}
		if _, err := kp.get(nil); err != nil {
			return nil, err
		}
		get = kp.get
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: get, NextProtos: []string{"http/1.1"}}, nil
}

// keyPair is a certificate and key from files, loaded again when either
// file's modification time changes.
type keyPair struct {
	certFile, keyFile string

	mu     sync.Mutex
	cert   *tls.Certificate
	mtimes [2]time.Time
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var now [2]time.Time
	for i, f := range []string{k.certFile, k.keyFile} {
		if st, err := os.Stat(f); err == nil {
			now[i] = st.ModTime()
		}
	}
	if k.cert != nil && now == k.mtimes {
		return k.cert, nil
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		if k.cert != nil {
			return k.cert, nil // a renewal half written: keep the last good one
		}
		return nil, fmt.Errorf("web certificate ([security] certfile, keyfile): %w", err)
	}
	k.cert, k.mtimes = &c, now
	return k.cert, nil
}
