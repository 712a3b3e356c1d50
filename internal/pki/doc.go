// Package pki is xrdtest's private public-key infrastructure: the master's
// certificate authority, daemon enrollment, and the TLS configurations of
// both ends.
//
// The master creates a CA in its state directory on first start
// (LoadOrCreateCA) and prints its fingerprint; the CA is never regenerated,
// since every daemon pins it. A daemon (slave, hypervisor) is given that
// fingerprint, or a copy of ca.pem, plus an enrollment token, and enrolls
// once:
//
//	daemon                                            master
//	------                                            ------
//	NewKey, CSR(key, {slave, srv1.xrd.test})
//	TLS dial, no client cert, Pin.EnrollTLS  ------>  CA.ServerTLS
//	  check: chain CA fingerprint == pin     <------  master cert + CA cert
//	         leaf is RoleMaster, from that CA
//	Enroll(role, name, token, CSR)           ------>  TokenEqual(token, expected)
//	                                                  CA.Issue(CSR, {slave, srv1.xrd.test})
//	                                         <------  cert.pem, ca.pem
//	SaveCredentials(dir, key, cert, ca)
//
//	later, on every start:
//	LoadCredentials(dir), TLS dial with
//	Credentials.ClientTLS (mutual TLS)       ------>  client cert verified against the CA
//	                                                  PeerIdentity -> {slave, srv1.xrd.test}
//
// The master's listener accepts both kinds of connection: a client
// certificate is optional at the TLS layer but verified when given. The
// gRPC layer allows only Enroll without one, and authorizes everything else
// by the Identity (role and name) in the verified certificate, encoded as
// the URI SAN "xrdtest://<role>/<name>".
//
// Daemons do not check the master's host name: the CA is private and only
// the master holds a RoleMaster certificate, so a master certificate from
// the pinned CA identifies it whatever address was dialled.
//
// State directory files: the master keeps ca.pem, ca-key.pem, master.pem
// and master-key.pem; a daemon keeps key.pem, cert.pem and ca.pem. Keys are
// 0600, directories 0700, and every file is replaced atomically.
package pki
