package runner

import (
	"fmt"
	"os"
	"path/filepath"
)

// FunctionsPath is where the original framework kept the helper library on
// slaves; stage scripts source it from there.
const FunctionsPath = "/etc/XrdTest/utils/functions.sh"

// FunctionsSh is the helper library that stage scripts source: log, run,
// stamp and assert_fail as in the original XrdTest (HEAD and 2012). Unlike
// the original it installs no packages and does not set -e.
const FunctionsSh = `# functions.sh: helpers for xrdtest stage scripts (installed by the slave).
#
#   source /etc/XrdTest/utils/functions.sh
#
# Sourcing merges stderr into stdout. It does not "set -e".
# CMD arguments are joined and evaluated like eval: quote a command with
# pipes, && or redirections as one argument, e.g. run "make && make install".

exec 2>&1

# log ARGS: print ARGS after the date and time: [YYYY-MM-DD HH:MM:SS] ARGS
log() {
    echo "[$(date '+%Y-%m-%d %H:%M:%S')] $*"
}

# run CMD...: run CMD in a subshell, capturing all its output. Silent if CMD
# succeeds; else print "[CMD]: output" and exit the script with status 1.
# Being a subshell, "run cd DIR" does not change the caller's directory.
run() {
    if [ $# -eq 0 ]; then
        echo "run: no command given"
        exit 1
    fi
    local out
    if ! out=$(eval "$@" 2>&1); then
        echo "[$*]: $out"
        exit 1
    fi
}

# stamp CMD...: run CMD, prefixing each line of its output with [HH:MM:SS]
# and a tab. Returns CMD's exit status.
stamp() {
    eval "$@" 2>&1 | while IFS= read -r line || [ -n "$line" ]; do
        printf '[%s]\t%s\n' "$(date '+%H:%M:%S')" "$line"
    done
    return "${PIPESTATUS[0]}"
}

# assert_fail CMD...: succeed if CMD fails; if it succeeds, say so and exit
# the script with status 1. CMD runs in a subshell.
assert_fail() {
    if (eval "$@"); then
        echo "assert_fail: [$*] succeeded, expected a failure"
        exit 1
    fi
    return 0
}
`

// InstallFunctions writes FunctionsSh to path (normally FunctionsPath),
// creating its directory, atomically (a temporary file renamed over path),
// mode 0644.
func InstallFunctions(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("runner: install functions.sh: %w", err)
	}
	f, err := os.CreateTemp(dir, ".functions.sh-*")
	if err != nil {
		return fmt.Errorf("runner: install functions.sh: %w", err)
	}
	tmp := f.Name()
	_, err = f.WriteString(FunctionsSh)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("runner: install functions.sh: %w", err)
	}
	return nil
}
