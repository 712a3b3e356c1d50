package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// newLogger makes the structured logger of a command.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToUpper(level) {
	case "DEBUG", "NOTSET":
		lv = slog.LevelDebug
	case "", "INFO":
		lv = slog.LevelInfo
	case "WARN", "WARNING":
		lv = slog.LevelWarn
	case "ERROR", "CRITICAL":
		lv = slog.LevelError
	default:
		return nil, fmt.Errorf("unknown log level %q (DEBUG, INFO, WARNING, ERROR)", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown log format %q (text or json)", format)
}
