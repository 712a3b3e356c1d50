package master

import (
	"context"
	"path/filepath"

	"github.com/xrdtest/xrdtest/internal/store"
)

// openHistory opens the master's history: the PostgreSQL database
// opts.Database, or SQLite when it is empty. The outputs and collected logs
// are files in StateDir/history either way.
func openHistory(ctx context.Context, opts Options) (store.Store, error) {
	dir := filepath.Join(opts.StateDir, "history")
	if opts.Database == "" {
		return store.OpenSQLite(ctx, dir)
	}
	p, err := store.OpenPostgres(ctx, opts.Database, dir)
	if err != nil {
		return nil, err
	}
	opts.Log.Info("history in PostgreSQL", "database", p.Where(), "files", dir)
	return p, nil
}
