package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/xrdtest/xrdtest/internal/config"
	"github.com/xrdtest/xrdtest/internal/config/ini"
)

// runConfigCheck is `xrdtest config check FILE`: validate a master,
// hypervisor or slave configuration and show every key with its value and
// origin, or every error of the file.
func runConfigCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("config check", "usage: xrdtest config check [--kind master|hypervisor|slave] [--json] FILE\n\nValidates a master, hypervisor or slave configuration file and shows every\nkey with its value and origin, or every error of the file.", stdout, stderr)
	kind := fs.String("kind", "", "master, hypervisor or slave (default: from the file name, XrdTest<Kind>.conf, else from its sections)")
	asJSON := fs.Bool("json", false, "print the settings as JSON (or the errors and warnings, as an object)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.usageError()
	}
	file := fs.Arg(0)
	// Say which kind is checked and why: a file checked as the wrong kind
	// passes with its own sections only warned about as unknown. With
	// --json, notes go to stderr: stdout is the settings alone.
	info := stdout
	if *asJSON {
		info = stderr
	}
	why := "--kind"
	if *kind == "" {
		var note string
		var err error
		*kind, why, note, err = guessKind(file)
		if err != nil {
			fmt.Fprintf(stderr, "xrdtest config check: %v\n", err)
			return 2
		}
		if note != "" {
			fmt.Fprintf(info, "note: %s\n", note)
		}
	}
	var cfg daemonConfig
	switch *kind {
	case "master":
		cfg = config.DefaultMaster()
	case "hypervisor":
		cfg = config.DefaultHypervisor()
	case "slave":
		cfg = config.DefaultSlave()
	default:
		fmt.Fprintf(stderr, "xrdtest config check: unknown kind %q\n", *kind)
		return 2
	}
	fmt.Fprintf(info, "checking %s as a %s configuration (%s)\n", file, *kind, why)
	warns, err := checkConfig(cfg, file)
	for _, w := range warns {
		fmt.Fprintf(info, "warning: %s\n", w)
	}
	if err != nil {
		var errs config.Errors
		errors.As(config.Join(err), &errs) // a list even for a single error
		if *asJSON {
			writeConfigErrorsJSON(stdout, warns, errs)
		} else {
			for _, e := range errs {
				fmt.Fprintf(stdout, "error: %v\n", e)
			}
		}
		fmt.Fprintf(info, "%s configuration %s has %s (%s)\n", *kind, file, plural(len(errs), "error"), plural(len(warns), "warning"))
		return 1
	}
	if *asJSON {
		printJSON(stdout, cfg.Settings())
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, s := range cfg.Settings() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, s.Value, s.Source)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%s configuration %s is valid (%d warnings)\n", *kind, file, len(warns))
	return 0
}

// checkConfig merges file into cfg and validates the result: every error,
// in file order, unless the file cannot be read or parsed (then only that).
func checkConfig(cfg daemonConfig, file string) ([]config.Warning, error) {
	f, err := ini.ReadFile(file)
	if err != nil {
		return nil, err
	}
	warns, err := cfg.Merge(f)
	return warns, config.Join(err, cfg.Validate())
}

// writeConfigErrorsJSON prints the findings of a failed check as one
// object, as `xrdtest check --json` does: "warnings" and "errors", each a
// list of {source, section, key, message}.
func writeConfigErrorsJSON(w io.Writer, warns []config.Warning, errs config.Errors) {
	out := struct {
		Warnings []config.Warning `json:"warnings"`
		Errors   config.Errors    `json:"errors"`
	}{Warnings: warns, Errors: errs}
	if out.Warnings == nil {
		out.Warnings = []config.Warning{}
	}
	printJSON(w, out)
}

func kindFromName(file string) string {
	base := strings.ToLower(filepath.Base(file))
	for _, k := range []string{"hypervisor", "slave", "master"} {
		if strings.Contains(base, "xrdtest"+k) {
			return k
		}
	}
	return ""
}

// guessKind tells the kind of a configuration file from its name
// (XrdTest<Kind>.conf), else from its sections; why says which. note,
// when not empty, says that the sections disagree with the name. A file
// whose sections belong to several kinds is an error: guessing would
// check it against the wrong keys.
func guessKind(file string) (kind, why, note string, err error) {
	fromSections, sectionsWhy, ambiguous := "", "", ""
	if f, err := os.Open(file); err == nil {
		ini, perr := ini.Parse(file, f)
		f.Close()
		if perr == nil {
			fromSections, sectionsWhy, ambiguous = kindFromSections(ini.Sections())
		}
	} // unreadable or unparsable: Load reports it
	if k := kindFromName(file); k != "" {
		if fromSections != "" && fromSections != k {
			note = fmt.Sprintf("%s has the sections of a %s configuration (%s); give --kind %s if it is one", file, fromSections, sectionsWhy, fromSections)
		}
		return k, "from the file name " + filepath.Base(file), note, nil
	}
	if ambiguous != "" {
		return "", "", "", fmt.Errorf("%s has sections of several kinds (%s): give --kind master|hypervisor|slave", file, ambiguous)
	}
	if fromSections == "" {
		return "master", "the default: neither the file name nor the sections tell", "", nil
	}
	return fromSections, "from its sections " + sectionsWhy, "", nil
}

// kindFromSections tells the kind of a file by the sections that only one
// kind has; [test_master] alone (with [security], [daemon], [retention],
// which several kinds share) is a slave's. It returns the sections that
// decided, or, when they belong to several kinds, ambiguous naming them.
func kindFromSections(sections []string) (kind, why, ambiguous string) {
	owner := func(s string) string {
		switch {
		case s == "general" || s == "server" || s == "webserver" || s == "scheduler" || s == "smtp" || s == "session" ||
			strings.HasPrefix(s, config.RepoSectionPrefix):
			return "master"
		case s == "virtual_machines" || s == "hypervisor" || s == "libvirt":
			return "hypervisor"
		case s == "slave":
			return "slave"
		}
		return ""
	}
	byKind := map[string][]string{}
	var kinds []string
	for _, s := range sections {
		if k := owner(s); k != "" {
			if byKind[k] == nil {
				kinds = append(kinds, k)
			}
			byKind[k] = append(byKind[k], "["+s+"]")
		}
	}
	hasTestMaster := slices.Contains(sections, "test_master")
	switch {
	case len(kinds) > 1:
		var parts []string
		for _, k := range kinds {
			parts = append(parts, k+": "+strings.Join(byKind[k], ", "))
		}
		return "", "", strings.Join(parts, "; ")
	case len(kinds) == 1:
		found := byKind[kinds[0]]
		if hasTestMaster && kinds[0] != "master" {
			found = append([]string{"[test_master]"}, found...)
		}
		return kinds[0], strings.Join(found, ", "), ""
	case hasTestMaster:
		return "slave", "[test_master] and no [virtual_machines], [hypervisor] or [libvirt]", ""
	}
	return "", "", ""
}

// plural is "1 what" or "n whats".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
