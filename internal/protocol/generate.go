// Package protocol holds the gRPC protocol between the master and its
// daemons: xrdtest.proto and the code generated from it. Conversions to
// domain types happen at the edges, in the master and the daemons.
package protocol

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative xrdtest.proto
