// Package ini reads INI files with the rules of Python 2's ConfigParser,
// which the original XrdTest framework used for its configurations:
// [sections], "key = value" or "key: value", '#' and ';' comment lines,
// ';' inline comments after whitespace, indented continuation lines,
// case-insensitive keys, a [DEFAULT] section inherited by every section,
// and "%(key)s" interpolation. See Parse and File.Interpolate for the
// exact rules, quirks included.
//
// It also owns how a problem is located and reported, for the files and
// for the configurations package config builds from them: a Source (file
// and line, or an origin such as a flag), an *Error at a source, section
// and key, Errors in file order (Join), and Warnings. Messages never quote
// values: they may be passwords.
package ini
