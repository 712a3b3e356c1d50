package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/xrdtest/xrdtest/internal/store"
)

// DefaultStatsDays is how many days the dashboard's statistics cover.
const DefaultStatsDays = 14

// OpenLogFile opens the log file path collected from slave in session id;
// a bad name wraps ErrBadQuery, a missing file store.ErrNotFound, saying
// why it may be missing.
func OpenLogFile(st store.Store, id int64, slave, path string) (io.ReadSeekCloser, error) {
	if slave == "" || path == "" || len(slave) > 255 || len(path) > 4096 {
		return nil, fmt.Errorf("%w: give slave=NAME and path=PATH", ErrBadQuery)
	}
	f, err := st.OpenLog(id, slave, path)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: log %s of %s in session %d: never collected, or deleted by the retention limits ([retention] outputs_max_age)",
			store.ErrNotFound, path, slave, id)
	}
	return f, err
}

// StageSlave reads the stage=INDEX and slave=NAME parameters.
func StageSlave(r *http.Request) (int, string, error) {
	q := r.URL.Query()
	stage, err := strconv.Atoi(q.Get("stage"))
	slave := q.Get("slave")
	if err != nil || stage < 0 || stage > 1_000_000 || slave == "" || len(slave) > 255 {
		return 0, "", errors.New("give stage=INDEX and slave=NAME")
	}
	return stage, slave, nil
}
