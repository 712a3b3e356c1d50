package config

import (
	"strings"
	"testing"
)

func TestPublicPages(t *testing.T) {
	m := DefaultMaster()
	if !m.Webserver.PublicPages {
		t.Error("public_pages defaults to 0, want 1")
	}
	if err := m.Set("webserver.public_pages", "0", "test"); err != nil || m.Webserver.PublicPages {
		t.Errorf("public_pages = 0: %v, PublicPages %v", err, m.Webserver.PublicPages)
	}
	err := m.Set("webserver.public_pages", "maybe", "XRDTEST_WEBSERVER_PUBLIC_PAGES")
	if err == nil || !strings.Contains(err.Error(), "public_pages") || !strings.Contains(err.Error(), "maybe") {
		t.Errorf("public_pages = maybe: %v, want an error naming the key and value", err)
	}
}
