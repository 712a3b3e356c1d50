package protocol

// Bounds of the shells carried over a slave's stream, which its stages
// share: no shell message is larger than ShellChunk, and neither side has
// more than ShellWindow bytes of a shell's data unacknowledged, so a
// shell whose client or process stalls holds little and blocks nothing.
const (
	ShellChunk  = 32 << 10
	ShellWindow = 256 << 10
	// MaxShells bounds the shells open on one slave.
	MaxShells = 8
)
