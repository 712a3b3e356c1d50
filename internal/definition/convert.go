package definition

import (
	"fmt"
	"strconv"

	"go.starlark.net/starlark"

	"github.com/xrdtest/xrdtest/internal/definition/pyeval"
)

// conv converts evaluated objects into the model, reporting every problem
// and counting errors so the caller knows whether the result is usable.
type conv struct {
	rep  reporter
	errs int
}

func (c *conv) errorf(line int, format string, args ...any) {
	c.errs++
	c.rep.Errorf(line, format, args...)
}

func (c *conv) warnf(line int, format string, args ...any) {
	c.rep.Warnf(line, format, args...)
}

// label names an object in messages: `host "a.xrd.test"`, `cluster.defaultHost`...
func label(o *pyeval.Object) string {
	if n := o.GetString("name"); n != "" {
		return fmt.Sprintf("%s %q", o.Class().Name(), n)
	}
	return o.Class().Name()
}

func (c *conv) typeError(o *pyeval.Object, attr, want string, v starlark.Value) {
	c.errorf(o.LineOf(attr), "%s: %s must be %s, got %s %s", label(o), attr, want, v.Type(), pyeval.Describe(v))
}

// str returns a string attribute; unset and None are "".
func (c *conv) str(o *pyeval.Object, attr string) string {
	switch v := o.Get(attr).(type) {
	case nil, starlark.NoneType:
		return ""
	case starlark.String:
		return string(v)
	default:
		c.typeError(o, attr, "a string", v)
		return ""
	}
}

// boolean accepts True/False and, as Python code often uses, 0/1.
func (c *conv) boolean(o *pyeval.Object, attr string, def bool) bool {
	switch v := o.Get(attr).(type) {
	case nil, starlark.NoneType:
		return def
	case starlark.Bool:
		return bool(v)
	case starlark.Int:
		if i, ok := v.Int64(); ok && (i == 0 || i == 1) {
			return i == 1
		}
		c.typeError(o, attr, "True or False", v)
	default:
		c.typeError(o, attr, "True or False", v)
	}
	return def
}

// list returns the elements of a list or tuple attribute; unset and None
// are empty.
func (c *conv) list(o *pyeval.Object, attr string) []starlark.Value {
	v := o.Get(attr)
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return nil
	case *starlark.List:
		out := make([]starlark.Value, v.Len())
		for i := range out {
			out[i] = v.Index(i)
		}
		return out
	case starlark.Tuple:
		return v
	case *starlark.Dict:
		if v.Len() == 0 { // the original's Host.disks default was {}
			return nil
		}
	}
	c.typeError(o, attr, "a list", v)
	return nil
}

// strList returns a list of strings.
func (c *conv) strList(o *pyeval.Object, attr string) []string {
	out := []string{}
	for i, v := range c.list(o, attr) {
		s, ok := v.(starlark.String)
		if !ok {
			c.errorf(o.LineOf(attr), "%s: %s[%d] must be a string, got %s %s", label(o), attr, i, v.Type(), pyeval.Describe(v))
			continue
		}
		out = append(out, string(s))
	}
	return out
}

// uintValue accepts a digit string or a non-negative int, as the original
// did for ramSize. present is false when the attribute is unset, None or
// ”; a value of the wrong kind is reported and counts as present.
func (c *conv) uintValue(o *pyeval.Object, attr string) (n uint64, present bool) {
	switch v := o.Get(attr).(type) {
	case nil, starlark.NoneType:
		return 0, false
	case starlark.String:
		if v == "" {
			return 0, false
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			c.typeError(o, attr, "a digit string or an int", v)
		}
		return n, true
	case starlark.Int:
		n, ok := v.Uint64()
		if !ok {
			c.typeError(o, attr, "a non-negative int", v)
		}
		return n, true
	default:
		c.typeError(o, attr, "a digit string or an int", v)
		return 0, true
	}
}
