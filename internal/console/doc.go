// Package console is what the command line shows people: a session as a
// matrix of its stages by its slaves (Summary), and the text of scripts
// and other daemons made safe for a terminal, which their escape
// sequences could otherwise drive (Safe).
package console
