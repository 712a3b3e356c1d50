package config

import (
	"strings"
	"testing"

	"github.com/xrdtest/xrdtest/internal/config/ini"
)

func TestMasterFromCRLFFile(t *testing.T) {
	m := DefaultMaster()
	if _, err := m.Load("ini/testdata/crlf.conf"); err != nil {
		t.Fatalf("Master.Load: %v", err)
	}
	if m.Server.Port != 20000 || m.Webserver.Protocol != "https" {
		t.Errorf("master from a CRLF file: %+v %+v", m.Server, m.Webserver)
	}
}

// FuzzMerge: the configurations take any INI file without panicking.
func FuzzMerge(f *testing.F) {
	f.Add("[general]\ntest-repos = a,b\n[test-repo-a]\ntype = git\n[server]\nport = 1\n[DEFAULT]\nlocal_path = x\n")
	f.Add("[server]\nport = x\n[daemon]\nlog_level = LOUD\n[test_master]\nip =\n")
	f.Fuzz(func(t *testing.T, text string) {
		file, err := ini.Parse("f.conf", strings.NewReader(text))
		if err != nil {
			return
		}
		m := DefaultMaster()
		_, _ = m.Merge(file)
		_ = m.Validate()
		_ = m.Settings()
		h := DefaultHypervisor()
		_, _ = h.Merge(file)
		_ = h.Validate()
		s := DefaultSlave()
		_, _ = s.Merge(file)
		_ = s.Validate()
	})
}
