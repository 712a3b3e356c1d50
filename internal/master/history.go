package master

import (
	"context"
	"path/filepath"

	"github.com/xrdtest/xrdtest/internal/store"
	"github.com/xrdtest/xrdtest/internal/store/postgres"
	"github.com/xrdtest/xrdtest/internal/store/sqlite"
)

// openStore opens the master's history: the PostgreSQL database
// opts.Database, or SQLite when it is empty. The outputs and collected logs
// are files in StateDir/history either way.
func openStore(ctx context.Context, opts Options) (store.Store, error) {
	dir := filepath.Join(opts.StateDir, "history")
	if opts.Database == "" {
		return sqlite.Open(ctx, dir)
	}
	p, err := postgres.Open(ctx, opts.Database, dir)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("history in PostgreSQL", "database", p.Where(), "files", dir)
	return p, nil
}
