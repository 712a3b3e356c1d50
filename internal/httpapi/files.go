package httpapi

import (
	"errors"
	"net/http"
	"strconv"
)

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
