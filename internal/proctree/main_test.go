package proctree

import (
	"fmt"
	"os"
	"testing"
)

// TestMain makes the test binary a child subreaper, as the slave daemon
// is: orphans of its children are reparented to it and must be reaped by
// the code under test.
func TestMain(m *testing.M) {
	if err := BecomeSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
