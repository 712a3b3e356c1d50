// Package config reads the INI configuration files of the three xrdtest
// daemons: master, hypervisor and slave. Files written for the original
// XrdTest framework (XrdTestMaster.conf, XrdTestHypervisor.conf,
// XrdTestSlave.conf) load unchanged.
//
// # Files
//
// Package ini reads the files, with the rules of Python 2's ConfigParser
// that the original used, and owns what names a place in them (Source)
// and what is found there (Error, Errors, Warning); this package's names
// for those are aliases.
//
// # Configurations
//
// Master, Hypervisor and Slave are the typed configurations. Each is built
// in the same order, and records where every value came from (Source):
//
//	c := DefaultMaster()              // built-in defaults     Source "default"
//	warns, err := c.Load(path)        // the INI file          Source "file:line"
//	err = c.Set("server.port", "20001", "flag --port")  // flags, environment
//	err = c.Validate()                // the whole configuration
//
// LoadMaster, LoadHypervisor and LoadSlave do the first, second and last
// step. Keys are addressed as "section.key" (test-repo sections included:
// "test-repo-local.local_path"). Load and Set parse and check each value
// (ports 1-65535; switches 0/1, true/false, yes/no, on/off; durations as
// seconds or Go durations; retention ages with a unit, days and weeks
// included; log levels as Python names); Validate checks
// what involves several keys (each listed repository has a section, a git
// repository has remote_repo, ...). A relative path in a file is resolved
// against the file's directory, one given by Set against the working
// directory. Errors are *Error values naming
// source, section and key ("master.conf:12: [server] port: invalid port
// ..."); unknown sections and keys are Warnings, returned and never
// printed. Settings lists every key with its value and source, for
// `xrdtest config check`.
//
// # Every error at once
//
// A file's errors come all together, as Errors in file order (Join):
// Load refuses each bad value and goes on, Validate then checks the
// rest, skipping the keys whose value was refused (they keep their
// earlier value, and their error was given), and LoadMaster,
// LoadHypervisor and LoadSlave return both lists as one. Two cases stop early, because what follows
// would check only the defaults: a file that cannot be read, and one that
// is not INI (ini.ReadFile: every syntax error is reported, but a key before
// the first [section] stops the parsing, as in Python). Warnings are
// unaffected: they come with the errors.
//
// The keys of each daemon, original and new, are listed in the doc
// comments of Master, Hypervisor and Slave; testdata/*-full.conf are
// complete commented examples, testdata/orig*/ the files the original
// shipped.
//
// # Secrets
//
// Passwords and tokens (connection_passwd, suite_run_pass, api_token)
// have type Secret, which prints, marshals to JSON and text, and logs with
// slog as "[redacted]"; Reveal returns the value. The database URL
// ([general] database) has type DatabaseURL, which shows the URL with its
// password replaced by "xxxxx". Configurations keep no
// raw copy of the file, and error and warning messages never quote values
// that could be secrets, so a configuration can be logged whole.
package config
