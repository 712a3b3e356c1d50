// Package daemons is the master's side of the daemons' connections: the
// gRPC service (enrollment with the connection token or a one-time token,
// failed attempts throttled per address; the mutual-TLS Connect streams
// with heartbeats), the Registry of the
// connected slaves and hypervisors, which dispatches stages to the slaves
// (session.Slaves), collects their log files and relays shells (Shell),
// and the placement of
// clusters on the connected hypervisors (Hypervisors, a
// hypervisor.Backend).
package daemons
