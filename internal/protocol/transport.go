package protocol

import "google.golang.org/grpc"

// WindowSize is the HTTP/2 flow-control window of every Connect stream
// and of its connection, on both ends.
//
// Setting it turns off gRPC's dynamic window (BDP estimation), which
// otherwise follows nearly every received message with a window update
// and a BDP ping, and the peer answers each ping: with the master's small
// messages going back and forth, that doubled the writes and reads of
// both ends (bench/: 40% of the CPU per stage result). 1 MiB keeps a
// stage's output streaming at disk speed on a LAN (window / round trip:
// ~5 GB/s at 0.2 ms) and bounds what one stream may buffer in the master.
const WindowSize = 1 << 20

// ServerOptions are the transport settings of the master's gRPC server.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.InitialWindowSize(WindowSize), grpc.InitialConnWindowSize(WindowSize)}
}

// DialOptions are the transport settings of the daemons' connections.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithInitialWindowSize(WindowSize), grpc.WithInitialConnWindowSize(WindowSize)}
}

// Receive hands each message recv returns to handle, in order, until recv
// fails, and returns that error: the receiving half of a Connect stream,
// on either end.
func Receive[M any](recv func() (M, error), handle func(M)) error {
	for {
		m, err := recv()
		if err != nil {
			return err
		}
		handle(m)
	}
}
