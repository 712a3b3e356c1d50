package protocol

import (
	"errors"
	"io"
	"slices"
	"testing"
)

func TestReceive(t *testing.T) {
	in := []int{1, 2, 3}
	recv := func() (int, error) {
		if len(in) == 0 {
			return 0, io.EOF
		}
		m := in[0]
		in = in[1:]
		return m, nil
	}
	var got []int
	if err := Receive(recv, func(m int) { got = append(got, m) }); !errors.Is(err, io.EOF) {
		t.Errorf("Receive returned %v, want the receiver's error", err)
	}
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("handled %v", got)
	}
}
